/**
 * @file ea_cases.h
 * @brief Case files (DESIGN.md section 5), the seeded input generator and output checks.
 */
#ifndef EA_CASES_H
#define EA_CASES_H

#include "ea.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup ea_cases Case files and generated problems (ea_cases.h)
 * @brief One line of a `*.cases` file describes a batch; a seed makes its data.
 *
 * @code
 * # name          requests   new tokens   cached prefix      heads/dims
 * name=seed_shape bs=32 extend=256 prefix=rand:0:512 hq=8 hkv=2 d=128 dtype=bf16
 * @endcode
 * @{
 */

/** Largest `bs` a case file may ask for. */
#define EA_CASE_MAX_BS 1024
/** Largest `extend` value in a case file. */
#define EA_CASE_MAX_EXTEND 65536
/** Largest `prefix` value in a case file. */
#define EA_CASE_MAX_PREFIX 1048576
/** Largest case file ea_cases_load() reads, in bytes (64 MiB). */
#define EA_CASE_MAX_FILE_BYTES ((size_t)64 << 20)
/** Most cases one file may hold: the parsed cases take about 160 bytes each, so at most ~40 MiB. */
#define EA_CASE_MAX_COUNT 262144

/**
 * @brief splitmix64, the project's PRNG: every random choice of a case (its lengths, slots, mask
 * and data) is drawn with it from the case's `seed`, and tools that invent data use it too.
 * Tiny and fully specified, so a seed gives the same data on every machine.
 * @param state the generator's state, advanced by one step
 * @return the next 64 random bits
 */
static inline uint64_t ea_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/** How a per-request length was given. */
typedef enum {
    EA_LEN_ALL = 0,  /**< one value for every request */
    EA_LEN_LIST = 1, /**< `a,b,c`: one value per request */
    EA_LEN_RAND = 2  /**< `rand:LO:HI`: uniform in [LO, HI], drawn from the seed */
} ea_len_kind;

/** A per-request length (`extend=` or `prefix=`). */
typedef struct {
    ea_len_kind kind;     /**< how it was written */
    int32_t lo;           /**< the value (ALL) or the low bound (RAND) */
    int32_t hi;           /**< the high bound (RAND) */
    int32_t count;        /**< number of values in list (LIST: must equal the case's bs) */
    const int32_t *list;  /**< the values (LIST), count of them; NULL otherwise */
} ea_len_spec;

/** One parsed line of a case file. */
typedef struct {
    char name[64];       /**< identifier */
    int line;            /**< line number in its file */
    int32_t bs;          /**< requests */
    ea_len_spec extend;  /**< new tokens per request */
    ea_len_spec prefix;  /**< cached tokens per request */
    int32_t hq;          /**< query heads */
    int32_t hkv;         /**< key/value heads */
    int32_t dqk;         /**< query/key head dimension */
    int32_t dv;          /**< value head dimension */
    ea_dtype dtype;      /**< storage type */
    int32_t causal;      /**< 0 or 1 */
    int32_t window;      /**< -1 or W >= 0 */
    float cap;           /**< logit cap, 0 = off */
    int32_t sinks;       /**< 1: one random sink per query head */
    int32_t mask;        /**< 1: random custom mask (some rows fully masked) */
    uint64_t seed;       /**< seed of every random choice of the case */
    int32_t slots_linear;/**< 1: slot = position order; 0: shuffled pool */
} ea_case;

/**
 * @brief Parses the text of a case file.
 *
 * Lines end with LF, CRLF or a lone CR. A key given twice on a line is an error. Time and memory
 * are linear in the text: names are checked for repeats in a hash set, and a case stores its
 * lists (`a,b,c`) with bs values, not a fixed maximum. At most ::EA_CASE_MAX_COUNT cases.
 * @param text NUL-terminated file contents
 * @param cases on success, ONE malloc'ed block holding the cases and their lists (free() it once);
 *        untouched on error
 * @param count on success, the number of cases
 * @return EA_OK, or EA_ERR_PARSE with a message naming the line and key (EA_ERR_NOMEM)
 */
ea_status ea_cases_parse(const char *text, ea_case **cases, int *count);

/**
 * @brief Reads and parses a case file (EA_ERR_IO if it cannot be read or is larger than
 * ::EA_CASE_MAX_FILE_BYTES). Same outputs as ea_cases_parse().
 */
ea_status ea_cases_load(const char *path, ea_case **cases, int *count);

/**
 * @brief Checks a case, parsed or made by hand, against the limits of the case-file format:
 * bs in 1..::EA_CASE_MAX_BS, lengths in range (`rand` with LO <= HI, a list of exactly bs values),
 * heads, dimensions and flags as ea_validate() wants them.
 */
ea_status ea_case_check(const ea_case *c);

/**
 * What a case costs, from the case alone (no allocation): every size in bytes, saturating at
 * INT64_MAX rather than overflowing.
 */
typedef struct {
    int64_t tokens;        /**< sum T_i: every position of every request */
    int64_t new_tokens;    /**< N = sum E_i as drawn */
    int64_t max_len;       /**< longest T_i */
    int64_t out_elems;     /**< N * Hq * Dv */
    int64_t problem_bytes; /**< every buffer of ea_problem_make() */
    int64_t batch_bytes;   /**< every buffer of ea_host_batch_make(), for the split as drawn or the
                                prefix-split check's (ea_alt_prefix_len()), whichever is larger */
    int64_t scratch_bytes; /**< the largest scratch of a CPU reference (OpenBLAS, canonical, float64) */
    int64_t device_bytes;  /**< device memory of one GPU run: the uploaded batch, pools, output, plan */
    int64_t pairs;         /**< visible (query row, key) pairs, an upper bound (a mask counts every key) */
    int64_t flop;          /**< work of one attention, pairs x Hq x 2 (Dqk + Dv), over the split as drawn or
                                the prefix-split check's, whichever is larger (a long prefix split in
                                half makes that many new rows) */
} ea_cost;

/** @brief The cost of a case (checked with ea_case_check() first); draws its lengths as ea_problem_make() does. */
ea_status ea_case_cost(const ea_case *c, ea_cost *cost);

/**
 * Default work limit of the tools, in GFLOP per attention: the default cases need at most 18; ea-compare's CPU
 * checks of a 100 GFLOP case take up to about an hour on one core.
 */
#define EA_DEFAULT_MAX_GFLOP 100.0

/** Limits a tool runs a case under. */
typedef struct {
    int64_t host_bytes;   /**< most host memory a case may need */
    int64_t device_bytes; /**< most device memory (0: not checked) */
    double gflop;         /**< most work of one attention, in GFLOP */
} ea_limits;

/** @brief Host memory that can be allocated now: MemAvailable of /proc/meminfo, else physical memory (0 if unknown). */
int64_t ea_host_memory_available(void);

/** @brief Defaults that fit the machine: 3/4 of the available host memory, ::EA_DEFAULT_MAX_GFLOP, no device limit. */
ea_limits ea_limits_default(void);

/**
 * @brief Reads a tool's limit option: `--max-bytes BYTES` (a k, M, G or T suffix: powers of 1000)
 * or `--max-gflop GFLOP`, both positive and finite.
 * @param opt the option's name
 * @param value its value (may be NULL: then the option is incomplete)
 * @param lim updated when the option is one of the two and its value is good
 * @return 1 when @p opt is a limit option with a good value, 0 when it is not a limit option,
 *         -1 when it is one but @p value is missing or bad (nothing changed)
 */
int ea_limits_option(const char *opt, const char *value, ea_limits *lim);

/**
 * @brief EA_OK when a case's needs are within the limits, else EA_ERR_LIMIT with a one-line message
 * naming the case, the need, the limit and the option that raises it (`--max-bytes`, `--max-gflop`).
 * @param name the case's name
 * @param host_bytes host memory it needs
 * @param device_bytes device memory it needs (checked when lim->device_bytes > 0)
 * @param flop its work
 * @param lim the limits
 */
ea_status ea_cost_within(const char *name, int64_t host_bytes, int64_t device_bytes, int64_t flop,
                         const ea_limits *lim);

/**
 * A generated problem: for every request, ALL its positions (prefix and new)
 * with their slot, query and mask row, so any split into cached and new
 * tokens, or any subset of requests, can be made into a batch.
 */
typedef struct {
    ea_case spec;          /**< the case it was made from (its lists not kept: list is NULL) */
    ea_params params;      /**< layer parameters (sinks point into this problem) */
    int32_t bs;            /**< requests */
    int32_t *prefix_lens;  /**< [bs] P_i as drawn */
    int32_t *seq_lens;     /**< [bs] T_i = P_i + E_i */
    int64_t *seq_start;    /**< [bs+1] offset of request i's positions in slots / q_all */
    int64_t *slots;        /**< [sum T] slot of each position */
    void *q_all;           /**< [sum T, Hq, Dqk] a query for every position */
    int64_t pool_size;     /**< slots in the pool (a few are never used) */
    void *k_pool;          /**< [pool, Hkv, Dqk] */
    void *v_pool;          /**< [pool, Hkv, Dv] */
    uint8_t *mask;         /**< NULL, or request i's T_i x T_i mask at mask_start[i] */
    int64_t *mask_start;   /**< [bs] */
    float *sinks;          /**< [Hq] or NULL */
} ea_problem;

/**
 * @brief Generates the data of a case from its seed; identical on every machine.
 *
 * The case is checked first (ea_case_check(): a hand-made case gets the same limits as a parsed
 * one); nothing is allocated for a case that fails.
 */
ea_status ea_problem_make(const ea_case *c, ea_problem *pr);

/** @brief Frees a problem (NULL-safe). */
void ea_problem_free(ea_problem *pr);

/**
 * @brief One rank's share of a problem under tensor parallelism over @p tp ranks.
 *
 * Rank @p rank holds query heads [rank Hq/tp, (rank+1) Hq/tp) and the KV heads they read,
 * [rank Hkv/tp, (rank+1) Hkv/tp), with their sinks; lengths, slots and mask are the same. The
 * shard's output is bit for bit those heads' slice of the whole problem's output (DESIGN.md
 * section 8). Nothing is written to @p shard on an error.
 * @param full the whole problem (not changed)
 * @param rank 0 <= rank < tp
 * @param tp ranks; must divide Hkv (EA_ERR_HEADS otherwise)
 * @param shard filled with new arrays; release with ea_problem_free()
 * @return EA_OK; EA_ERR_NULL (a pointer or one of the problem's arrays missing); the status of
 *         invalid parameters (ea_validate()'s); EA_ERR_HEADS; EA_ERR_RANGE; EA_ERR_NOMEM
 */
ea_status ea_problem_shard_heads(const ea_problem *full, int32_t rank, int32_t tp, ea_problem *shard);

/** A batch built from a problem: owns its metadata, queries and output buffer. */
typedef struct {
    ea_batch batch;           /**< the metadata view, pointing into this struct's arrays */
    ea_inputs in;             /**< q (owned), k_pool and v_pool (the problem's) */
    int32_t num_tokens;       /**< N */
    void *o;                  /**< [N, Hq, Dv] output buffer, p->dtype */
    size_t o_bytes;           /**< size of o */
    int32_t *qo_indptr;       /**< [bs+1] */
    int32_t *prefix_kv_indptr;/**< [bs+1] */
    int64_t *prefix_kv_indices;/**< [sum P] */
    int32_t *extend_start_loc;/**< [bs] */
    int32_t *extend_seq_lens; /**< [bs] */
    int64_t *extend_kv_indices;/**< [N] */
    uint8_t *custom_mask;     /**< NULL or the masks */
    int32_t *mask_indptr;     /**< NULL or [bs+1] */
} ea_host_batch;

/**
 * @brief Makes a batch of some of a problem's requests with a chosen split.
 *
 * The new tokens' slots are laid out in reverse batch order in extend_kv_indices, so
 * extend_start_loc[k] != qo_indptr[k] whenever another request has new tokens.
 * @param pr the problem
 * @param reqs which requests, in batch order (NULL: all, in order)
 * @param n number of requests in @p reqs (ignored when reqs is NULL)
 * @param prefix_lens [n] cached tokens of each (NULL: as drawn); must be <= T_i
 * @param hb filled on success; free with ea_host_batch_free()
 * @return EA_OK; EA_ERR_DIM for no requests, EA_ERR_RANGE for a request not in the problem,
 *         EA_ERR_COUNT for a prefix outside [0, T_i], EA_ERR_OVERFLOW, EA_ERR_NOMEM
 */
ea_status ea_host_batch_make(const ea_problem *pr, const int32_t *reqs, int32_t n, const int32_t *prefix_lens,
                             ea_host_batch *hb);

/** @brief Frees a host batch (NULL-safe). */
void ea_host_batch_free(ea_host_batch *hb);

/** @brief The row of query position @p pos (counted in request order) of @p hb's request @p i, or -1. */
int64_t ea_host_batch_row(const ea_host_batch *hb, int32_t i, int32_t pos);

/**
 * @brief Says where element @p x of @p hb's output [N, Hq, Dv] belongs, for a failure message:
 * "request 1, new token 3 (position 67), head 2, dim 5 (o[1234])".
 * @param hb the batch
 * @param p its layer parameters (Hq, Dv)
 * @param x flat index into the output
 * @param buf receives the text (truncated to @p len)
 * @param len size of @p buf
 * @return @p buf
 */
const char *ea_host_batch_where(const ea_host_batch *hb, const ea_params *p, int64_t x, char *buf, size_t len);

/** @} */

/**
 * @defgroup ea_check Output checks (ea_cases.h)
 * @brief Bitwise and tolerance comparisons, sentinel filling.
 * @{
 */

/** The bit pattern written into outputs before a run; an element still holding it was never written. */
#define EA_SENTINEL_F32 0x7fa5a5a5u
/** The bf16 sentinel (a signalling-NaN pattern no arithmetic produces). */
#define EA_SENTINEL_BF16 0x7fa5u

/** Result of a comparison. */
typedef struct {
    int64_t count;     /**< elements compared */
    int64_t differ;    /**< elements that differ (bitwise) or exceed the tolerance */
    int64_t first;     /**< index of the first such element, -1 if none */
    double a_first;    /**< value of a at first */
    double b_first;    /**< value of b at first */
    double max_rel;    /**< tolerance compares: max |a-b| over the element's scale (ea_compare_mag(), ea_compare_tol()) */
    int64_t sentinels; /**< elements of a still holding the sentinel */
    ea_status status;  /**< EA_OK, or why the comparison could not be made (then differ is 1) */
} ea_diff;

/** @brief Fills @p n elements of @p dt with the sentinel pattern. */
void ea_fill_sentinel(void *buf, ea_dtype dt, int64_t n);

/**
 * @brief Compares bit patterns over the whole buffer; any two NaNs count as equal, -0 != +0.
 * Also counts sentinels left in @p a.
 */
ea_diff ea_compare_bits(const void *a, const void *b, ea_dtype dt, int64_t n);

/**
 * @brief Compares @p a (dtype @p dt) with a double reference, row by row.
 *
 * An element passes when |a - ref| <= rel_tol * (largest |ref| of its row)
 * (+ one bf16 ulp, |ref| * 2^-7, for bf16 outputs: each side rounds on its own);
 * NaN must meet NaN.
 * @param a the output under test
 * @param dt its dtype
 * @param ref the reference, as double
 * @param n elements
 * @param row_len elements per row (>= 1): Hq*Dv, one token's output
 * @param rel_tol relative tolerance, >= 0
 */
ea_diff ea_compare_tol(const void *a, ea_dtype dt, const double *ref, int64_t n, int64_t row_len, double rel_tol);

/**
 * @brief Compares @p a (dtype @p dt) with a double reference, each element against the magnitude
 * that produced it.
 *
 * An element passes when |a - ref| <= rel_tol * mag (+ one bf16 ulp, |ref| * 2^-7, for bf16
 * outputs: each side rounds on its own); NaN must meet NaN, an infinity the same infinity. With
 * `mag` from ea_reference_f64_mag() the bound follows the rounding error of any summation order,
 * so an output that cancels to nearly zero is judged as strictly as a large one, and no more.
 * @param a the output under test
 * @param dt its dtype
 * @param ref the reference, as double
 * @param mag the magnitude of each element, >= |ref|
 * @param n elements
 * @param rel_tol relative tolerance, >= 0
 */
ea_diff ea_compare_mag(const void *a, ea_dtype dt, const double *ref, const double *mag, int64_t n, double rel_tol);

/** @brief Converts @p n elements of @p dt to double (for ea_compare_tol references). */
void ea_to_double(const void *a, ea_dtype dt, int64_t n, double *out);

/**
 * A backend under test: computes extend attention for a host batch into @p o
 * ([N, Hq, Dv], the problem's dtype). The CPU canonical reference, the GPU
 * strategies and the exercises all fit this shape.
 */
typedef ea_status (*ea_runner)(void *ctx, const ea_problem *pr, const ea_host_batch *hb, void *o);

/** @brief The runner for ea_reference_canonical() (@p ctx unused). */
ea_status ea_run_canonical(void *ctx, const ea_problem *pr, const ea_host_batch *hb, void *o);

/** @brief The runner for ea_reference_tc() (@p ctx unused). */
ea_status ea_run_tc(void *ctx, const ea_problem *pr, const ea_host_batch *hb, void *o);

/**
 * @brief Batch invariance: runs each request of @p full alone and compares its rows bitwise
 * with @p o_full (the whole batch's output). Outputs are sentinel-filled before each run.
 * @param pr the problem @p full was made from (all its requests, in order)
 * @param run the backend under test
 * @param ctx passed to @p run
 * @param full the whole batch
 * @param o_full its output
 * @param out the comparison, accumulated over all requests
 */
ea_status ea_check_batch_invariance(const ea_problem *pr, ea_runner run, void *ctx, const ea_host_batch *full,
                                    const void *o_full, ea_diff *out);

/**
 * @brief The alternative split of request i used by the prefix-split checks:
 * half the cached prefix becomes new tokens (P/2), or when nothing is cached,
 * the first half of the new tokens becomes the prefix (E/2).
 */
int32_t ea_alt_prefix_len(int32_t prefix_len, int32_t extend_len);

/**
 * @brief Prefix-split invariance: rebuilds the batch with ea_alt_prefix_len() splits, runs it,
 * and compares bitwise the rows of the positions both batches compute.
 * Parameters as for ea_check_batch_invariance(); @p full must hold all the problem's requests, in
 * order (EA_ERR_COUNT otherwise).
 */
ea_status ea_check_split_invariance(const ea_problem *pr, ea_runner run, void *ctx, const ea_host_batch *full,
                                    const void *o_full, ea_diff *out);

/**
 * @brief Head-split invariance: runs each of the @p tp shards of ea_problem_shard_heads() on the
 * same split as @p full and compares its output bitwise with its heads' slice of @p o_full: what
 * a tensor-parallel rank must compute (DESIGN.md section 8).
 * @param pr the problem @p full was made from
 * @param run the backend under test
 * @param ctx passed to @p run
 * @param full the whole batch: all the problem's requests, in order (EA_ERR_COUNT otherwise); its
 *        split is kept for every shard
 * @param o_full its output
 * @param tp ranks; must divide Hkv (EA_ERR_HEADS otherwise)
 * @param out the comparison, accumulated over all ranks (written only on EA_OK)
 */
ea_status ea_check_head_split_invariance(const ea_problem *pr, ea_runner run, void *ctx, const ea_host_batch *full,
                                         const void *o_full, int32_t tp, ea_diff *out);

/** @} */

#ifdef __cplusplus
}
#endif
#endif /* EA_CASES_H */
