/**
 * @file ea.h
 * @brief Extend attention: the data model, status codes and the CPU references.
 *
 * Dimension legend, used in every shape comment of the project:
 *
 * | name  | meaning                                                    |
 * |-------|------------------------------------------------------------|
 * | `bs`  | requests in the batch                                      |
 * | `N`   | new (extend) tokens in the batch, `sum E_i`                |
 * | `Hq`  | query heads; `Hkv` key/value heads, `G = Hq / Hkv`         |
 * | `Dqk` | query/key head dimension; `Dv` value head dimension        |
 * | `P_i` | cached prefix tokens of request i; `E_i` its new tokens    |
 * | `pool`| slots in the KV pool                                       |
 *
 * Every public function returns an ::ea_status and never prints or aborts;
 * ea_last_error() gives the message of the last failure on this thread.
 */
#ifndef EA_H
#define EA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup ea_model Data model and status (ea.h)
 * @brief The batch, the layer parameters and the errors, as DESIGN.md section 1 and 4 define them.
 * @{
 */

/** Largest head dimension (`Dqk`, `Dv`) accepted. */
#define EA_MAX_HEAD_DIM 256
/** Largest number of query heads accepted (and of KV heads). */
#define EA_MAX_HEADS 256
/** Largest number of elements of any tensor or index array: indices fit in int32 on the GPU. */
#define EA_MAX_ELEMENTS ((int64_t)INT32_MAX)
/** Keys per tile of the canonical order (DESIGN.md section 2) and of the tensor-core order (section 6.2). */
#define EA_TILE 64
/**
 * Most unified keys of a batch, `sum (P_i + E_i)`, so of any one request: two tiles below
 * INT32_MAX, so that every tile index the CPU and GPU loops form (a key index plus at most one
 * tile) stays inside int32.
 */
#define EA_MAX_UNIFIED ((int64_t)INT32_MAX - 2 * EA_TILE)
/** (query row, query head) pairs per block of the tensor-core order (DESIGN.md section 6.2). */
#define EA_TC_BLOCK_PAIRS 64

/**
 * The status table: one line per code, expanded into the enum and into
 * ea_status_str(), so the two can never disagree.
 */
#define EA_STATUS_TABLE(X)                                                        \
    X(EA_OK, "ok")                                                                \
    X(EA_ERR_NULL, "a required pointer is NULL")                                  \
    X(EA_ERR_DIM, "a dimension is zero, negative or too large")                  \
    X(EA_ERR_HEADS, "Hq is not a multiple of Hkv")                                \
    X(EA_ERR_SCALAR, "sm_scale or logit_cap is not finite, or a parameter is out of range") \
    X(EA_ERR_COUNT, "sizes or counts disagree")                                   \
    X(EA_ERR_INDPTR, "an offset array is negative or decreasing")                 \
    X(EA_ERR_SLOT, "a KV slot is outside the pool")                               \
    X(EA_ERR_MASK, "the custom mask does not match the batch")                    \
    X(EA_ERR_OVERFLOW, "a size overflows")                                        \
    X(EA_ERR_NOMEM, "out of host memory")                                         \
    X(EA_ERR_PARSE, "bad case file")                                              \
    X(EA_ERR_IO, "cannot read a file")                                            \
    X(EA_ERR_NO_DEVICE, "no CUDA device")                                         \
    X(EA_ERR_CUDA, "CUDA error")                                                  \
    X(EA_ERR_NOT_BUILT, "this part was not built")                               \
    X(EA_ERR_LIMIT, "the work or memory asked for is over the limit")            \
    X(EA_ERR_ARG, "an argument names no known strategy or kernel")               \
    X(EA_ERR_PLAN, "the plan is too small for the batch or was made in another context") \
    X(EA_ERR_RANGE, "an index names no element of its array")

/** Status of every public function: one code per line of EA_STATUS_TABLE, whose text ea_status_str() returns. */
typedef enum {
#define EA_X_ENUM(code, text) code,
    EA_STATUS_TABLE(EA_X_ENUM)
#undef EA_X_ENUM
    EA_STATUS_COUNT /**< number of codes, not a status */
} ea_status;

/** @brief A fixed description of a status code ("unknown status" if out of range). */
const char *ea_status_str(ea_status s);

/**
 * @brief The detailed message of the last failure on this thread,
 * e.g. `request 3: prefix_kv_indptr decreases (12 -> 9)`; "" if none yet.
 */
const char *ea_last_error(void);

/** Element type of q, k_pool, v_pool and o. Arithmetic is always fp32. */
typedef enum {
    EA_F32 = 0, /**< IEEE binary32 */
    EA_BF16 = 1 /**< bfloat16 (top half of a binary32), stored as uint16_t */
} ea_dtype;

/** @brief Bytes per element of a dtype. */
size_t ea_dtype_size(ea_dtype t);

/**
 * The batch metadata, as SGLang's ForwardBatch names it. Arrays are host
 * memory for the CPU reference (device memory for the GPU path). Request i
 * owns query rows `qo_indptr[i] .. qo_indptr[i+1]-1`, prefix slots
 * `prefix_kv_indices[prefix_kv_indptr[i] ..]` and new slots
 * `extend_kv_indices[extend_start_loc[i] .. + extend_seq_lens[i]]`.
 */
typedef struct {
    int32_t bs;                       /**< number of requests, >= 1 */
    int64_t pool_size;                /**< slots in the KV pool */
    const int32_t *qo_indptr;         /**< [bs+1], qo_indptr[0] = 0, qo_indptr[bs] = N */
    const int32_t *prefix_kv_indptr;  /**< [bs+1] offsets into prefix_kv_indices */
    const int64_t *prefix_kv_indices; /**< [num_prefix_indices] pool slots, position order */
    int64_t num_prefix_indices;       /**< length of prefix_kv_indices */
    const int32_t *extend_start_loc;  /**< [bs] offset of request i in extend_kv_indices */
    const int32_t *extend_seq_lens;   /**< [bs] E_i, must agree with qo_indptr */
    const int64_t *extend_kv_indices; /**< [N] pool slots of the new tokens (out_cache_loc) */
    int32_t max_extend_len;           /**< max E_i, known on the host */
    const uint8_t *custom_mask;       /**< optional: request i has an E_i x (P_i+E_i) mask at mask_indptr[i] */
    const int32_t *mask_indptr;       /**< [bs+1], required with custom_mask */
    int64_t mask_size;                /**< length of custom_mask */
} ea_batch;

/** Layer parameters. Start from ea_params_default() and change what differs. */
typedef struct {
    int32_t hq;             /**< query heads Hq */
    int32_t hkv;            /**< key/value heads Hkv; query head h reads KV head h / (Hq/Hkv) */
    int32_t dqk;            /**< query/key head dimension */
    int32_t dv;             /**< value head dimension */
    float sm_scale;         /**< score scale, usually 1/sqrt(Dqk) */
    float logit_cap;        /**< 0: off; else s = cap * tanh(s / cap) */
    int32_t causal;         /**< 1: key u visible to position t when u <= t */
    int32_t sliding_window; /**< -1: off; W >= 0: also t - u <= W */
    const float *sinks;     /**< [Hq] attention sink logits, or NULL */
    ea_dtype dtype;         /**< storage type of q, k_pool, v_pool and o */
} ea_params;

/** @brief Parameters with the defaults of DESIGN.md: causal, no window/cap/sinks, f32, sm_scale = 1/sqrt(dqk). */
ea_params ea_params_default(int32_t hq, int32_t hkv, int32_t dqk, int32_t dv);

/** The tensors of one layer (host memory for the CPU functions). */
typedef struct {
    const void *q;      /**< [N, Hq, Dqk] */
    const void *k_pool; /**< [pool, Hkv, Dqk] */
    const void *v_pool; /**< [pool, Hkv, Dv] */
} ea_inputs;

/**
 * @brief Checks a batch and its parameters against everything DESIGN.md section 4 lists.
 *
 * Reads the host arrays of @p b; writes nothing but the error message.
 * @param b host batch
 * @param p layer parameters
 * @return EA_OK, or the specific error (ea_last_error() names the request and values)
 */
ea_status ea_validate(const ea_batch *b, const ea_params *p);

/** @} */

/**
 * @defgroup ea_reference CPU references (ea.h)
 * @brief The unified index builder and the three ways to compute extend attention on the CPU.
 * @{
 */

/**
 * The unified key sequence of every request (DESIGN.md section 1): request
 * i's keys are `unified_kv_indices[unified_kv_indptr[i] .. unified_kv_indptr[i+1])`,
 * its P_i prefix slots followed by its E_i new slots.
 */
typedef struct {
    int32_t bs;                   /**< requests */
    int32_t *unified_kv_indptr;   /**< [bs+1] exclusive scan of P_i + E_i */
    int64_t *unified_kv_indices;  /**< [unified_kv_indptr[bs]] pool slots */
    int32_t *prefix_lens;         /**< [bs] P_i */
} ea_unified;

/**
 * @brief Builds the unified key sequence on the CPU (validates @p b first).
 * @param b host batch
 * @param p layer parameters (validated with the batch)
 * @param out filled with malloc'ed arrays; release with ea_unified_free()
 * @return EA_OK or an error (then @p out holds nothing to free)
 */
ea_status ea_unified_build(const ea_batch *b, const ea_params *p, ea_unified *out);

/** @brief Frees what ea_unified_build() allocated (NULL-safe, idempotent). */
void ea_unified_free(ea_unified *u);

/**
 * @brief Extend attention in the canonical order of DESIGN.md section 2: the bitwise contract.
 *
 * Readable C, no intrinsics: per request and KV head, tiles of 64 unified
 * keys are gathered once and used by every query row and every query head of
 * the group, as the GPU kernel does; each output value is produced by the
 * exact operation sequence of the design.
 * @param b host batch (validated first; nothing is written on error)
 * @param p layer parameters
 * @param in q [N,Hq,Dqk], k_pool [pool,Hkv,Dqk], v_pool [pool,Hkv,Dv], dtype p->dtype
 * @param o  [N, Hq, Dv] output, dtype p->dtype
 * @return EA_OK or an error
 */
ea_status ea_reference_canonical(const ea_batch *b, const ea_params *p, const ea_inputs *in, void *o);

/**
 * @brief The textbook reference: gather, `cblas_sgemm` for Q K^T, softmax with libm, `cblas_sgemm` for P V.
 *
 * The query heads that share a KV head are stacked into one GEMM. BLAS fixes
 * no summation order, so this agrees with the canonical order to a tolerance,
 * not bitwise. Same arguments and errors as ea_reference_canonical().
 */
ea_status ea_reference_blas(const ea_batch *b, const ea_params *p, const ea_inputs *in, void *o);

/**
 * @brief A plain float64 loop (libm `exp`/`tanh`), the accuracy yardstick for both fp32 references.
 * @param b host batch
 * @param p layer parameters
 * @param in q, k_pool, v_pool as for ea_reference_canonical()
 * @param o [N, Hq, Dv] double output
 * @return EA_OK or an error
 */
ea_status ea_reference_f64(const ea_batch *b, const ea_params *p, const ea_inputs *in, double *o);

/**
 * @brief ea_reference_f64(), and next to each output the magnitude that produced it.
 *
 * `mag[k] = sum_u p_u |v_u[d]| / l` for output `k` (row, head h, dimension d), with the float64
 * probabilities `p_u` and denominator `l` (sinks included) of that row and head; 0 where no key is
 * visible. `|o[k]| <= mag[k]` always, and an fp32 evaluation's rounding error is a multiple of
 * `mag[k]` however much the terms cancel: it is the scale of ea_compare_mag().
 * @param b host batch
 * @param p layer parameters
 * @param in q, k_pool, v_pool as for ea_reference_canonical()
 * @param o [N, Hq, Dv] double output
 * @param mag [N, Hq, Dv] the magnitudes
 * @return EA_OK or an error
 */
ea_status ea_reference_f64_mag(const ea_batch *b, const ea_params *p, const ea_inputs *in, double *o, double *mag);

/**
 * @brief Extend attention in the tensor-core order of DESIGN.md section 6.2: the contract of the
 * tensor-core kernel, bit for bit.
 *
 * q, k and v are rounded to bf16 (nearest even) as they are read; every product-sum is a chain of
 * `mma.m16n8k16` steps computed by the model of ea_mma.h; the softmax around them is exact IEEE
 * fp32 with the shared ea_expf() and ea_tanhf(). Blocks of ::EA_TC_BLOCK_PAIRS (query row, query
 * head) pairs are spread over the host's cores; the result does not depend on how many.
 * Same arguments and errors as ea_reference_canonical().
 */
ea_status ea_reference_tc(const ea_batch *b, const ea_params *p, const ea_inputs *in, void *o);

/**
 * @brief The two-stage design of non-deterministic servers: a prefix pass, an
 * extend pass (tiles restart at the first new token), merged by log-sum-exp.
 *
 * Mathematically equal to the unified one; in floating point its bits depend
 * on where the prefix ends, so it is not prefix-split invariant. It exists to
 * show that. Same arguments and errors as ea_reference_canonical().
 */
ea_status ea_reference_two_stage(const ea_batch *b, const ea_params *p, const ea_inputs *in, void *o);

/** @} */

#ifdef __cplusplus
}
#endif
#endif /* EA_H */
