/**
 * @file ea_cuda.h
 * @brief The CUDA path: a context, a batch in device memory, three ways to build the unified
 * indices (the sync story), a plan/run split, and CUDA graphs.
 *
 * All device work goes to the context's stream. Functions that only queue work
 * return as soon as it is queued; the strategies differ in how often the host
 * must WAIT for the GPU (a blocking device-to-host read), which the context
 * counts: ea_cuda_host_waits().
 *
 * @code
 * ea_cuda_ctx *ctx;  ea_dev_batch *db;
 * if (ea_cuda_create(&ctx) != EA_OK) { puts(ea_last_error()); return; }    // e.g. no CUDA device
 * ea_cuda_batch_upload(ctx, &batch, &params, &inputs, &db);               // validates first
 * ea_cuda_extend(ctx, db, EA_SYNC_BATCHED);                               // one layer: plan + run
 * ea_cuda_download_output(ctx, db, host_o);
 * ea_cuda_batch_free(db);  ea_cuda_destroy(ctx);
 * @endcode
 */
#ifndef EA_CUDA_H
#define EA_CUDA_H

#include "ea.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup ea_cuda CUDA path (ea_cuda.h)
 * @brief Device batch, sync strategies, plan/run, graphs. Built when `nvcc` is found;
 * otherwise every function returns EA_ERR_NOT_BUILT.
 * @{
 */

/**
 * The strategies of DESIGN.md section 3, one row each, in the story's order (each one removes
 * host waits the one before had):
 *
 *     X(ID, value, name, host waits of one step (an expression of bs), description)
 *
 * The enum ::ea_sync (`EA_SYNC_<ID> = value`), ea_sync_name() and ea_step_expected_waits() are
 * expanded from it; ::ea_step adds the graph. The tests, ea-compare and ea-bench-sync read those,
 * so a strategy, its name or its wait count is written here and nowhere else. Values and names
 * are stable: the tutorials and the committed results use them.
 */
#define EA_SYNC_TABLE(X)                                                                                         \
    X(PER_REQUEST, 0, "per_request", 4 * (int64_t)(bs),                                                          \
      "4 blocking scalar reads per request, then one upload of the offsets and one gather of the slices")         \
    X(BATCHED, 1, "batched", 1, "a pack kernel, ONE device-to-host copy, the host loop, one upload, one gather") \
    X(DEVICE, 2, "device", 0, "a scan kernel and a copy kernel: the host never waits")

/**
 * The steps the checks run: every strategy of ::EA_SYNC_TABLE (same value, same name), then the
 * device strategy's whole step captured once as a CUDA graph and replayed. Same columns.
 */
#define EA_STEP_TABLE(X)                                                                                         \
    EA_SYNC_TABLE(X)                                                                                             \
    X(GRAPH, 3, "graph", 0, "the device strategy's step (index build + attention) as one CUDA graph, replayed")

#define EA_X_SYNC_ENUM(id, value, name, waits, what) EA_SYNC_##id = (value),
#define EA_X_STEP_ENUM(id, value, name, waits, what) EA_STEP_##id = (value),
#define EA_X_ONE(id, value, name, waits, what) +1

/** How the unified indices are built: one value per row of ::EA_SYNC_TABLE. */
typedef enum {
    EA_SYNC_TABLE(EA_X_SYNC_ENUM)
    EA_SYNC_COUNT = 0 EA_SYNC_TABLE(EA_X_ONE) /**< number of strategies, not a strategy */
} ea_sync;

/**
 * What one step of ea_run_cuda() runs: a strategy (`EA_STEP_PER_REQUEST`, `EA_STEP_BATCHED`,
 * `EA_STEP_DEVICE`, equal to their ::ea_sync values) or `EA_STEP_GRAPH`; one value per row of
 * ::EA_STEP_TABLE.
 */
typedef enum {
    EA_STEP_TABLE(EA_X_STEP_ENUM)
    EA_STEP_COUNT = 0 EA_STEP_TABLE(EA_X_ONE) /**< number of steps, not a step */
} ea_step;

#undef EA_X_SYNC_ENUM
#undef EA_X_STEP_ENUM
#undef EA_X_ONE

/** @brief The name of a strategy ("per_request", "batched", "device"), or "unknown". */
const char *ea_sync_name(ea_sync s);

/** @brief The name of a step: its strategy's name, or "graph"; "unknown" out of range. */
const char *ea_step_name(ea_step s);

/**
 * @brief The strategy whose indices a step builds: its own for a strategy's step, the device
 *        strategy for the graph; ::EA_SYNC_COUNT for an unknown step.
 */
ea_sync ea_step_strategy(ea_step s);

/**
 * @brief The blocking host waits one step must take (not counting upload and download):
 *        `4*bs`, 1, 0, 0 for per_request, batched, device, graph (::EA_STEP_TABLE).
 * @param s the step (a strategy's step has the strategy's value: `EA_STEP_BATCHED`)
 * @param bs requests in the batch
 * @return the count, or -1 for an unknown step
 */
int64_t ea_step_expected_waits(ea_step s, int32_t bs);

/**
 * Which attention kernel a context runs: the numbered versions of kernels/attention/ (see
 * kernels/README.md), each one idea more than the one before, each bitwise equal to its CPU
 * reference (ea_kernel_reference()).
 */
typedef enum {
    EA_KERNEL_NAIVE = 1,          /**< 1_naive.cu: a thread per (query row, query head), keys from global memory */
    EA_KERNEL_SMEM_TILES = 2,     /**< 2_smem_tiles.cu: a block loads each tile of keys once into shared memory */
    EA_KERNEL_GQA_BLOCKING = 3,   /**< 3_gqa_blocking.cu: one tile serves the G heads of a KV head; warp max */
    EA_KERNEL_VECTOR_GATHERS = 4, /**< 4_vector_gathers.cu: 16-byte gathers in flight, conflict-free strides */
    EA_KERNEL_BITMASKS = 5,       /**< 5_bitmasks.cu: visibility as ballots, pass 2 visits only visible keys */
    EA_KERNEL_TC = 6,             /**< 6_tensor_cores.cu: bf16 mma.sync, the tensor-core order */
    EA_KERNEL_CANONICAL = EA_KERNEL_BITMASKS, /**< the fastest kernel of the canonical order (a context's default) */
    EA_KERNEL_FIRST = 1,          /**< the lowest kernel number */
    EA_KERNEL_LAST = 6            /**< the highest kernel number */
} ea_kernel;

/** @brief The name of a kernel ("naive", ..., "bitmasks", "tc"), or "unknown". */
const char *ea_kernel_name(ea_kernel k);

/** A CPU reference: ea_reference_canonical() or ea_reference_tc(). */
typedef ea_status (*ea_reference_fn)(const ea_batch *b, const ea_params *p, const ea_inputs *in, void *o);

/**
 * @brief The CPU reference kernel @p k equals bit for bit: ea_reference_tc() for ::EA_KERNEL_TC,
 * ea_reference_canonical() for the others; NULL for an unknown kernel.
 */
ea_reference_fn ea_kernel_reference(ea_kernel k);

/**
 * @brief Reads a kernel from a command-line word: its number ("1".."6"), its name, or
 * "canonical" (::EA_KERNEL_CANONICAL).
 * @param s the word
 * @param k receives the kernel
 * @return EA_OK, or EA_ERR_ARG with a message listing the kernels
 */
ea_status ea_kernel_parse(const char *s, ea_kernel *k);

/**
 * @brief Whether the tensor-core model of ea_mma.h was verified on the current device's
 *        architecture (see ea-mma-probe); 0 also when there is no device.
 */
int ea_cuda_mma_model_verified(void);

/** Owns the stream, scratch buffers and the counter of blocking host waits. */
typedef struct ea_cuda_ctx ea_cuda_ctx;

/**
 * A batch whose metadata and tensors live in device memory, as in a server.
 * Sizes the host knows (array lengths, max_extend_len) are kept on the host;
 * every value inside the arrays is on the device only.
 */
typedef struct {
    ea_params params;             /**< host copy; params.sinks points to device memory (or NULL) */
    int32_t bs;                   /**< requests */
    int32_t num_tokens;           /**< N, the length of extend_kv_indices */
    int32_t max_extend_len;       /**< max E_i */
    int64_t pool_size;            /**< slots in the pool */
    int64_t num_prefix_indices;   /**< length of prefix_kv_indices */
    int64_t mask_size;            /**< length of custom_mask (0: none) */
    int32_t *qo_indptr;           /**< [bs+1] device */
    int32_t *prefix_kv_indptr;    /**< [bs+1] device */
    int64_t *prefix_kv_indices;   /**< [num_prefix_indices] device */
    int32_t *extend_start_loc;    /**< [bs] device */
    int32_t *extend_seq_lens;     /**< [bs] device */
    int64_t *extend_kv_indices;   /**< [N] device */
    uint8_t *custom_mask;         /**< [mask_size] device, or NULL */
    int32_t *mask_indptr;         /**< [bs+1] device, or NULL */
    void *q;                      /**< [N, Hq, Dqk] device */
    void *k_pool;                 /**< [pool, Hkv, Dqk] device */
    void *v_pool;                 /**< [pool, Hkv, Dv] device */
    void *o;                      /**< [N, Hq, Dv] device output */
} ea_dev_batch;

/**
 * The unified key sequence in device memory, and the tensor-core kernel's schedule of the batch's
 * query blocks, built once per batch by ea_cuda_plan_build() and read by every layer's
 * ea_cuda_run().
 */
typedef struct {
    int32_t bs;                   /**< requests it was built for */
    int64_t capacity;             /**< room in unified_kv_indices: num_prefix_indices + N */
    int32_t *unified_kv_indptr;   /**< [bs+1] device */
    int64_t *unified_kv_indices;  /**< [capacity] device */
    int32_t *prefix_lens;         /**< [bs] device */
    int64_t order_capacity;       /**< blocks block_order can list: (N G + 63 bs) / 64, G = Hq / Hkv */
    int32_t *block_order;         /**< [1 + 2 order_capacity] device: the blocks of 64 (query, head) pairs, the
                                       longest first (DESIGN.md section 6.2, "Which CTA computes a block") */
    int32_t ordered;              /**< 1 where ea_cuda_plan_build() listed the blocks (host) */
} ea_plan;

/** A captured CUDA graph of the device strategy's whole step. */
typedef struct ea_graph ea_graph;

/** @brief EA_OK when a CUDA device can be used, else EA_ERR_NO_DEVICE or EA_ERR_NOT_BUILT (with a message). */
ea_status ea_cuda_available(void);

/** @brief Creates a context on the current device. @param ctx receives it @return EA_OK or an error */
ea_status ea_cuda_create(ea_cuda_ctx **ctx);

/**
 * @brief Device memory free now (`cudaMemGetInfo`), for the tools' cost check before a case is run.
 * @param ctx a context
 * @param free_bytes receives the free bytes
 * @return EA_OK or an error
 */
ea_status ea_cuda_mem_free(ea_cuda_ctx *ctx, int64_t *free_bytes);

/** @brief Destroys a context (NULL-safe). Synchronises its stream first. */
void ea_cuda_destroy(ea_cuda_ctx *ctx);

/** @brief The context's stream (a `cudaStream_t`), for callers that time or add work on it. */
void *ea_cuda_stream(const ea_cuda_ctx *ctx);

/** @brief Blocking host waits since the context was made or last reset. */
int64_t ea_cuda_host_waits(const ea_cuda_ctx *ctx);

/**
 * @brief Records the host-clock interval (CLOCK_MONOTONIC, ns) of every blocking wait from now on,
 * for timeline pictures; @p buf holds @p cap (begin, end) pairs. NULL or cap 0 stops recording.
 */
void ea_cuda_trace_waits(ea_cuda_ctx *ctx, int64_t *buf, int cap);

/** @brief Waits recorded since ea_cuda_trace_waits() (at most its cap). */
int ea_cuda_traced_waits(const ea_cuda_ctx *ctx);

/** @brief Sets the wait counter to 0. */
void ea_cuda_reset_waits(ea_cuda_ctx *ctx);

/**
 * @brief Chooses the attention kernel that ea_cuda_run(), ea_cuda_extend() and graph captures
 *        queue from now on (a new context runs ::EA_KERNEL_CANONICAL).
 * @param ctx context
 * @param k the kernel
 * @return EA_OK, or EA_ERR_ARG for an unknown kernel
 */
ea_status ea_cuda_set_kernel(ea_cuda_ctx *ctx, ea_kernel k);

/** @brief Waits for all queued work (counted as one host wait). @return EA_OK or the first asynchronous error */
ea_status ea_cuda_sync(ea_cuda_ctx *ctx);

/**
 * @brief Validates a host batch, then copies it and its tensors to the device.
 * @param ctx context
 * @param b host batch
 * @param p layer parameters (sinks, if any, are copied too)
 * @param in host tensors
 * @param out receives the device batch; untouched on error, and nothing stays allocated
 * @return EA_OK, a validation error, EA_ERR_NOMEM (device memory) or EA_ERR_CUDA
 */
ea_status ea_cuda_batch_upload(ea_cuda_ctx *ctx, const ea_batch *b, const ea_params *p, const ea_inputs *in,
                               ea_dev_batch **out);

/** @brief Frees a device batch (NULL-safe). */
void ea_cuda_batch_free(ea_dev_batch *db);

/** @brief Fills the device output with the sentinel of ea_cases.h (queued). */
ea_status ea_cuda_poison_output(ea_cuda_ctx *ctx, ea_dev_batch *db);

/**
 * @brief Zeroes a plan's unified indices (queued), so that a strategy that fails to write them
 * cannot pass on what an earlier build left there. Zeros describe requests without cached keys
 * whose keys all live in slot 0: wrong outputs, never a read out of bounds.
 * @param ctx context
 * @param plan a plan made by ea_cuda_plan_create() (one never sized is left alone)
 */
ea_status ea_cuda_plan_poison(ea_cuda_ctx *ctx, ea_plan *plan);

/**
 * @brief Copies the device output to host memory (waits; counted).
 * @param ctx context
 * @param db the batch
 * @param host_o [N, Hq, Dv] host buffer, the batch's dtype
 */
ea_status ea_cuda_download_output(ea_cuda_ctx *ctx, const ea_dev_batch *db, void *host_o);

/**
 * @brief Allocates a plan with room for @p db's unified indices and its list of query blocks.
 * @param ctx context
 * @param db the batch it will serve (or any batch with no more requests and keys; one with more
 *        new tokens times query heads per KV head also gets its indices, but no block list:
 *        the tensor-core kernel then runs in its grid's order, slower, with the same bits)
 * @param plan receives the device buffers; free with ea_cuda_plan_free()
 */
ea_status ea_cuda_plan_create(ea_cuda_ctx *ctx, const ea_dev_batch *db, ea_plan *plan);

/** @brief Frees a plan's device buffers (NULL-safe, idempotent). */
void ea_cuda_plan_free(ea_plan *plan);

/**
 * @brief Builds the unified indices of @p db into @p plan with strategy @p s, then (for more
 * than one request, where the plan has room) the tensor-core kernel's list of the batch's query
 * blocks, longest first, with one more kernel (DESIGN.md section 6.2).
 *
 * per_request and batched return after their host loop (having waited
 * ea_step_expected_waits() times: 4*bs or once) and the list's kernel is queued; device returns
 * as soon as its kernels are queued.
 * @return EA_OK; EA_ERR_ARG for an unknown strategy; EA_ERR_PLAN for a plan too small for @p db
 *         or (batched) a plan created in another context; EA_ERR_CUDA
 */
ea_status ea_cuda_plan_build(ea_cuda_ctx *ctx, const ea_dev_batch *db, ea_sync s, ea_plan *plan);

/**
 * @brief Queues one layer's attention over a built plan into db->o. No host wait.
 * @return EA_OK, EA_ERR_PLAN for a plan of fewer requests than @p db, or EA_ERR_CUDA
 */
ea_status ea_cuda_run(ea_cuda_ctx *ctx, const ea_dev_batch *db, const ea_plan *plan);

/**
 * @brief Sizes the context's own plan and scratch for @p db, so that ea_cuda_extend()
 * never allocates (allocation can synchronise). A server does this once at start-up.
 */
ea_status ea_cuda_reserve(ea_cuda_ctx *ctx, const ea_dev_batch *db);

/**
 * @brief One layer as a server without plan/run does it: build the indices with @p s
 * (into the context's own plan), then run. Output in db->o.
 */
ea_status ea_cuda_extend(ea_cuda_ctx *ctx, ea_dev_batch *db, ea_sync s);

/**
 * @brief Captures the device strategy's whole step (index build + attention into db->o)
 * as a CUDA graph, for replay on the same batch (same shapes, same buffers).
 */
ea_status ea_cuda_graph_capture(ea_cuda_ctx *ctx, ea_dev_batch *db, ea_graph **g);

/** @brief Replays a captured step (queued, no host wait). */
ea_status ea_cuda_graph_launch(ea_cuda_ctx *ctx, ea_graph *g);

/** @brief Frees a graph (NULL-safe). */
void ea_cuda_graph_free(ea_graph *g);

/**
 * @brief Queues a kernel that keeps the GPU busy for about @p ns nanoseconds:
 * the "other work of the layer" that a blocking read must wait for.
 */
ea_status ea_cuda_queue_busy(ea_cuda_ctx *ctx, int64_t ns);

/**
 * @brief Allocates device memory through the context's error reporting
 * (EA_ERR_NOMEM with the size when the card has not enough).
 * @param ctx context
 * @param bytes size
 * @param ptr receives the pointer (NULL on error)
 */
ea_status ea_cuda_malloc(ea_cuda_ctx *ctx, size_t bytes, void **ptr);

/** @brief Frees memory from ea_cuda_malloc() (NULL-safe). */
void ea_cuda_free(void *ptr);

/**
 * @brief Copies a plan's unified indices to the host (waits; counted).
 * @param ctx context
 * @param plan a built plan
 * @param bs requests of the batch it was built for (at most plan->bs)
 * @param indptr [bs+1] receives unified_kv_indptr
 * @param indices receives unified_kv_indices (indptr[bs] entries; room for plan->capacity)
 * @param prefix_lens [bs] receives prefix_lens
 * @return EA_OK; EA_ERR_DIM when @p bs < 1, EA_ERR_PLAN when it exceeds plan->bs; EA_ERR_COUNT when the plan
 *         holds more indices than its capacity; EA_ERR_CUDA
 */
ea_status ea_cuda_plan_download(ea_cuda_ctx *ctx, const ea_plan *plan, int32_t bs, int32_t *indptr,
                                int64_t *indices, int32_t *prefix_lens);

/** @} */

#ifdef __cplusplus
}
#endif
#endif /* EA_CUDA_H */
