/* ea-bench-sync --tp N: the sync bubble under tensor parallelism, over NCCL.
 *
 * A TP server runs the same host loop on every rank. Each rank (one GPU, one host thread, stream,
 * cuBLAS handle and NCCL communicator) holds Hq/N query heads, Hkv/N KV heads and its slices of
 * the projections and the MLP (Qwen3-8B: hidden 4096, 32/8 heads of 128, MLP 12288; sync_common.h).
 * One layer, in a rank's stream order:
 *   QKV GEMM -> attention step (the strategy) -> output-projection GEMM -> all-reduce ->
 *   gate/up GEMM -> down GEMM -> all-reduce
 * The all-reduces add the ranks' partial sums, so each waits for the slowest rank: a rank whose
 * host blocks in per-request reads holds up every other rank at the next all-reduce.
 *
 * Before timing, per configuration (prefix, bs):
 *   - the whole layer's attention (all 32 query heads) runs on GPU 0 and is checked bitwise
 *     against the kernel's CPU reference;
 *   - on every rank, every strategy's attention output must equal that single-GPU output's slice
 *     of the rank's heads, bit for bit (head-split invariance, DESIGN.md section 8);
 *   - one layer with the real data flow (each rank's attention output -> its output projection ->
 *     all-reduce -> MLP -> all-reduce) must give every rank the same bits, within a stated
 *     tolerance of the same layer on one GPU with the whole weights (bf16 partial sums are added
 *     in another order, DESIGN.md section 8).
 * Then every strategy takes turns, forward by forward, all ranks together (a barrier starts each
 * forward). Reported per strategy: end-to-end (first rank's start to last rank's end); per rank:
 * host latency of the attention step, time in the two all-reduces per layer and, of it, the time
 * spent waiting for the other ranks (all-reduce time minus the all-reduces' own time, measured
 * alone with every rank ready), and the bubble (attention step on the GPU minus the kernel). */
#define _GNU_SOURCE /* dladdr: which NCCL was loaded */
#include "sync_tp.h"

#include "ea_cases.h"
#include "sync_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef EA_HAVE_NCCL

int tp_bench(const tp_options *o)
{
    (void)o;
    fprintf(stderr, "ea-bench-sync: --tp was not built: this program was built without NCCL (make says why in its "
                    "\"NCCL:\" line; README, \"The CUDA path\")\n");
    return 2;
}

#else

#include <dlfcn.h>
#include <math.h>
#include <nccl.h>
#include <pthread.h>

#define MAX_TP 64
#define MAX_LAYERS 64
/* The layer output after the two all-reduces may differ from one GPU's by the rounding of bf16
 * partial sums (DESIGN.md section 8): normwise relative difference at most this. */
#define LAYER_TOLERANCE 0x1p-6

/* Events of one layer on one rank, in stream order. */
enum { EV_LAYER, EV_ATTN0, EV_ATTN1, EV_AR1_0, EV_AR1_1, EV_AR2_0, EV_AR2_1, EV_COUNT };

/* NCCL is loaded when --tp runs (dlopen), not when the program starts: the one-GPU mode needs no
 * NCCL at all, and the output names the library actually used. First the one make found
 * (EA_NCCL_LIB), then the loader's own search (LD_LIBRARY_PATH, the system's). nccl.h gives the
 * types and the version built against. */
static struct {
    ncclResult_t (*GetVersion)(int *);
    ncclResult_t (*CommInitAll)(ncclComm_t *, int, const int *);
    ncclResult_t (*CommDestroy)(ncclComm_t);
    ncclResult_t (*AllReduce)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
    const char *(*GetErrorString)(ncclResult_t);
    const char *path;
} nccl;

/* 1 when every function was found; 0 with a message. */
static int nccl_load(void)
{
    const char *names[] = {EA_NCCL_LIB, "libnccl.so.2", "libnccl.so"};
    void *h = NULL;
    for (size_t k = 0; k < sizeof names / sizeof *names && !h; k++)
        h = dlopen(names[k], RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        fprintf(stderr, "ea-bench-sync: --tp needs NCCL at run time: neither %s nor libnccl.so.2 loads (%s); "
                        "set LD_LIBRARY_PATH to NCCL's lib folder\n", EA_NCCL_LIB, dlerror());
        return 0;
    }
    *(void **)&nccl.GetVersion = dlsym(h, "ncclGetVersion");
    *(void **)&nccl.CommInitAll = dlsym(h, "ncclCommInitAll");
    *(void **)&nccl.CommDestroy = dlsym(h, "ncclCommDestroy");
    *(void **)&nccl.AllReduce = dlsym(h, "ncclAllReduce");
    *(void **)&nccl.GetErrorString = dlsym(h, "ncclGetErrorString");
    if (!nccl.GetVersion || !nccl.CommInitAll || !nccl.CommDestroy || !nccl.AllReduce || !nccl.GetErrorString) {
        fprintf(stderr, "ea-bench-sync: the NCCL library loaded lacks a function this program calls\n");
        return 0;
    }
    Dl_info info;
    nccl.path = dladdr(*(void **)&nccl.AllReduce, &info) && info.dli_fname ? info.dli_fname : "?";
    return 1;
}

#define NCK(call)                                                                                             \
    do {                                                                                                      \
        ncclResult_t r_ = (call);                                                                             \
        if (r_ != ncclSuccess) {                                                                              \
            fprintf(stderr, "ea-bench-sync: %s:%d: %s: %s\n", __FILE__, __LINE__, #call, nccl.GetErrorString(r_)); \
            die(2);                                                                                           \
        }                                                                                                     \
    } while (0)

typedef struct tp_config tp_config;

/* What one rank owns and measures. */
typedef struct {
    tp_config *cfg;
    int rank;
    ea_cuda_ctx *ctx;
    cudaStream_t stream;
    ncclComm_t comm;
    ea_problem pr; /* the rank's heads of the whole problem */
    ea_host_batch hb;
    ea_dev_batch *db;
    ea_plan plan;
    ea_graph *graph;
    layer_model model;
    cudaEvent_t ev[MAX_LAYERS][EV_COUNT], ref;
    double attn_us, ar_us; /* attention kernel alone; one all-reduce of [T, 4096] bf16 alone */
    uint16_t *y;           /* the checked layer's output, [T, 4096] */
    /* per strategy: host latency, bubble, all-reduce time and its waiting part, per layer of every
     * repeat; start and end of every forward; waits per layer */
    double *lat[S_COUNT], *bub[S_COUNT], *ar[S_COUNT], *arw[S_COUNT], *t0[S_COUNT], *t1[S_COUNT];
    double waits[S_COUNT];
    double floor_t0[1000], floor_t1[1000];
} rank_state;

/* One configuration (tp ranks, one batch) and what the ranks share. */
struct tp_config {
    const tp_options *o;
    int tp, bs, traced;
    const char *pfx;
    const ea_problem *full;
    const void *o_full;     /* the single-GPU attention output, [N, 32, 128] bf16 */
    pthread_barrier_t barrier;
    pthread_mutex_t lock;   /* the trace file */
    FILE *trace;
    int *first_event;
    rank_state rank[MAX_TP];
};

static void wait_all(tp_config *c) { pthread_barrier_wait(&c->barrier); }

static double elapsed_us(cudaEvent_t a, cudaEvent_t b)
{
    float ms;
    CK(cudaEventElapsedTime(&ms, a, b));
    return ms * 1e3;
}

static void all_reduce(rank_state *r, void *buf)
{
    NCK(nccl.AllReduce(buf, buf, (size_t)r->model.tokens * QWEN_HIDDEN, ncclBfloat16, ncclSum, r->comm, r->stream));
}

/* ---- setup ---- */

static void rank_setup(rank_state *r)
{
    tp_config *c = r->cfg;
    CK(cudaSetDevice(r->rank));
    EA(ea_cuda_create(&r->ctx));
    EA(ea_cuda_set_kernel(r->ctx, c->o->kernel));
    r->stream = (cudaStream_t)ea_cuda_stream(r->ctx);
    EA(ea_problem_shard_heads(c->full, r->rank, c->tp, &r->pr));
    EA(ea_host_batch_make(&r->pr, NULL, 0, NULL, &r->hb));
    EA(ea_cuda_batch_upload(r->ctx, &r->hb.batch, &r->pr.params, &r->hb.in, &r->db));
    EA(ea_cuda_reserve(r->ctx, r->db));
    EA(ea_cuda_plan_create(r->ctx, r->db, &r->plan));
    EA(ea_cuda_plan_build(r->ctx, r->db, EA_SYNC_DEVICE, &r->plan));
    EA(ea_cuda_graph_capture(r->ctx, r->db, &r->graph));
    model_init(&r->model, qwen3_8b_shard(c->tp, r->rank), r->hb.num_tokens, r->stream);
    for (int l = 0; l < c->o->layers; l++)
        for (int e = 0; e < EV_COUNT; e++)
            CK(cudaEventCreate(&r->ev[l][e]));
    CK(cudaEventCreate(&r->ref));
    const size_t n = (size_t)c->o->layers * (size_t)c->o->repeats;
    for (int s = 0; s < S_COUNT; s++) {
        r->lat[s] = xmalloc(sizeof(double) * n);
        r->bub[s] = xmalloc(sizeof(double) * n);
        r->ar[s] = xmalloc(sizeof(double) * n);
        r->arw[s] = xmalloc(sizeof(double) * n);
        r->t0[s] = xmalloc(sizeof(double) * (size_t)c->o->repeats);
        r->t1[s] = xmalloc(sizeof(double) * (size_t)c->o->repeats);
    }
    r->y = xmalloc((size_t)r->hb.num_tokens * QWEN_HIDDEN * 2);
}

static void rank_free(rank_state *r)
{
    for (int l = 0; l < r->cfg->o->layers; l++)
        for (int e = 0; e < EV_COUNT; e++)
            cudaEventDestroy(r->ev[l][e]);
    cudaEventDestroy(r->ref);
    for (int s = 0; s < S_COUNT; s++)
        free(r->lat[s]), free(r->bub[s]), free(r->ar[s]), free(r->arw[s]), free(r->t0[s]), free(r->t1[s]);
    free(r->y);
    model_free(&r->model);
    ea_cuda_graph_free(r->graph);
    ea_cuda_plan_free(&r->plan);
    ea_cuda_batch_free(r->db);
    ea_host_batch_free(&r->hb);
    ea_problem_free(&r->pr);
    ea_cuda_destroy(r->ctx);
}

/* ---- checks ---- */

/* Every strategy's attention output on this rank == the single-GPU output of its heads. */
static void check_heads(rank_state *r, uint16_t *got)
{
    const tp_config *c = r->cfg;
    const int64_t N = r->hb.num_tokens, row = (int64_t)r->pr.params.hq * QWEN_D, whole = (int64_t)QWEN_HQ * QWEN_D;
    for (int s = 0; s < S_COUNT; s++) {
        EA(ea_cuda_poison_output(r->ctx, r->db));
        attention_step(r->ctx, r->db, r->graph, &r->plan, s);
        EA(ea_cuda_download_output(r->ctx, r->db, got));
        int64_t differ = 0;
        for (int64_t t = 0; t < N; t++) {
            const ea_diff d = ea_compare_bits(got + t * row, (const uint16_t *)c->o_full + t * whole + r->rank * row,
                                              EA_BF16, row);
            differ += d.differ + d.sentinels;
        }
        if (differ) {
            fprintf(stderr, "ea-bench-sync: tp=%d bs=%d: rank %d, %s: %lld outputs differ from the single-GPU output "
                            "of its heads\n", c->tp, c->bs, r->rank, STRAT[s], (long long)differ);
            die(1);
        }
    }
}

/* One layer with the real data flow from the rank's attention output (got) on; keeps y. */
static void check_layer(rank_state *r, const uint16_t *got)
{
    layer_model *m = &r->model;
    CK(cudaMemcpyAsync(m->attn, got, (size_t)m->tokens * m->sh.attn_out * 2, cudaMemcpyHostToDevice, r->stream));
    gemm_o(m);
    all_reduce(r, m->hid);
    gemm_gu(m);
    gemm_down(m);
    all_reduce(r, m->y);
    CK(cudaMemcpyAsync(r->y, m->y, (size_t)m->tokens * QWEN_HIDDEN * 2, cudaMemcpyDeviceToHost, r->stream));
    CK(cudaStreamSynchronize(r->stream));
}

/* ---- timing ---- */

/* One all-reduce of the layer's activations alone: batches of 20 back to back on every rank, so
 * that the ranks' launch skew (a barrier releases threads some microseconds apart) falls on the
 * first of each batch only; the median over 7 batches of the time per all-reduce. */
static double time_all_reduce(rank_state *r)
{
    enum { BATCH = 20, BATCHES = 7 };
    double v[BATCHES];
    cudaEvent_t a = r->ev[0][EV_AR1_0], b = r->ev[0][EV_AR1_1];
    for (int k = -2; k < BATCHES; k++) {
        CK(cudaStreamSynchronize(r->stream));
        wait_all(r->cfg);
        CK(cudaEventRecord(a, r->stream));
        for (int n = 0; n < BATCH; n++)
            all_reduce(r, r->model.hid);
        CK(cudaEventRecord(b, r->stream));
        CK(cudaEventSynchronize(b));
        if (k >= 0)
            v[k] = elapsed_us(a, b) / BATCH;
    }
    return summarize(v, BATCHES).med;
}

/* One layer into the stream: the row's attention step between the GEMMs, the all-reduces after
 * the output projection and the MLP. Returns the step's host latency (and, for the trace, when it
 * started in *step_at). */
static double layer(rank_state *r, int l, int s, double *step_at)
{
    layer_model *m = &r->model;
    cudaEvent_t *ev = r->ev[l];
    CK(cudaEventRecord(ev[EV_LAYER], r->stream));
    gemm_qkv(m);
    CK(cudaEventRecord(ev[EV_ATTN0], r->stream));
    *step_at = now_us();
    const double lat = attention_step(r->ctx, r->db, r->graph, &r->plan, s);
    CK(cudaEventRecord(ev[EV_ATTN1], r->stream));
    gemm_o(m);
    CK(cudaEventRecord(ev[EV_AR1_0], r->stream));
    all_reduce(r, m->hid);
    CK(cudaEventRecord(ev[EV_AR1_1], r->stream));
    gemm_gu(m);
    gemm_down(m);
    CK(cudaEventRecord(ev[EV_AR2_0], r->stream));
    all_reduce(r, m->y);
    CK(cudaEventRecord(ev[EV_AR2_1], r->stream));
    return lat;
}

/* One forward of row s on this rank, started with the others; repeat rep < 0 is a warm-up. */
static void forward(rank_state *r, int s, int rep)
{
    const int L = r->cfg->o->layers;
    double lat[MAX_LAYERS], at;
    CK(cudaStreamSynchronize(r->stream));
    ea_cuda_reset_waits(r->ctx);
    wait_all(r->cfg);
    const double t0 = now_us();
    if (s == S_PLAN_ONCE)
        EA(ea_cuda_plan_build(r->ctx, r->db, EA_SYNC_DEVICE, &r->plan));
    for (int l = 0; l < L; l++)
        lat[l] = layer(r, l, s, &at);
    CK(cudaStreamSynchronize(r->stream));
    const double t1 = now_us();
    r->waits[s] = (double)ea_cuda_host_waits(r->ctx) / L;
    if (rep < 0)
        return;
    r->t0[s][rep] = t0, r->t1[s][rep] = t1;
    for (int l = 0; l < L; l++) {
        cudaEvent_t *ev = r->ev[l];
        const size_t k = (size_t)rep * L + l;
        r->lat[s][k] = lat[l];
        r->bub[s][k] = elapsed_us(ev[EV_ATTN0], ev[EV_ATTN1]) - r->attn_us;
        r->ar[s][k] = elapsed_us(ev[EV_AR1_0], ev[EV_AR1_1]) + elapsed_us(ev[EV_AR2_0], ev[EV_AR2_1]);
        r->arw[s][k] = r->ar[s][k] - 2 * r->ar_us;
    }
}

/* The floor: the rank's whole forward as one CUDA graph (NCCL's all-reduces captured too). */
static void time_floor(rank_state *r)
{
    const tp_options *o = r->cfg->o;
    cudaGraph_t g;
    cudaGraphExec_t exec;
    CK(cudaStreamBeginCapture(r->stream, cudaStreamCaptureModeThreadLocal));
    for (int l = 0; l < o->layers; l++) {
        gemm_qkv(&r->model);
        EA(ea_cuda_run(r->ctx, r->db, &r->plan));
        gemm_o(&r->model);
        all_reduce(r, r->model.hid);
        gemm_gu(&r->model);
        gemm_down(&r->model);
        all_reduce(r, r->model.y);
    }
    CK(cudaStreamEndCapture(r->stream, &g));
    CK(cudaGraphInstantiate(&exec, g, 0));
    for (int k = -2; k < o->repeats; k++) {
        CK(cudaStreamSynchronize(r->stream));
        wait_all(r->cfg);
        const double t0 = now_us();
        CK(cudaGraphLaunch(exec, r->stream));
        CK(cudaStreamSynchronize(r->stream));
        if (k >= 0)
            r->floor_t0[k] = t0, r->floor_t1[k] = now_us();
    }
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(g);
}

/* Two layers of row s as Chrome trace events: one track per rank for its host calls, its host's
 * blocking reads and its GPU (times from the host's monotonic clock, common to all ranks). */
static void trace_forward(rank_state *r, int s)
{
    enum { MAXW = 4096 };
    tp_config *c = r->cfg;
    int64_t *waits_ns = xmalloc(sizeof(int64_t) * 2 * MAXW);
    double host[2][4];
    CK(cudaStreamSynchronize(r->stream));
    wait_all(c);
    CK(cudaEventRecord(r->ref, r->stream));
    CK(cudaStreamSynchronize(r->stream));
    const double t_ref = now_us(); /* host time of the reference event (a few us late) */
    ea_cuda_trace_waits(r->ctx, waits_ns, MAXW);
    const int L = c->o->layers < 2 ? c->o->layers : 2;
    for (int l = 0; l < L; l++) {
        host[l][0] = now_us();
        host[l][2] = layer(r, l, s, &host[l][1]);
        host[l][3] = now_us();
    }
    CK(cudaStreamSynchronize(r->stream));
    const int nw = ea_cuda_traced_waits(r->ctx);
    ea_cuda_trace_waits(r->ctx, NULL, 0);
    char tid[3][32];
    snprintf(tid[0], sizeof tid[0], "rank %d host", r->rank);
    snprintf(tid[1], sizeof tid[1], "rank %d waits", r->rank);
    snprintf(tid[2], sizeof tid[2], "rank %d GPU", r->rank);
    pthread_mutex_lock(&c->lock);
    FILE *f = c->trace;
#define EV(name, track, t0, t1)                                                                                  \
    fprintf(f, "%s{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":\"%s\",\"tid\":\"%s\",\"ts\":%.3f,\"dur\":%.3f}", \
            *c->first_event ? "" : ",\n", name, STRAT[s], STRAT[s], track, (t0), (t1) - (t0)),                  \
        *c->first_event = 0
    for (int l = 0; l < L; l++) {
        const cudaEvent_t *ev = r->ev[l];
        double g[EV_COUNT];
        for (int e = 0; e < EV_COUNT; e++)
            g[e] = t_ref + elapsed_us(r->ref, ev[e]);
        EV("layer (host)", tid[0], host[l][0], host[l][3]);
        EV("attention step", tid[0], host[l][1], host[l][1] + host[l][2]);
        EV("QKV GEMM", tid[2], g[EV_LAYER], g[EV_ATTN0]);
        /* the attention kernel ends the step; what precedes it is index building or idle time */
        const double k0 = g[EV_ATTN1] - r->attn_us;
        if (k0 > g[EV_ATTN0])
            EV("index build / idle", tid[2], g[EV_ATTN0], k0);
        EV("attention kernel", tid[2], k0 > g[EV_ATTN0] ? k0 : g[EV_ATTN0], g[EV_ATTN1]);
        EV("O GEMM", tid[2], g[EV_ATTN1], g[EV_AR1_0]);
        EV("all-reduce", tid[2], g[EV_AR1_0], g[EV_AR1_1]);
        EV("MLP GEMMs", tid[2], g[EV_AR1_1], g[EV_AR2_0]);
        EV("all-reduce", tid[2], g[EV_AR2_0], g[EV_AR2_1]);
    }
    for (int w = 0; w < nw; w++)
        EV("blocking read (wait)", tid[1], waits_ns[2 * w] * 1e-3, waits_ns[2 * w + 1] * 1e-3);
#undef EV
    pthread_mutex_unlock(&c->lock);
    free(waits_ns);
}

/* A rank's whole configuration: setup, checks, timings, in step with the other ranks. */
static void *rank_main(void *arg)
{
    rank_state *r = arg;
    tp_config *c = r->cfg;
    rank_setup(r);
    uint16_t *got = xmalloc(r->hb.o_bytes + 1);
    wait_all(c);
    check_heads(r, got);
    check_layer(r, got);
    free(got);
    r->attn_us = time_attention(r->ctx, r->db, &r->plan);
    r->ar_us = time_all_reduce(r);
    time_floor(r);
    for (int rep = -2; rep < c->o->repeats; rep++)
        for (int s = 0; s < S_COUNT; s++)
            forward(r, s, rep);
    if (c->traced)
        for (int s = 0; s < S_COUNT; s++)
            trace_forward(r, s);
    CK(cudaStreamSynchronize(r->stream));
    return NULL;
}

/* ---- the single-GPU side: the whole layer on GPU 0 ---- */

/* The whole attention (every head) on GPU 0, checked bitwise against the kernel's CPU reference,
 * and the layer's output from it with the whole weights (no all-reduce). */
static void single_gpu(const tp_options *o, const ea_problem *pr, const ea_host_batch *hb, void *o_full, uint16_t *y)
{
    ea_cuda_ctx *ctx;
    ea_dev_batch *db;
    ea_plan plan;
    CK(cudaSetDevice(0));
    EA(ea_cuda_create(&ctx));
    EA(ea_cuda_set_kernel(ctx, o->kernel));
    EA(ea_cuda_batch_upload(ctx, &hb->batch, &pr->params, &hb->in, &db));
    EA(ea_cuda_plan_create(ctx, db, &plan));
    EA(ea_cuda_plan_build(ctx, db, EA_SYNC_DEVICE, &plan));
    EA(ea_cuda_poison_output(ctx, db));
    EA(ea_cuda_run(ctx, db, &plan));
    EA(ea_cuda_download_output(ctx, db, o_full));
    const int64_t n = (int64_t)hb->num_tokens * pr->params.hq * pr->params.dv;
    void *want = xmalloc(hb->o_bytes + 1);
    ea_fill_sentinel(want, pr->params.dtype, n);
    EA(ea_kernel_reference(o->kernel)(&hb->batch, &pr->params, &hb->in, want));
    const ea_diff d = ea_compare_bits(o_full, want, pr->params.dtype, n);
    free(want);
    if (d.differ || d.sentinels) {
        fprintf(stderr, "ea-bench-sync: the single-GPU attention differs from its CPU reference (%lld elements)\n",
                (long long)(d.differ + d.sentinels));
        die(1);
    }
    layer_model m;
    cudaStream_t s = (cudaStream_t)ea_cuda_stream(ctx);
    model_init(&m, qwen3_8b_shard(1, 0), hb->num_tokens, s);
    CK(cudaMemcpyAsync(m.attn, o_full, hb->o_bytes, cudaMemcpyHostToDevice, s));
    gemm_o(&m);
    gemm_gu(&m);
    gemm_down(&m);
    CK(cudaMemcpyAsync(y, m.y, (size_t)hb->num_tokens * QWEN_HIDDEN * 2, cudaMemcpyDeviceToHost, s));
    CK(cudaStreamSynchronize(s));
    model_free(&m);
    ea_cuda_plan_free(&plan);
    ea_cuda_batch_free(db);
    ea_cuda_destroy(ctx);
}

/* ---- reporting ---- */

static float bf16_value(uint16_t b)
{
    const uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The layer check: every rank holds the same bits; their distance from one GPU's layer. */
static int report_layer(const tp_config *c, const uint16_t *y1, int64_t n)
{
    int agree = 1;
    for (int k = 1; k < c->tp; k++)
        agree = agree && !memcmp(c->rank[k].y, c->rank[0].y, (size_t)n * 2);
    double diff2 = 0, ref2 = 0, dmax = 0, ymax = 0;
    int64_t same = 0;
    for (int64_t k = 0; k < n; k++) {
        const double a = bf16_value(c->rank[0].y[k]), b = bf16_value(y1[k]);
        diff2 += (a - b) * (a - b), ref2 += b * b;
        dmax = fmax(dmax, fabs(a - b)), ymax = fmax(ymax, fabs(b));
        same += c->rank[0].y[k] == y1[k];
    }
    const double normwise = sqrt(diff2 / ref2);
    /* one rank runs one GPU's GEMMs, and its one-rank all-reduce changes nothing: the same bits */
    const int ok = agree && normwise <= LAYER_TOLERANCE && isfinite(normwise) && (c->tp > 1 || same == n);
    printf("  checks: attention of every strategy on every rank == one GPU's, bit for bit; layer output after the "
           "all-reduces: ranks %s, vs one GPU %.1f%% of elements equal, normwise %.2e, max %.2e of max |y| "
           "(tolerance %s): %s\n",
           agree ? "identical" : "DIFFER", 100.0 * same / n, normwise, dmax / ymax,
           c->tp > 1 ? "normwise 1.56e-02" : "bit for bit at tp=1", ok ? "ok" : "FAILED");
    return ok;
}

static void report(const tp_config *c, const char *card, FILE *csv)
{
    const tp_options *o = c->o;
    const int R = o->repeats, L = o->layers, n = R * L;
    double e2e[S_COUNT][1000], fl[1000];
    for (int k = 0; k < R; k++) {
        double a = INFINITY, b = 0;
        for (int q = 0; q < c->tp; q++)
            a = fmin(a, c->rank[q].floor_t0[k]), b = fmax(b, c->rank[q].floor_t1[k]);
        fl[k] = b - a;
        for (int s = 0; s < S_COUNT; s++) {
            a = INFINITY, b = 0;
            for (int q = 0; q < c->tp; q++)
                a = fmin(a, c->rank[q].t0[s][k]), b = fmax(b, c->rank[q].t1[s][k]);
            e2e[s][k] = b - a;
        }
    }
    const stats floor = summarize(fl, R);
    printf("  per rank: attention kernel");
    for (int q = 0; q < c->tp; q++)
        printf(" %.1f", c->rank[q].attn_us);
    printf(" us; one all-reduce of %d x %d bf16 alone", c->rank[0].model.tokens, QWEN_HIDDEN);
    for (int q = 0; q < c->tp; q++)
        printf(" %.1f", c->rank[q].ar_us);
    printf(" us; floor (each rank's forward as one graph) %.2f ms\n", floor.med / 1e3);
    printf("  %-13s %26s %4s %14s %16s %13s %10s %6s\n", "strategy", "end-to-end ms med [min,max]", "rank",
           "host us/layer", "all-reduce us/l", "of it waiting", "bubble us", "waits");
    double tmp[64 * 1000];
    for (int s = 0; s < S_COUNT; s++) {
        const stats e = summarize(e2e[s], R);
        for (int q = 0; q < c->tp; q++) {
            const rank_state *r = &c->rank[q];
            memcpy(tmp, r->lat[s], sizeof(double) * n);
            const stats lat = summarize(tmp, n);
            memcpy(tmp, r->ar[s], sizeof(double) * n);
            const double ar = summarize(tmp, n).med;
            memcpy(tmp, r->arw[s], sizeof(double) * n);
            const double arw = summarize(tmp, n).med;
            memcpy(tmp, r->bub[s], sizeof(double) * n);
            const double bub = summarize(tmp, n).med;
            if (q == 0)
                printf("  %-13s %8.2f [%7.2f,%7.2f] ", STRAT[s], e.med / 1e3, e.min / 1e3, e.max / 1e3);
            else
                printf("  %-13s %26s ", "", "");
            if (c->tp > 1)
                printf("%4d %14.1f %16.1f %13.1f %10.1f %6.1f\n", q, lat.med, ar, arw, bub, r->waits[s]);
            else /* one rank waits for no other: its "all-reduce" is a local no-op */
                printf("%4d %14.1f %16.1f %13s %10.1f %6.1f\n", q, lat.med, ar, "-", bub, r->waits[s]);
            if (csv) { /* the waiting column empty for one rank, as in the table */
                char wait[32] = "";
                if (c->tp > 1)
                    snprintf(wait, sizeof wait, "%.2f", arw);
                fprintf(csv, "%s,%d,%d,%s,%s,%d,%d,%.4f,%.4f,%.4f,%.2f,%.2f,%.2f,%s,%.2f,%.1f,%.2f,%.2f,%.4f,%s\n",
                        card, c->tp, c->bs, c->pfx, STRAT[s], q, L, e.med / 1e3, e.min / 1e3, e.max / 1e3, lat.med,
                        lat.min, ar, wait, bub, r->waits[s], r->attn_us, r->ar_us, floor.med / 1e3,
                        ea_kernel_name(o->kernel));
            }
        }
    }
    /* the ratios that matter: what the per-request syncs cost, end to end and on the host (rank 0) */
    const stats pr = summarize(e2e[S_PER_REQUEST], R), ba = summarize(e2e[S_BATCHED], R);
    memcpy(tmp, c->rank[0].lat[S_PER_REQUEST], sizeof(double) * n);
    const double lat_pr = summarize(tmp, n).med;
    memcpy(tmp, c->rank[0].lat[S_BATCHED], sizeof(double) * n);
    const double lat_ba = summarize(tmp, n).med;
    printf("  ratios: end-to-end per_request/batched %.2fx, per_request/floor %.2fx; host latency per_request/batched "
           "%.2fx (rank 0)\n", pr.med / ba.med, pr.med / floor.med, lat_pr / lat_ba);
    fflush(stdout);
}

/* ---- the run ---- */

/* One configuration on tp ranks; 1 when its checks passed. */
static int run_config(const tp_options *o, int tp, int bs, const char *pfx, const ea_problem *full, const void *o_full,
                      const uint16_t *y1, int64_t tokens, int traced, FILE *trace, int *first_event, FILE *csv,
                      const char *card)
{
    tp_config *c = xmalloc(sizeof *c);
    *c = (tp_config){.o = o, .tp = tp, .bs = bs, .pfx = pfx, .full = full, .o_full = o_full, .traced = traced,
                     .trace = trace, .first_event = first_event};
    pthread_barrier_init(&c->barrier, NULL, (unsigned)tp);
    pthread_mutex_init(&c->lock, NULL);
    ncclComm_t comms[MAX_TP];
    int devs[MAX_TP];
    for (int q = 0; q < tp; q++)
        devs[q] = q;
    NCK(nccl.CommInitAll(comms, tp, devs));
    pthread_t th[MAX_TP];
    for (int q = 0; q < tp; q++) {
        c->rank[q].cfg = c;
        c->rank[q].rank = q;
        c->rank[q].comm = comms[q];
        if (pthread_create(&th[q], NULL, rank_main, &c->rank[q]) != 0) {
            fprintf(stderr, "ea-bench-sync: cannot start the thread of rank %d\n", q);
            die(2);
        }
    }
    for (int q = 0; q < tp; q++)
        pthread_join(th[q], NULL);
    printf("tp=%d bs=%d prefix=%s: %d rank%s of %d query / %d KV heads\n", tp, bs, pfx, tp, tp > 1 ? "s" : "",
           QWEN_HQ / tp, QWEN_HKV / tp);
    const int ok = report_layer(c, y1, tokens * QWEN_HIDDEN);
    report(c, card, csv);
    for (int q = 0; q < tp; q++) {
        CK(cudaSetDevice(q));
        rank_free(&c->rank[q]);
        nccl.CommDestroy(comms[q]);
    }
    pthread_barrier_destroy(&c->barrier);
    pthread_mutex_destroy(&c->lock);
    free(c);
    return ok;
}

/* NVLink multicast (NVLS) stays off, whatever the environment says: on a host whose GPUs others
 * share, a program using it can put those GPUs out of service for a long time, every committed
 * result was measured without it, and results must not depend on a user's setting. */
static void nvls_off(void)
{
    const char *was = getenv("NCCL_NVLS_ENABLE");
    if (was && strcmp(was, "0"))
        printf("note: NCCL_NVLS_ENABLE=%s in the environment; this program sets it to 0\n", was);
    setenv("NCCL_NVLS_ENABLE", "0", 1);
}

int tp_bench(const tp_options *o)
{
    if (o->layers > MAX_LAYERS || o->repeats > 1000)
        return fprintf(stderr, "ea-bench-sync: --tp takes at most %d layers and 1000 repeats\n", MAX_LAYERS), 2;
    for (int k = 0; k < o->ntp; k++)
        if (QWEN_HKV % o->tp_list[k] != 0)
            return fprintf(stderr, "ea-bench-sync: --tp %d: the model's %d KV heads do not split over %d ranks "
                                   "(1, 2, 4 or 8)\n", o->tp_list[k], QWEN_HKV, o->tp_list[k]), 2;
    int devices = 0;
    if (ea_cuda_available() != EA_OK || cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        printf("ea-bench-sync: skipped: %s\n", ea_last_error());
        return 0;
    }
    if (!nccl_load())
        return 2;
    nvls_off();
    int nccl_version = 0;
    NCK(nccl.GetVersion(&nccl_version));
    struct cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    char card[300];
    snprintf(card, sizeof card, "%s", prop.name);
    FILE *csv = NULL, *trace = NULL;
    if (o->csv_path) {
        if (!(csv = open_output(o->csv_path)))
            return 2;
        fprintf(csv, "card,tp,bs,prefix,strategy,rank,layers,e2e_ms_med,e2e_ms_min,e2e_ms_max,host_lat_us_med,"
                     "host_lat_us_min,allreduce_us_per_layer,allreduce_wait_us_per_layer,bubble_us_per_layer,"
                     "waits_per_layer,attn_kernel_us,allreduce_alone_us,floor_ms,kernel\n");
    }
    /* the configuration the trace shows: the largest tp this machine runs, bs 32 (else the last bs),
     * random prefixes (else none); named in the trace for the picture's title */
    int trace_tp = 0, trace_bs = o->bs_list[o->nbs - 1];
    for (int k = 0; k < o->ntp; k++)
        trace_tp = o->tp_list[k] > trace_tp && o->tp_list[k] <= devices ? o->tp_list[k] : trace_tp;
    for (int k = 0; k < o->nbs; k++)
        trace_bs = o->bs_list[k] == 32 ? 32 : trace_bs;
    const char *trace_pfx = !strcmp(o->prefix_mode, "0") ? "0" : "rand:0:512";
    if (o->trace_path) {
        if (!(trace = open_output(o->trace_path)))
            return 2;
        fprintf(trace, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"card\":\"%s\",\"nccl\":\"%d.%d.%d\",\"tp\":%d,"
                       "\"bs\":%d,\"prefix\":\"%s\"},\"traceEvents\":[\n", card, nccl_version / 10000,
                nccl_version / 100 % 100, nccl_version % 100, trace_tp, trace_bs, trace_pfx);
    }
    printf("device: %d x %s; NCCL %d.%d.%d from %s (built with %d.%d.%d; NCCL_NVLS_ENABLE=0); %s attention kernel; "
           "Qwen3-8B layers under tensor parallelism, %d layers, %d repeats\n", devices, card, nccl_version / 10000,
           nccl_version / 100 % 100, nccl_version % 100, nccl.path, NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH,
           ea_kernel_name(o->kernel), o->layers, o->repeats);
    int first_event = 1, all_ok = 1, traced_done = 0;
    for (int pi = 0; pi < 2; pi++) {
        const char *pfx = pi == 0 ? "0" : "rand:0:512";
        if ((pi == 0 && !strcmp(o->prefix_mode, "rand")) || (pi == 1 && !strcmp(o->prefix_mode, "0")))
            continue;
        for (int bi = 0; bi < o->nbs; bi++) {
            const int bs = o->bs_list[bi];
            char line[256];
            snprintf(line, sizeof line, "name=tp bs=%d extend=256 prefix=%s hq=%d hkv=%d d=%d dtype=bf16 seed=%d", bs,
                     pfx, QWEN_HQ, QWEN_HKV, QWEN_D, 1000 + bs);
            ea_case *cs;
            int nc;
            ea_problem full;
            ea_host_batch hb;
            EA(ea_cases_parse(line, &cs, &nc));
            EA(ea_problem_make(&cs[0], &full));
            free(cs);
            EA(ea_host_batch_make(&full, NULL, 0, NULL, &hb));
            void *o_full = xmalloc(hb.o_bytes + 1);
            uint16_t *y1 = xmalloc((size_t)hb.num_tokens * QWEN_HIDDEN * 2);
            single_gpu(o, &full, &hb, o_full, y1);
            for (int k = 0; k < o->ntp; k++) {
                const int tp = o->tp_list[k];
                if (tp > devices) {
                    printf("tp=%d bs=%d prefix=%s: skipped: %d GPUs needed, %d found\n", tp, bs, pfx, tp, devices);
                    continue;
                }
                const int traced = trace && !traced_done && tp == trace_tp && bs == trace_bs && !strcmp(pfx, trace_pfx);
                traced_done |= traced;
                all_ok &= run_config(o, tp, bs, pfx, &full, o_full, y1, hb.num_tokens, traced, trace, &first_event,
                                     csv, card);
            }
            free(o_full), free(y1);
            ea_host_batch_free(&hb);
            ea_problem_free(&full);
        }
    }
    if (csv)
        close_output(csv, o->csv_path);
    if (trace) {
        fprintf(trace, "\n]}\n");
        close_output(trace, o->trace_path);
    }
    return all_ok ? 0 : 1;
}

#endif
