/* The pieces both modes of ea-bench-sync use (sync_common.h). */
#define _POSIX_C_SOURCE 200809L
#include "sync_common.h"

#include "ea_cases.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *const STRAT[S_COUNT] = {
#define X_NAME(id, value, name, waits, what) [value] = name,
    EA_SYNC_TABLE(X_NAME)
#undef X_NAME
    [S_DEVICE_GRAPH] = "device+graph",
    [S_PLAN_ONCE] = "plan_once",
};

double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

stats summarize(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return (stats){v[n / 2], v[0], v[n - 1]};
}

/* strtol, not atoi: atoi would accept "12abc" and overflow on huge numbers. */
int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        return 0;
    *out = (int)v;
    return 1;
}

int parse_list(const char *s, int *out, int max, long hi)
{
    int n = 0;
    while (*s && n < max) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno || v < 1 || v > hi || (*end && *end != ','))
            return -1;
        out[n++] = (int)v;
        s = *end ? end + 1 : end;
    }
    return *s ? -1 : n;
}

static char tmp_names[4][4200];
static void remove_partial_outputs(void)
{
    for (int k = 0; k < 4; k++)
        if (tmp_names[k][0])
            remove(tmp_names[k]);
}

void die(int code)
{
    fflush(stdout);
    fflush(stderr);
    remove_partial_outputs();
    _exit(code);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "ea-bench-sync: out of host memory (%zu bytes)\n", n);
        die(2);
    }
    return p;
}

FILE *open_output(const char *path)
{
    static int registered;
    if (!registered++)
        atexit(remove_partial_outputs);
    for (int k = 0; k < 4; k++)
        if (!tmp_names[k][0]) {
            snprintf(tmp_names[k], sizeof tmp_names[k], "%s.tmp", path);
            FILE *f = fopen(tmp_names[k], "w");
            if (!f) {
                tmp_names[k][0] = 0;
                break;
            }
            return f;
        }
    fprintf(stderr, "ea-bench-sync: cannot write %s\n", path);
    return NULL;
}

void close_output(FILE *f, const char *path)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    fclose(f);
    for (int k = 0; k < 4; k++)
        if (!strcmp(tmp_names[k], tmp) && rename(tmp, path) == 0)
            tmp_names[k][0] = 0;
}

layer_shard qwen3_8b_shard(int tp, int rank)
{
    layer_shard sh = {.tp = tp, .rank = rank, .hidden = QWEN_HIDDEN, .hq = QWEN_HQ / tp, .hkv = QWEN_HKV / tp};
    sh.qkv_out = (sh.hq + 2 * sh.hkv) * QWEN_D;
    sh.attn_out = sh.hq * QWEN_D;
    sh.mlp = QWEN_MLP / tp;
    return sh;
}

/* Element (row, col) of whole matrix `matrix` (cols wide) as bf16: +-[2^-7, 2^-6), from a hash of
 * its position (never zero: zeros would make the GEMMs faster than real data). */
static uint16_t weight(int matrix, int64_t cols, int64_t row, int64_t col)
{
    uint64_t s = ((uint64_t)matrix << 56) ^ (uint64_t)(row * cols + col);
    const uint64_t h = ea_splitmix64(&s);
    return (uint16_t)(0x3c00u + (h & 0x7fu)) | (uint16_t)(h >> 48 & 0x8000u);
}

/* Fills n_rows x n_cols of dst (ld elements per row) from the whole matrix's block at (r0, c0). */
static void fill_block(uint16_t *dst, int64_t ld, int matrix, int64_t cols, int64_t r0, int64_t n_rows, int64_t c0,
                       int64_t n_cols)
{
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t c = 0; c < n_cols; c++)
            dst[r * ld + c] = weight(matrix, cols, r0 + r, c0 + c);
}

static void *upload(const uint16_t *h, size_t n)
{
    void *d;
    CK(cudaMalloc(&d, n * 2));
    CK(cudaMemcpy(d, h, n * 2, cudaMemcpyHostToDevice));
    return d;
}

void *upload_slice(int matrix, int64_t cols, int64_t r0, int64_t n_rows, int64_t c0, int64_t n_cols)
{
    const size_t n = (size_t)(n_rows * n_cols);
    uint16_t *h = xmalloc(n * 2);
    fill_block(h, n_cols, matrix, cols, r0, n_rows, c0, n_cols);
    void *d = upload(h, n);
    free(h);
    return d;
}

/* The whole layer's matrices, by number (the hash's first input). */
enum { M_X = 1, M_QKV, M_ATTN, M_O, M_GU, M_DOWN };

static void *zeros(size_t n)
{
    void *d;
    CK(cudaMalloc(&d, n * 2));
    CK(cudaMemset(d, 0, n * 2));
    return d;
}

void model_init(layer_model *m, layer_shard sh, int tokens, cudaStream_t s)
{
    const int64_t T = tokens, H = sh.hidden, r = sh.rank, whole_qkv = (QWEN_HQ + 2 * QWEN_HKV) * QWEN_D;
    const int64_t whole_attn = QWEN_HQ * QWEN_D;
    memset(m, 0, sizeof *m);
    m->tokens = tokens;
    m->sh = sh;
    CKB(cublasCreate(&m->h));
    CKB(cublasSetStream(m->h, s));
    CK(cudaMalloc(&m->workspace, (size_t)32 << 20)); /* a fixed workspace makes cuBLAS graph-capturable */
    CKB(cublasSetWorkspace(m->h, m->workspace, (size_t)32 << 20));
    /* activations: the GEMMs' inputs that no GEMM writes get values (every rank the same x, its
     * heads' columns of one attention output); the others are written before they are read */
    m->x = upload_slice(M_X, H, 0, T, 0, H);
    m->attn = upload_slice(M_ATTN, whole_attn, 0, T, r * sh.attn_out, sh.attn_out);
    m->qkv = zeros((size_t)(T * sh.qkv_out));
    m->hid = zeros((size_t)(T * H));
    m->gu = zeros((size_t)(T * 2 * sh.mlp));
    m->y = zeros((size_t)(T * H));
    /* weights: the rank's slices (the QKV columns of its heads are modelled as one block) */
    m->w_qkv = upload_slice(M_QKV, whole_qkv, 0, H, r * sh.qkv_out, sh.qkv_out);
    m->w_o = upload_slice(M_O, H, r * sh.attn_out, sh.attn_out, 0, H);
    m->w_down = upload_slice(M_DOWN, H, r * sh.mlp, sh.mlp, 0, H);
    uint16_t *gu = xmalloc((size_t)(H * 2 * sh.mlp) * 2); /* [gate_r | up_r] of [gate | up] */
    fill_block(gu, 2 * sh.mlp, M_GU, 2 * QWEN_MLP, 0, H, r * sh.mlp, sh.mlp);
    fill_block(gu + sh.mlp, 2 * sh.mlp, M_GU, 2 * QWEN_MLP, 0, H, QWEN_MLP + r * sh.mlp, sh.mlp);
    m->w_gu = upload(gu, (size_t)(H * 2 * sh.mlp));
    free(gu);
}

void model_free(layer_model *m)
{
    void *p[] = {m->x, m->w_qkv, m->qkv, m->attn, m->w_o, m->hid, m->w_gu, m->gu, m->w_down, m->y, m->workspace};
    for (size_t k = 0; k < sizeof p / sizeof *p; k++)
        cudaFree(p[k]);
    cublasDestroy(m->h);
}

/* C[T, n] = A[T, k] B[k, n], row-major with A's rows lda apart, as column-major C^T = B^T A^T. */
static void gemm(layer_model *m, const void *A, int lda, const void *B, void *C, int n, int k)
{
    const float one = 1.0f, zero = 0.0f;
    CKB(cublasGemmEx(m->h, CUBLAS_OP_N, CUBLAS_OP_N, n, m->tokens, k, &one, B, CUDA_R_16BF, n, A, CUDA_R_16BF, lda,
                     &zero, C, CUDA_R_16BF, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

void gemm_qkv(layer_model *m) { gemm(m, m->x, m->sh.hidden, m->w_qkv, m->qkv, m->sh.qkv_out, m->sh.hidden); }
void gemm_o(layer_model *m) { gemm(m, m->attn, m->sh.attn_out, m->w_o, m->hid, m->sh.hidden, m->sh.attn_out); }
void gemm_gu(layer_model *m) { gemm(m, m->hid, m->sh.hidden, m->w_gu, m->gu, 2 * m->sh.mlp, m->sh.hidden); }
void gemm_down(layer_model *m) { gemm(m, m->gu, 2 * m->sh.mlp, m->w_down, m->y, m->sh.hidden, m->sh.mlp); }

double attention_step(ea_cuda_ctx *ctx, ea_dev_batch *db, ea_graph *graph, ea_plan *plan, int s)
{
    const double t0 = now_us();
    if (s < EA_SYNC_COUNT) /* a strategy's row */
        EA(ea_cuda_extend(ctx, db, (ea_sync)s));
    else if (s == S_DEVICE_GRAPH)
        EA(ea_cuda_graph_launch(ctx, graph));
    else
        EA(ea_cuda_run(ctx, db, plan));
    return now_us() - t0;
}

double round_trip_us(cudaStream_t stream)
{
    int *d, h;
    double v[201];
    CK(cudaMalloc((void **)&d, sizeof *d));
    CK(cudaMemsetAsync(d, 0, sizeof *d, stream));
    CK(cudaStreamSynchronize(stream));
    for (int r = 0; r < 201; r++) {
        const double t0 = now_us();
        CK(cudaMemcpyAsync(&h, d, sizeof h, cudaMemcpyDeviceToHost, stream));
        CK(cudaStreamSynchronize(stream));
        v[r] = now_us() - t0;
    }
    cudaFree(d);
    return summarize(v, 201).med;
}

double time_attention(ea_cuda_ctx *ctx, ea_dev_batch *db, ea_plan *plan)
{
    cudaStream_t stream = (cudaStream_t)ea_cuda_stream(ctx);
    double v[21];
    cudaEvent_t a, c;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&c));
    for (int r = 0; r < 21; r++) {
        CK(cudaEventRecord(a, stream));
        EA(ea_cuda_run(ctx, db, plan));
        CK(cudaEventRecord(c, stream));
        CK(cudaEventSynchronize(c));
        float ms;
        CK(cudaEventElapsedTime(&ms, a, c));
        v[r] = ms * 1e3;
    }
    cudaEventDestroy(a);
    cudaEventDestroy(c);
    return summarize(v, 21).med;
}
