/* ea-bench-sync: the sync bubble, measured where it exists -- inside a forward pass.
 *
 *   build/bin/ea-bench-sync [--bs 1,8,32,64,128] [--prefix both|0|rand] [--layers 36] [--repeats 10]
 *                           [--kernel 1..6|NAME] [--csv FILE] [--trace FILE] [--dump FILE]
 *   build/bin/ea-bench-sync --tp 1,2 [the same options but --dump]
 *
 * This file is the one-GPU mode; --tp runs the whole layer under tensor parallelism over NCCL,
 * one GPU per rank (sync_tp.c). Both build on the layer model of sync_common.h.
 *
 * --kernel picks the attention kernel every strategy runs (default tc, the tensor-core kernel;
 * canonical is kernel 5, the fp32 CUDA-core one; any of kernels/README.md by number or name). Each is
 * validated bitwise against its CPU reference.
 *
 * A model of a prefill forward of one TP4 shard of Qwen3-8B: for each of L
 * layers, first queue the layer's other GPU work (cuBLAS bf16 GEMMs of the QKV
 * projection, the output projection and the MLP for all the batch's tokens),
 * then run the extend-attention step with a strategy:
 *   per_request   build the unified indices with 4 blocking reads per request, then attention
 *   batched       build them with ONE blocking transfer, then attention
 *   device        build them on the device (no wait), then attention
 *   device+graph  the device strategy's whole step replayed as one CUDA graph
 *   plan_once     build them once per forward (device strategy); each layer only runs attention
 * and the floor: the whole forward (GEMMs + attention on prebuilt indices) as ONE graph, i.e.
 * what a perfect orchestration reaches.
 *
 * Measured per configuration (medians over repeats, with min and max):
 *   host latency  time the attention step's call takes on the host (the number SGLang quoted)
 *   end-to-end    the forward, synchronised at both ends
 *   bubble        per layer: GPU time from the end of the GEMMs to the end of the attention
 *                 step, minus the attention kernel's own time (CUDA events)
 *   overhead      per layer: (end-to-end - plan_once end-to-end) / L
 *   GPU over.     per layer: bubble - plan_once bubble (the same difference, from events: less noisy)
 * A blocking read waits for the queued GEMMs: that is what makes per-request reads expensive.
 * The bubble model: per_request / batched host latency = (W + (4 bs - 1) r) / W, with W the batched
 * strategy's host latency (its one wait covers the queued work) and r one round trip on an idle
 * stream (a 4-byte device-to-host read), measured on its own; both ratios are printed. */
#define _POSIX_C_SOURCE 200809L
#include "ea.h"
#include "ea_cases.h"
#include "ea_cuda.h"
#include "sync_common.h"
#include "sync_tp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The layer's other work, queued before its attention step: what the GPU still has to do when
 * the host reaches the step (the previous layer's output projection and MLP, this layer's QKV). */
static void queue_layer_gemms(layer_model *m)
{
    gemm_qkv(m);
    gemm_o(m);
    gemm_gu(m);
    gemm_down(m);
}

/* Everything one configuration needs. */
typedef struct {
    ea_cuda_ctx *ctx;
    cudaStream_t stream;
    ea_problem pr;
    ea_host_batch hb;
    ea_dev_batch *db;
    ea_plan plan;
    ea_graph *graph;
    layer_model model;
    int layers;
    cudaEvent_t *e_gemm, *e0, *e1, ref;
} bench;

/* One layer's attention step with strategy s; returns its host latency in us. */
static double step(bench *b, int s) { return attention_step(b->ctx, b->db, b->graph, &b->plan, s); }

/* One forward with strategy s. Fills per-layer host latencies and bubbles; returns end-to-end us. */
static double forward(bench *b, int s, double attn_us, double *lat, double *bubble, int64_t *waits)
{
    CK(cudaStreamSynchronize(b->stream));
    ea_cuda_reset_waits(b->ctx);
    const double t0 = now_us();
    if (s == S_PLAN_ONCE)
        EA(ea_cuda_plan_build(b->ctx, b->db, EA_SYNC_DEVICE, &b->plan));
    for (int l = 0; l < b->layers; l++) {
        CK(cudaEventRecord(b->e_gemm[l], b->stream));
        queue_layer_gemms(&b->model);
        CK(cudaEventRecord(b->e0[l], b->stream));
        lat[l] = step(b, s);
        CK(cudaEventRecord(b->e1[l], b->stream));
    }
    CK(cudaStreamSynchronize(b->stream));
    const double e2e = now_us() - t0;
    *waits = ea_cuda_host_waits(b->ctx);
    for (int l = 0; l < b->layers; l++) {
        float ms;
        CK(cudaEventElapsedTime(&ms, b->e0[l], b->e1[l]));
        bubble[l] = ms * 1e3 - attn_us;
    }
    return e2e;
}

/* Writes two layers of one forward of strategy s as Chrome trace events (host and GPU rows). */
static void trace_forward(bench *b, int s, double attn_us, FILE *f, int *first)
{
    enum { MAXW = 4096 };
    static int64_t waits_ns[2 * MAXW];
    double lat[64], bub[64];
    int64_t nw;
    double host[64][4];
    CK(cudaStreamSynchronize(b->stream));
    CK(cudaEventRecord(b->ref, b->stream));
    CK(cudaStreamSynchronize(b->stream));
    const double t_ref = now_us(); /* host time of the reference event (a few us late) */
    ea_cuda_trace_waits(b->ctx, waits_ns, MAXW);
    const int L = b->layers < 2 ? b->layers : 2;
    for (int l = 0; l < L; l++) {
        host[l][0] = now_us();
        CK(cudaEventRecord(b->e_gemm[l], b->stream));
        queue_layer_gemms(&b->model);
        CK(cudaEventRecord(b->e0[l], b->stream));
        host[l][1] = now_us();
        lat[l] = step(b, s);
        host[l][2] = host[l][1] + lat[l];
        CK(cudaEventRecord(b->e1[l], b->stream));
        host[l][3] = now_us();
    }
    CK(cudaStreamSynchronize(b->stream));
    nw = ea_cuda_traced_waits(b->ctx);
    ea_cuda_trace_waits(b->ctx, NULL, 0);
    (void)bub;
    const double base = t_ref;
#define EV(name, tid, t0, t1)                                                                                    \
    fprintf(f, "%s{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":\"%s\",\"tid\":\"%s\",\"ts\":%.3f,\"dur\":%.3f}", \
            *first ? "" : ",\n", name, STRAT[s], STRAT[s], tid, (t0)-base, (t1) - (t0)),                        \
        *first = 0
    for (int l = 0; l < L; l++) {
        float g0, g1, g2;
        CK(cudaEventElapsedTime(&g0, b->ref, b->e_gemm[l]));
        CK(cudaEventElapsedTime(&g1, b->ref, b->e0[l]));
        CK(cudaEventElapsedTime(&g2, b->ref, b->e1[l]));
        EV("queue GEMMs", "host", host[l][0], host[l][1]);
        EV("attention step", "host", host[l][1], host[l][2]);
        EV("GEMMs (QKV, O, MLP)", "GPU", t_ref + g0 * 1e3, t_ref + g1 * 1e3);
        /* the attention kernel ends the step; what precedes it is index building or idle time */
        const double k0 = t_ref + g2 * 1e3 - attn_us;
        if (k0 > t_ref + g1 * 1e3)
            EV("index build / idle", "GPU", t_ref + g1 * 1e3, k0);
        EV("attention kernel", "GPU", k0 > t_ref + g1 * 1e3 ? k0 : t_ref + g1 * 1e3, t_ref + g2 * 1e3);
    }
    for (int64_t w = 0; w < nw; w++)
        EV("blocking read (wait)", "host waits", waits_ns[2 * w] * 1e-3, waits_ns[2 * w + 1] * 1e-3);
#undef EV
}

/* Validate before timing: every strategy's step gives the same bits as the kernel's CPU reference. */
static void validate_strategies(bench *b, ea_kernel kernel)
{
    const ea_params *p = &b->pr.params;
    const int64_t n = (int64_t)b->hb.num_tokens * p->hq * p->dv;
    void *want = malloc(b->hb.o_bytes + 1), *got = malloc(b->hb.o_bytes + 1);
    ea_fill_sentinel(want, p->dtype, n);
    EA(ea_kernel_reference(kernel)(&b->hb.batch, p, &b->hb.in, want));
    for (int s = 0; s < S_COUNT; s++) {
        EA(ea_cuda_poison_output(b->ctx, b->db));
        step(b, s);
        EA(ea_cuda_download_output(b->ctx, b->db, got));
        ea_diff d = ea_compare_bits(got, want, p->dtype, n);
        if (d.differ || d.sentinels) {
            fprintf(stderr, "ea-bench-sync: bs=%d: %s differs from the CPU reference (%lld elements, %lld unwritten)\n",
                    b->hb.batch.bs, STRAT[s], (long long)d.differ, (long long)d.sentinels);
            exit(1);
        }
    }
    free(want);
    free(got);
}

/* The floor: the whole forward as one graph, no host involvement between layers. */
static stats time_floor(bench *b, int repeats)
{
    cudaGraph_t g;
    cudaGraphExec_t exec;
    CK(cudaStreamBeginCapture(b->stream, cudaStreamCaptureModeRelaxed));
    for (int l = 0; l < b->layers; l++) {
        queue_layer_gemms(&b->model);
        EA(ea_cuda_run(b->ctx, b->db, &b->plan));
    }
    CK(cudaStreamEndCapture(b->stream, &g));
    CK(cudaGraphInstantiate(&exec, g, 0));
    double *v = malloc(sizeof(double) * (size_t)repeats);
    for (int r = -2; r < repeats; r++) {
        CK(cudaStreamSynchronize(b->stream));
        const double t0 = now_us();
        CK(cudaGraphLaunch(exec, b->stream));
        CK(cudaStreamSynchronize(b->stream));
        if (r >= 0)
            v[r] = now_us() - t0;
    }
    stats st = summarize(v, repeats);
    free(v);
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(g);
    return st;
}

static void dump_ints(FILE *f, const char *name, const void *a, int64_t n, int wide)
{
    fprintf(f, "\"%s\":[", name);
    for (int64_t k = 0; k < n; k++)
        fprintf(f, "%s%lld", k ? "," : "", wide ? (long long)((const int64_t *)a)[k] : (long long)((const int32_t *)a)[k]);
    fprintf(f, "]");
}

/* The bs=32 batch's metadata and OUR unified indices, for the PyTorch peer to rebuild and compare. */
static void dump_batch(bench *b, const char *path)
{
    const ea_batch *hb = &b->hb.batch;
    const int32_t bs = hb->bs;
    int32_t *indptr = malloc(sizeof(int32_t) * ((size_t)bs + 1)), *plens = malloc(sizeof(int32_t) * (size_t)bs);
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)b->plan.capacity);
    EA(ea_cuda_plan_build(b->ctx, b->db, EA_SYNC_DEVICE, &b->plan));
    EA(ea_cuda_plan_download(b->ctx, &b->plan, bs, indptr, idx, plens));
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "ea-bench-sync: cannot write %s\n", path);
        exit(2);
    }
    fprintf(f, "{\"bs\":%d,\"num_tokens\":%d,", bs, b->hb.num_tokens);
    dump_ints(f, "qo_indptr", hb->qo_indptr, bs + 1, 0), fputc(',', f);
    dump_ints(f, "prefix_kv_indptr", hb->prefix_kv_indptr, bs + 1, 0), fputc(',', f);
    dump_ints(f, "prefix_kv_indices", hb->prefix_kv_indices, hb->num_prefix_indices, 1), fputc(',', f);
    dump_ints(f, "extend_start_loc", hb->extend_start_loc, bs, 0), fputc(',', f);
    dump_ints(f, "extend_seq_lens", hb->extend_seq_lens, bs, 0), fputc(',', f);
    dump_ints(f, "extend_kv_indices", hb->extend_kv_indices, b->hb.num_tokens, 1), fputc(',', f);
    dump_ints(f, "unified_kv_indptr", indptr, bs + 1, 0), fputc(',', f);
    dump_ints(f, "prefix_lens", plens, bs, 0), fputc(',', f);
    dump_ints(f, "unified_kv_indices", idx, indptr[bs], 1);
    fprintf(f, "}\n");
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        fprintf(stderr, "ea-bench-sync: cannot write %s\n", path);
        exit(2);
    }
    free(indptr), free(plens), free(idx);
}

/* The command line. */
typedef struct {
    int bs_list[16], nbs, layers, repeats;
    const char *prefix_mode, *csv_path, *trace_path, *dump_path;
    ea_kernel kernel;
    int tp_list[8], ntp; /* --tp: 0 sizes = the one-GPU mode */
} options;

/* Fills o from the command line; 0 (with a message) on a bad or incomplete option. */
static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.bs_list = {1, 8, 32, 64, 128}, .nbs = 5, .layers = 36, .repeats = 10, .prefix_mode = "both",
                   .kernel = EA_KERNEL_TC};
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k], *v = k + 1 < argc ? argv[k + 1] : NULL;
        if (!strcmp(a, "--bs") && v && (o->nbs = parse_list(v, o->bs_list, 16, 1024)) > 0)
            k++;
        else if (!strcmp(a, "--prefix") && v && (!strcmp(v, "both") || !strcmp(v, "0") || !strcmp(v, "rand")))
            o->prefix_mode = v, k++;
        else if (!strcmp(a, "--layers") && v && parse_int(v, 1, 64, &o->layers))
            k++;
        else if (!strcmp(a, "--repeats") && v && parse_int(v, 3, 1000, &o->repeats))
            k++;
        else if (!strcmp(a, "--csv") && v)
            o->csv_path = v, k++;
        else if (!strcmp(a, "--trace") && v)
            o->trace_path = v, k++;
        else if (!strcmp(a, "--dump") && v)
            o->dump_path = v, k++;
        else if (!strcmp(a, "--kernel") && v && ea_kernel_parse(v, &o->kernel) == EA_OK)
            k++;
        else if (!strcmp(a, "--tp") && v && (o->ntp = parse_list(v, o->tp_list, 8, 64)) > 0)
            k++;
        else {
            fprintf(stderr, "ea-bench-sync: bad or incomplete option '%s' (usage: [--bs 1,8,32] [--prefix both|0|rand] "
                            "[--layers 1..64] [--repeats 3..1000] [--kernel 1..6|NAME] [--tp 1,2] [--csv FILE] "
                            "[--trace FILE] [--dump FILE])\n", a);
            return 0;
        }
    }
    return 1;
}

/* The CSV and trace files asked for, open under their temporary names (NULL where not asked). */
typedef struct {
    FILE *csv, *trace;
} outputs;

/* Opens the outputs and writes their headers; 0 (with a message) when one cannot be written. */
static int open_outputs(const options *o, const char *card, outputs *out)
{
    *out = (outputs){NULL, NULL};
    if (o->csv_path) {
        if (!(out->csv = open_output(o->csv_path)))
            return 0;
        fprintf(out->csv, "card,bs,prefix,strategy,layers,host_lat_us_med,host_lat_us_min,host_lat_us_max,e2e_ms_med,"
                          "e2e_ms_min,e2e_ms_max,bubble_us_per_layer,overhead_us_per_layer,gpu_overhead_us_per_layer,"
                          "waits_per_layer,floor_ms,"
                          "attn_kernel_us,kernel,round_trip_us\n");
    }
    if (o->trace_path) {
        if (!(out->trace = open_output(o->trace_path)))
            return 0;
        fprintf(out->trace, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"card\":\"%s\"},\"traceEvents\":[\n", card);
    }
    return 1;
}

/* Closes the outputs and gives them their real names. */
static void close_outputs(const options *o, outputs *out)
{
    if (out->csv)
        close_output(out->csv, o->csv_path);
    if (out->trace) {
        fprintf(out->trace, "\n]}\n");
        close_output(out->trace, o->trace_path);
    }
}

/* One configuration: the batch of `bs` requests with prefixes `pfx` on the device, its plan and
 * graph, the layer model's GEMMs and the events of every layer. */
static void bench_setup(bench *b, ea_cuda_ctx *ctx, int layers, int bs, const char *pfx)
{
    memset(b, 0, sizeof *b);
    b->ctx = ctx;
    b->stream = (cudaStream_t)ea_cuda_stream(ctx);
    b->layers = layers;
    char line[256];
    snprintf(line, sizeof line, "name=sync bs=%d extend=256 prefix=%s hq=8 hkv=2 d=128 dtype=bf16 seed=%d", bs, pfx,
             1000 + bs);
    ea_case *c;
    int nc;
    EA(ea_cases_parse(line, &c, &nc));
    EA(ea_problem_make(&c[0], &b->pr));
    free(c);
    EA(ea_host_batch_make(&b->pr, NULL, 0, NULL, &b->hb));
    EA(ea_cuda_batch_upload(ctx, &b->hb.batch, &b->pr.params, &b->hb.in, &b->db));
    EA(ea_cuda_reserve(ctx, b->db));
    EA(ea_cuda_plan_create(ctx, b->db, &b->plan));
    EA(ea_cuda_plan_build(ctx, b->db, EA_SYNC_DEVICE, &b->plan));
    EA(ea_cuda_graph_capture(ctx, b->db, &b->graph));
    model_init(&b->model, qwen3_8b_shard(4, 0), b->hb.num_tokens, b->stream);
    b->e_gemm = malloc(sizeof(cudaEvent_t) * (size_t)layers);
    b->e0 = malloc(sizeof(cudaEvent_t) * (size_t)layers);
    b->e1 = malloc(sizeof(cudaEvent_t) * (size_t)layers);
    for (int l = 0; l < layers; l++) {
        CK(cudaEventCreate(&b->e_gemm[l]));
        CK(cudaEventCreate(&b->e0[l]));
        CK(cudaEventCreate(&b->e1[l]));
    }
    CK(cudaEventCreate(&b->ref));
}

static void bench_free(bench *b)
{
    for (int l = 0; l < b->layers; l++) {
        cudaEventDestroy(b->e_gemm[l]);
        cudaEventDestroy(b->e0[l]);
        cudaEventDestroy(b->e1[l]);
    }
    cudaEventDestroy(b->ref);
    free(b->e_gemm), free(b->e0), free(b->e1);
    model_free(&b->model);
    ea_cuda_graph_free(b->graph);
    ea_cuda_plan_free(&b->plan);
    ea_cuda_batch_free(b->db);
    ea_host_batch_free(&b->hb);
    ea_problem_free(&b->pr);
}

/* What one row of the table reports. */
typedef struct {
    stats lat;    /* host latency of the attention step, us, over every layer of every repeat */
    stats e2e;    /* end-to-end forward, us */
    double bub;   /* median bubble per layer, us */
    double waits; /* blocking host waits per layer */
} row_result;

/* The measurement: `repeats` forwards of every row after two warm-up rounds. The rows take turns,
 * forward by forward, so that drift in clocks or temperature touches all of them alike. */
static void measure(bench *b, double attn_us, int repeats, row_result res[S_COUNT])
{
    const int layers = b->layers;
    double *lat_all = malloc(sizeof(double) * (size_t)(S_COUNT * layers * repeats));
    double *bub_all = malloc(sizeof(double) * (size_t)(S_COUNT * layers * repeats));
    double *e2e = malloc(sizeof(double) * (size_t)(S_COUNT * repeats)), lat[64], bub[64];
    for (int r = -2; r < repeats; r++) { /* two warm-up rounds */
        for (int s = 0; s < S_COUNT; s++) {
            int64_t waits = 0;
            const double t = forward(b, s, attn_us, lat, bub, &waits);
            res[s].waits = (double)waits / layers;
            if (r < 0)
                continue;
            e2e[s * repeats + r] = t;
            for (int l = 0; l < layers; l++) {
                lat_all[(s * repeats + r) * layers + l] = lat[l];
                bub_all[(s * repeats + r) * layers + l] = bub[l];
            }
        }
    }
    for (int s = 0; s < S_COUNT; s++) {
        res[s].lat = summarize(lat_all + s * repeats * layers, layers * repeats);
        res[s].e2e = summarize(e2e + s * repeats, repeats);
        res[s].bub = summarize(bub_all + s * repeats * layers, layers * repeats).med;
    }
    free(lat_all), free(bub_all), free(e2e);
}

/* The fixed facts of a run that every CSV line repeats. */
typedef struct {
    const char *card;
    ea_kernel kernel;
    int layers;
    double r_us; /* one idle round trip */
} run_info;

/* One configuration's rows (and CSV lines), its floor, and the ratios that matter. */
static void report(const run_info *run, FILE *csv, int bs, const char *pfx, const row_result res[S_COUNT],
                   stats floor, double attn_us)
{
    const char *pfx_col = !strcmp(pfx, "0") ? "0" : "rand";
    const row_result *once = &res[S_PLAN_ONCE];
    for (int s = 0; s < S_COUNT; s++) {
        const row_result *x = &res[s];
        const double over = (x->e2e.med - once->e2e.med) / run->layers;
        printf("%4d %-6s %-13s %8.1f [%6.1f,%7.1f] %9.2f [%6.2f,%6.2f] %10.1f %10.1f %9.1f %7.1f\n", bs, pfx_col,
               STRAT[s], x->lat.med, x->lat.min, x->lat.max, x->e2e.med / 1e3, x->e2e.min / 1e3, x->e2e.max / 1e3,
               x->bub, over, x->bub - once->bub, x->waits);
        if (csv)
            fprintf(csv, "%s,%d,%s,%s,%d,%.2f,%.2f,%.2f,%.4f,%.4f,%.4f,%.2f,%.2f,%.2f,%.1f,%.4f,%.2f,%s,%.2f\n", run->card,
                    bs, pfx, STRAT[s], run->layers, x->lat.med, x->lat.min, x->lat.max, x->e2e.med / 1e3,
                    x->e2e.min / 1e3, x->e2e.max / 1e3, x->bub, over, x->bub - once->bub, x->waits, floor.med / 1e3,
                    attn_us, ea_kernel_name(run->kernel), run->r_us);
    }
    printf("     %-6s %-13s floor %.2f ms [%.2f,%.2f]; attention kernel %.1f us/layer\n", pfx_col, "(one graph)",
           floor.med / 1e3, floor.min / 1e3, floor.max / 1e3, attn_us);
    /* the bubble model: per_request's waits (its row of EA_SYNC_TABLE: 4 bs) against batched's one */
    const double W = res[S_BATCHED].lat.med, r_us = run->r_us;
    const double per_request_waits = (double)ea_step_expected_waits(EA_STEP_PER_REQUEST, bs);
    printf("     ratios: host latency per_request/batched %.2fx (model (W + (4bs-1) r) / W with W = %.1f us, "
           "r = %.1f us: %.2fx), per_request/device %.1fx; end-to-end plan_once/floor %.3fx, "
           "per_request/floor %.2fx\n",
           res[S_PER_REQUEST].lat.med / W, W, r_us, (W + (per_request_waits - 1) * r_us) / W,
           res[S_PER_REQUEST].lat.med / res[S_DEVICE].lat.med, once->e2e.med / floor.med,
           res[S_PER_REQUEST].e2e.med / floor.med);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    options o;
    if (!parse_args(argc, argv, &o))
        return 2;
    if (o.ntp > 0) {
        if (o.dump_path) {
            fprintf(stderr, "ea-bench-sync: --dump is for the one-GPU mode, not with --tp\n");
            return 2;
        }
        tp_options t = {.ntp = o.ntp, .bs_list = o.bs_list, .nbs = o.nbs, .prefix_mode = o.prefix_mode,
                        .layers = o.layers, .repeats = o.repeats, .kernel = o.kernel, .csv_path = o.csv_path,
                        .trace_path = o.trace_path};
        memcpy(t.tp_list, o.tp_list, sizeof t.tp_list);
        return tp_bench(&t);
    }
    ea_cuda_ctx *ctx;
    if (ea_cuda_create(&ctx) != EA_OK) {
        printf("ea-bench-sync: skipped: %s\n", ea_last_error());
        return 0;
    }
    EA(ea_cuda_set_kernel(ctx, o.kernel));
    struct cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    const run_info run = {prop.name, o.kernel, o.layers, round_trip_us((cudaStream_t)ea_cuda_stream(ctx))};
    outputs out;
    if (!open_outputs(&o, prop.name, &out))
        return 2;
    printf("device: %s; %s attention kernel; %d layers, %d repeats; Qwen3-8B TP4 shard GEMMs queued before each "
           "attention step; one idle round trip r = %.1f us\n", prop.name, ea_kernel_name(o.kernel), o.layers,
           o.repeats, run.r_us);
    printf("%4s %-6s %-13s %22s %26s %10s %10s %9s %7s\n", "bs", "prefix", "strategy", "host us/layer med [min,max]",
           "end-to-end ms med [min,max]", "bubble us", "over. us", "GPU over.", "waits");
    int first_event = 1;
    for (int pi = 0; pi < 2; pi++) {
        const char *pfx = pi == 0 ? "0" : "rand:0:512";
        if ((pi == 0 && !strcmp(o.prefix_mode, "rand")) || (pi == 1 && !strcmp(o.prefix_mode, "0")))
            continue;
        for (int bi = 0; bi < o.nbs; bi++) {
            const int bs = o.bs_list[bi];
            bench b;
            bench_setup(&b, ctx, o.layers, bs, pfx);
            validate_strategies(&b, o.kernel);
            const double attn_us = time_attention(b.ctx, b.db, &b.plan);
            const stats floor = time_floor(&b, o.repeats);
            row_result res[S_COUNT];
            measure(&b, attn_us, o.repeats, res);
            report(&run, out.csv, bs, pfx, res, floor, attn_us);
            if (o.dump_path && bs == 32 && pi == 1)
                dump_batch(&b, o.dump_path);
            if (out.trace && bs == 32 && pi == 1)
                for (int s = 0; s < S_COUNT; s++)
                    trace_forward(&b, s, attn_us, out.trace, &first_event);
            bench_free(&b);
        }
    }
    close_outputs(&o, &out);
    ea_cuda_destroy(ctx);
    return 0;
}
