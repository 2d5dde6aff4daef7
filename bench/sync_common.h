/* What the two modes of ea-bench-sync share: one GPU with a TP4 shard's layer (ea_bench_sync.c)
 * and N GPUs under tensor parallelism (sync_tp.c). Error exits, clocks and medians, the rows of
 * the table (the strategies), and the layer model: the GEMMs of a Qwen3-8B layer, sharded. */
#ifndef EA_BENCH_SYNC_COMMON_H
#define EA_BENCH_SYNC_COMMON_H

#include "ea.h"
#include "ea_cuda.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A benchmark has no caller to return an error to: it names the call and ends the program with
 * die(), which also works from a rank's thread while the other ranks are inside NCCL or CUDA (no
 * exit handlers, no teardown racing them; the partial output files are removed first). */
void die(int code) __attribute__((noreturn));
/* malloc, or die() with a message. */
void *xmalloc(size_t n);

#define CK(call)                                                                                              \
    do {                                                                                                      \
        cudaError_t e_ = (call);                                                                              \
        if (e_ != cudaSuccess) {                                                                              \
            fprintf(stderr, "ea-bench-sync: %s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            die(2);                                                                                           \
        }                                                                                                     \
    } while (0)
#define CKB(call)                                                                                             \
    do {                                                                                                      \
        cublasStatus_t s_ = (call);                                                                           \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                                    \
            fprintf(stderr, "ea-bench-sync: %s:%d: %s: cuBLAS status %d\n", __FILE__, __LINE__, #call, (int)s_); \
            die(2);                                                                                           \
        }                                                                                                     \
    } while (0)
#define EA(call)                                                                                              \
    do {                                                                                                      \
        if ((call) != EA_OK) {                                                                                \
            fprintf(stderr, "ea-bench-sync: %s:%d: %s: %s\n", __FILE__, __LINE__, #call, ea_last_error());    \
            die(2);                                                                                           \
        }                                                                                                     \
    } while (0)

/* The rows of every table: each strategy of EA_SYNC_TABLE (include/ea_cuda.h; same value, same
 * name), then the device strategy's step as a CUDA graph (device+graph) and plan_once. */
enum {
#define X_ROW(id, value, name, waits, what) S_##id = (value),
    EA_SYNC_TABLE(X_ROW)
#undef X_ROW
    S_DEVICE_GRAPH = EA_SYNC_COUNT,
    S_PLAN_ONCE,
    S_COUNT
};
extern const char *const STRAT[S_COUNT];

double now_us(void);

typedef struct {
    double med, min, max;
} stats;

/* Median, min and max of n values (sorts them). */
stats summarize(double *v, int n);

/* A whole decimal number in [lo, hi] into *out (1), or 0. */
int parse_int(const char *s, long lo, long hi, int *out);
/* A comma-separated list of numbers in [1, hi] into out (at most max): its length, or -1. */
int parse_list(const char *s, int *out, int max, long hi);

/* Qwen3-8B: hidden 4096, 32 query and 8 KV heads of 128, MLP 12288. */
enum { QWEN_HIDDEN = 4096, QWEN_HQ = 32, QWEN_HKV = 8, QWEN_D = 128, QWEN_MLP = 12288 };

/* One rank's share of a layer under tensor parallelism over tp ranks (Megatron-style): the QKV
 * and gate/up projections split by output columns (heads, MLP channels), the output and down
 * projections by input rows, so each rank's output projection and MLP give a partial sum of the
 * whole layer's, which the all-reduces add up. */
typedef struct {
    int tp, rank;
    int hidden;   /* 4096, every rank */
    int hq, hkv;  /* this rank's heads */
    int qkv_out;  /* (hq + 2 hkv) * 128 */
    int attn_out; /* hq * 128: the attention output's columns, the output projection's rows */
    int mlp;      /* 12288 / tp: the rank's gate and up channels, the down projection's rows */
} layer_shard;

layer_shard qwen3_8b_shard(int tp, int rank);

/* The layer's GEMMs on one GPU (bf16, fp32 accumulation, cuBLAS): its weights are the rank's
 * slices of ONE set of whole-layer weights (each value a function of its position in the whole
 * matrix), so the shards of every tp add up to the same layer. */
typedef struct {
    cublasHandle_t h;
    int tokens;
    layer_shard sh;
    void *x;      /* [T, hidden] layer input */
    void *w_qkv;  /* [hidden, qkv_out] */
    void *qkv;    /* [T, qkv_out] */
    void *attn;   /* [T, attn_out] attention output (the rank's heads) */
    void *w_o;    /* [attn_out, hidden] the rank's rows of the output projection */
    void *hid;    /* [T, hidden] output projection (a partial sum under TP) */
    void *w_gu;   /* [hidden, 2 mlp] the rank's gate columns, then its up columns */
    void *gu;     /* [T, 2 mlp] */
    void *w_down; /* [mlp, hidden] the rank's rows of the down projection */
    void *y;      /* [T, hidden] MLP output (a partial sum under TP) */
    void *workspace;
} layer_model;

/* Allocates and fills the rank's weights and activations on the current device; GEMMs run on s. */
void model_init(layer_model *m, layer_shard sh, int tokens, cudaStream_t s);
void model_free(layer_model *m);

/* The four GEMMs of a layer, each alone. The MLP's "activation" is the gate half as it is (a
 * model of the time, not of the network: no SiLU, no norms, no residual). */
void gemm_qkv(layer_model *m);  /* qkv = x W_qkv */
void gemm_o(layer_model *m);    /* hid = attn W_o */
void gemm_gu(layer_model *m);   /* gu = hid W_gu */
void gemm_down(layer_model *m); /* y = gu[:, :mlp] W_down */

/* Uploads n bf16 values made from (matrix, row, col) of a rows x cols whole matrix: rows
 * [r0, r0 + n_rows) and columns [c0, c0 + n_cols) of it; values +-[2^-7, 2^-6), never zero. */
void *upload_slice(int matrix, int64_t cols, int64_t r0, int64_t n_rows, int64_t c0, int64_t n_cols);

/* Output files are written under a temporary name (PATH.tmp) and get their real name from
 * close_output(); if the run stops early (an error exits), the temporary files are removed, so no
 * partial output is left. open_output() says why and returns NULL when it cannot write. */
FILE *open_output(const char *path);
void close_output(FILE *f, const char *path);

/* One layer's attention step with row s (a strategy, device+graph or plan_once); its host
 * latency in us. */
double attention_step(ea_cuda_ctx *ctx, ea_dev_batch *db, ea_graph *graph, ea_plan *plan, int s);

/* One round trip: a 4-byte device-to-host read on an idle stream, waited for (median of 201). */
double round_trip_us(cudaStream_t stream);

/* Median time of the attention kernel alone on the prebuilt plan (CUDA events). */
double time_attention(ea_cuda_ctx *ctx, ea_dev_batch *db, ea_plan *plan);

#endif
