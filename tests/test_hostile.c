/* Every public function of every header, called with hostile arguments: NULL
 * pointers, values out of range, sizes that overflow, hand-made cases the
 * parser would never produce. Each call must return its specific status (no
 * crash, no hang, no sanitizer report: `make test` runs this under ASan and
 * UBSan too) and leave its outputs untouched.
 *
 * Not here: the arithmetic of ea_math.h and ea_mma.h (fixed-size arrays, no
 * status to return: every bit pattern is a valid input, tested in test_math and
 * test_mma), and functions of no pointer and no range (ea_params_default). */
#include "test_util.h"
#include "../optimized/ea_cuda_testing.h"
#include "ea_cuda.h"
#include "ea_cuda_runner.h"
#include <math.h>
#include "ea_mma_vectors.h"

/* A small valid problem and batch, and a valid case, for the calls to spoil one argument of. */
static ea_problem pr;
static ea_host_batch hb;
static ea_case good;
static float out[4096];
static double out64[4096], mag64[4096];
static ea_diff diff;

static int setup(void **state)
{
    (void)state;
    ea_case *c;
    int n;
    if (ea_cases_parse("name=h bs=2 extend=3 prefix=2 hq=2 hkv=1 d=4 mask=rand", &c, &n) != EA_OK)
        return -1;
    good = c[0];
    free(c);
    if (ea_problem_make(&good, &pr) != EA_OK || ea_host_batch_make(&pr, NULL, 0, NULL, &hb) != EA_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ea_host_batch_free(&hb);
    ea_problem_free(&pr);
    return 0;
}

/* ---- ea.h ---- */
static ea_status validate_no_batch(void) { return ea_validate(NULL, &pr.params); }
static ea_status validate_no_params(void) { return ea_validate(&hb.batch, NULL); }
static ea_status unified_no_out(void) { return ea_unified_build(&hb.batch, &pr.params, NULL); }
static ea_status unified_no_batch(void)
{
    ea_unified u;
    return ea_unified_build(NULL, &pr.params, &u);
}

typedef ea_status (*reference_fn)(const ea_batch *, const ea_params *, const ea_inputs *, void *);
static ea_status f64_as_void(const ea_batch *b, const ea_params *p, const ea_inputs *in, void *o)
{
    return ea_reference_f64(b, p, in, o);
}
static const reference_fn REFERENCES[] = {ea_reference_canonical, ea_reference_blas, ea_reference_tc,
                                          ea_reference_two_stage, f64_as_void};

/* Every reference, with each of its pointers missing in turn: EA_ERR_NULL from all. */
static ea_status references_without_an_argument(void)
{
    const ea_inputs no_q = {NULL, hb.in.k_pool, hb.in.v_pool}, no_v = {hb.in.q, hb.in.k_pool, NULL};
    for (size_t r = 0; r < sizeof REFERENCES / sizeof *REFERENCES; r++) {
        const ea_status st[] = {REFERENCES[r](NULL, &pr.params, &hb.in, out), REFERENCES[r](&hb.batch, NULL, &hb.in, out),
                                REFERENCES[r](&hb.batch, &pr.params, NULL, out),
                                REFERENCES[r](&hb.batch, &pr.params, &no_q, out),
                                REFERENCES[r](&hb.batch, &pr.params, &no_v, out),
                                REFERENCES[r](&hb.batch, &pr.params, &hb.in, NULL)};
        for (size_t k = 0; k < sizeof st / sizeof *st; k++)
            if (st[k] != EA_ERR_NULL)
                return st[k] == EA_OK ? EA_ERR_COUNT : st[k];
    }
    return EA_ERR_NULL;
}
static ea_status f64_mag_no_mag(void) { return ea_reference_f64_mag(&hb.batch, &pr.params, &hb.in, out64, NULL); }

/* ---- ea_cases.h: parsing ---- */
static ea_status parse_no_text(void)
{
    ea_case *c;
    int n;
    return ea_cases_parse(NULL, &c, &n);
}
static ea_status parse_no_cases(void)
{
    int n;
    return ea_cases_parse("name=a bs=1 extend=1", NULL, &n);
}
static ea_status parse_no_count(void)
{
    ea_case *c;
    return ea_cases_parse("name=a bs=1 extend=1", &c, NULL);
}
static ea_status load_no_path(void)
{
    ea_case *c;
    int n;
    return ea_cases_load(NULL, &c, &n);
}

/* ---- ea_cases.h: hand-made cases, through ea_problem_make (which must allocate nothing for them) ---- */
static ea_status make_case(void (*spoil)(ea_case *))
{
    ea_case c = good;
    int32_t list[4] = {1, 2, 3, 4};
    c.extend.list = list; /* room for the spoilers that make a list */
    c.extend.count = 0;
    spoil(&c);
    ea_problem p;
    memset(&p, 0xab, sizeof p);
    ea_problem before = p;
    const ea_status st = ea_problem_make(&c, &p);
    if (st == EA_OK) {
        ea_problem_free(&p);
        return EA_OK;
    }
    return memcmp(&p, &before, sizeof p) ? EA_ERR_COUNT : st; /* a refusal writes nothing */
}
static void bs_zero(ea_case *c) { c->bs = 0; }
static void bs_too_big(ea_case *c) { c->bs = EA_CASE_MAX_BS + 1; }
static void rand_lo_above_hi(ea_case *c) { c->extend = (ea_len_spec){.kind = EA_LEN_RAND, .lo = 5, .hi = 2}; }
static void rand_negative(ea_case *c) { c->prefix = (ea_len_spec){.kind = EA_LEN_RAND, .lo = -3, .hi = 2}; }
static void rand_too_long(ea_case *c) { c->prefix = (ea_len_spec){.kind = EA_LEN_RAND, .lo = 0, .hi = INT32_MAX}; }
static void list_without_values(ea_case *c) { c->extend = (ea_len_spec){.kind = EA_LEN_LIST, .count = 2}; }
static void list_longer_than_bs(ea_case *c) { c->extend.kind = EA_LEN_LIST, c->extend.count = 4; }
static void list_shorter_than_bs(ea_case *c) { c->extend.kind = EA_LEN_LIST, c->extend.count = 1; }
static void list_negative(ea_case *c)
{
    static const int32_t values[2] = {3, -1};
    c->extend = (ea_len_spec){.kind = EA_LEN_LIST, .count = 2, .list = values};
}
static void unknown_kind(ea_case *c) { c->extend.kind = (ea_len_kind)7; }
static void extend_too_long(ea_case *c) { c->extend.lo = EA_CASE_MAX_EXTEND + 1; }
static void heads_indivisible(ea_case *c) { c->hq = 3, c->hkv = 2; }
static void heads_negative(ea_case *c) { c->hkv = -2; }
static void dim_zero(ea_case *c) { c->dv = 0; }
static void dim_huge(ea_case *c) { c->dqk = INT32_MAX; }
static void dtype_unknown(ea_case *c) { c->dtype = (ea_dtype)9; }
static void window_below(ea_case *c) { c->window = -5; }
static void cap_nan(ea_case *c) { c->cap = NAN; }
static void causal_two(ea_case *c) { c->causal = 2; }
static void mask_two(ea_case *c) { c->mask = 2; }
static void name_unterminated(ea_case *c) { memset(c->name, 'x', sizeof c->name); }
/* every size at the format's maximum: the tensors exceed EA_MAX_ELEMENTS, refused before allocating */
static void sizes_overflow(ea_case *c)
{
    c->bs = EA_CASE_MAX_BS;
    c->extend = (ea_len_spec){.kind = EA_LEN_ALL, .lo = EA_CASE_MAX_EXTEND};
    c->prefix = (ea_len_spec){.kind = EA_LEN_ALL, .lo = EA_CASE_MAX_PREFIX};
    c->hq = c->hkv = EA_MAX_HEADS;
    c->dqk = c->dv = EA_MAX_HEAD_DIM;
}
#define MAKE(spoil) \
    static ea_status make_##spoil(void) { return make_case(spoil); }
MAKE(bs_zero)
MAKE(bs_too_big)
MAKE(rand_lo_above_hi)
MAKE(rand_negative)
MAKE(rand_too_long)
MAKE(list_without_values)
MAKE(list_longer_than_bs)
MAKE(list_shorter_than_bs)
MAKE(list_negative)
MAKE(unknown_kind)
MAKE(extend_too_long)
MAKE(heads_indivisible)
MAKE(heads_negative)
MAKE(dim_zero)
MAKE(dim_huge)
MAKE(dtype_unknown)
MAKE(window_below)
MAKE(cap_nan)
MAKE(causal_two)
MAKE(mask_two)
MAKE(name_unterminated)
MAKE(sizes_overflow)
static ea_status make_no_case(void)
{
    ea_problem p;
    return ea_problem_make(NULL, &p);
}
static ea_status make_no_problem(void) { return ea_problem_make(&good, NULL); }
static ea_status cost_no_case(void)
{
    ea_cost k;
    return ea_case_cost(NULL, &k);
}
static ea_status cost_no_out(void) { return ea_case_cost(&good, NULL); }
static ea_status check_no_case(void) { return ea_case_check(NULL); }
static ea_status within_no_name(void)
{
    const ea_limits lim = ea_limits_default();
    return ea_cost_within(NULL, 0, 0, 0, &lim);
}
static ea_status within_no_limits(void) { return ea_cost_within("x", 0, 0, 0, NULL); }

/* ---- ea_cases.h: batches ---- */
static ea_status batch_of(const ea_problem *p, const int32_t *reqs, int32_t n, const int32_t *prefix)
{
    ea_host_batch b;
    memset(&b, 0xab, sizeof b);
    const ea_host_batch before = b;
    const ea_status st = ea_host_batch_make(p, reqs, n, prefix, &b);
    if (st == EA_OK) {
        ea_host_batch_free(&b);
        return EA_OK;
    }
    return memcmp(&b, &before, sizeof b) ? EA_ERR_COUNT : st;
}
static ea_status batch_no_problem(void) { return batch_of(NULL, NULL, 0, NULL); }
static ea_status batch_no_out(void) { return ea_host_batch_make(&pr, NULL, 0, NULL, NULL); }
static ea_status batch_zero_requests(void)
{
    const int32_t reqs[1] = {0};
    return batch_of(&pr, reqs, 0, NULL);
}
static ea_status batch_request_negative(void)
{
    const int32_t reqs[1] = {-1};
    return batch_of(&pr, reqs, 1, NULL);
}
static ea_status batch_request_past_bs(void)
{
    const int32_t reqs[1] = {2};
    return batch_of(&pr, reqs, 1, NULL);
}
static ea_status batch_prefix_negative(void)
{
    const int32_t prefix[2] = {0, -1};
    return batch_of(&pr, NULL, 0, prefix);
}
static ea_status batch_prefix_past_sequence(void)
{
    const int32_t prefix[2] = {6, 0};
    return batch_of(&pr, NULL, 0, prefix);
}
/* One request repeated: the batch's int32 offsets (mask_indptr, qo_indptr) would overflow. */
static ea_status batch_repeated(const char *line, int32_t n)
{
    ea_case *c;
    int count;
    ea_problem p;
    int32_t *reqs = calloc((size_t)n, sizeof *reqs);
    ea_status st = ea_cases_parse(line, &c, &count);
    if (st == EA_OK) {
        st = ea_problem_make(&c[0], &p);
        free(c);
    }
    if (st == EA_OK) {
        st = reqs ? batch_of(&p, reqs, n, NULL) : EA_ERR_NOMEM;
        ea_problem_free(&p);
    }
    free(reqs);
    return st;
}
static ea_status batch_mask_offsets_overflow(void)
{
    return batch_repeated("name=m bs=1 extend=4096 hq=1 hkv=1 d=1 mask=rand", 130); /* 130 x 4096^2 > 2^31 */
}
static ea_status batch_tokens_overflow(void)
{
    return batch_repeated("name=t bs=1 extend=65536 hq=1 hkv=1 d=1", 32769); /* 32769 x 2^16 > 2^31 */
}

/* ---- ea_cases.h: checks and runners ---- */
static ea_status tol_row_len(int64_t row_len)
{
    diff = ea_compare_tol(out, EA_F32, out64, 8, row_len, 1e-5);
    return diff.differ == 1 && diff.count == 0 ? diff.status : EA_OK;
}
static ea_status tol_row_len_zero(void) { return tol_row_len(0); }
static ea_status tol_row_len_negative(void) { return tol_row_len(-4); }
static ea_status tol_no_ref(void)
{
    diff = ea_compare_tol(out, EA_F32, NULL, 8, 4, 1e-5);
    return diff.differ ? diff.status : EA_OK;
}
static ea_status tol_negative_n(void)
{
    diff = ea_compare_tol(out, EA_F32, out64, -8, 4, 1e-5);
    return diff.differ ? diff.status : EA_OK;
}
static ea_status mag_no_mag(void)
{
    diff = ea_compare_mag(out, EA_F32, out64, NULL, 8, 1e-5);
    return diff.differ ? diff.status : EA_OK;
}
static ea_status mag_tolerance_nan(void)
{
    diff = ea_compare_mag(out, EA_F32, out64, mag64, 8, NAN);
    return diff.differ ? diff.status : EA_OK;
}
static ea_status bits_no_b(void)
{
    diff = ea_compare_bits(out, NULL, EA_F32, 8);
    return diff.differ ? diff.status : EA_OK;
}
static ea_status run_canonical_no_problem(void) { return ea_run_canonical(NULL, NULL, &hb, out); }
static ea_status run_canonical_no_batch(void) { return ea_run_canonical(NULL, &pr, NULL, out); }
static ea_status run_canonical_no_out(void) { return ea_run_canonical(NULL, &pr, &hb, NULL); }
static ea_status run_tc_no_batch(void) { return ea_run_tc(NULL, &pr, NULL, out); }

typedef ea_status (*invariance_fn)(const ea_problem *, ea_runner, void *, const ea_host_batch *, const void *,
                                   ea_diff *);
/* An invariance check with each of its pointers missing in turn: EA_ERR_NULL from all. */
static ea_status invariance_without_an_argument(invariance_fn check)
{
    const ea_status st[] = {check(NULL, ea_run_canonical, NULL, &hb, out, &diff), check(&pr, NULL, NULL, &hb, out, &diff),
                            check(&pr, ea_run_canonical, NULL, NULL, out, &diff),
                            check(&pr, ea_run_canonical, NULL, &hb, NULL, &diff),
                            check(&pr, ea_run_canonical, NULL, &hb, out, NULL)};
    for (size_t k = 0; k < sizeof st / sizeof *st; k++)
        if (st[k] != EA_ERR_NULL)
            return st[k] == EA_OK ? EA_ERR_COUNT : st[k];
    return EA_ERR_NULL;
}
static ea_status batch_invariance_nulls(void) { return invariance_without_an_argument(ea_check_batch_invariance); }
static ea_status split_invariance_nulls(void) { return invariance_without_an_argument(ea_check_split_invariance); }
static ea_status head_split_1(const ea_problem *p, ea_runner r, void *c, const ea_host_batch *b, const void *o, ea_diff *d)
{
    return ea_check_head_split_invariance(p, r, c, b, o, 1, d);
}
static ea_status head_split_nulls(void) { return invariance_without_an_argument(head_split_1); }
static ea_status head_split_tp_zero(void) { return ea_check_head_split_invariance(&pr, ea_run_canonical, NULL, &hb, out, 0, &diff); }

/* ea_problem_shard_heads() with one bad argument: its status, and the shard left as it was. */
static ea_status shard_with(const ea_problem *full, int32_t rank, int32_t tp, int give_out)
{
    ea_problem shard, before;
    memset(&shard, 0x5a, sizeof shard);
    before = shard;
    const ea_status st = ea_problem_shard_heads(full, rank, tp, give_out ? &shard : NULL);
    if (st == EA_OK)
        ea_problem_free(&shard);
    return st != EA_OK && memcmp(&shard, &before, sizeof shard) ? EA_ERR_COUNT : st;
}
static ea_status shard_no_problem(void) { return shard_with(NULL, 0, 1, 1); }
static ea_status shard_no_out(void) { return shard_with(&pr, 0, 1, 0); }
static ea_status shard_tp_zero(void) { return shard_with(&pr, 0, 0, 1); }
static ea_status shard_tp_not_dividing(void) { return shard_with(&pr, 0, 2, 1); } /* the problem has 1 KV head */
static ea_status shard_rank_negative(void) { return shard_with(&pr, -1, 1, 1); }
static ea_status shard_rank_past(void) { return shard_with(&pr, 1, 1, 1); }
static ea_status shard_no_mask_start(void) /* a mask without its offsets */
{
    ea_problem bad = pr;
    bad.mask_start = NULL;
    return shard_with(&bad, 0, 1, 1);
}
static ea_status shard_heads_invalid(void) /* Hq not a multiple of Hkv */
{
    ea_problem bad = pr;
    bad.params.hq = 3, bad.params.hkv = 2;
    return shard_with(&bad, 0, 2, 1);
}
/* A batch of one of the problem's two requests: the split checks need them all. */
static ea_status partial_batch_check(int heads)
{
    ea_host_batch one;
    const int32_t req = 0;
    if (ea_host_batch_make(&pr, &req, 1, NULL, &one) != EA_OK)
        return EA_ERR_NOMEM;
    const ea_status st = heads ? ea_check_head_split_invariance(&pr, ea_run_canonical, NULL, &one, out, 1, &diff)
                               : ea_check_split_invariance(&pr, ea_run_canonical, NULL, &one, out, &diff);
    ea_host_batch_free(&one);
    return st;
}
static ea_status split_partial_batch(void) { return partial_batch_check(0); }
static ea_status head_split_partial_batch(void) { return partial_batch_check(1); }

/* ---- ea_mma_vectors.h ---- */
static ea_status vectors_read_no_path(void)
{
    ea_mma_vectors v;
    return ea_mma_vectors_read(NULL, &v);
}
static ea_status vectors_read_no_out(void) { return ea_mma_vectors_read("/nonexistent", NULL); }
static ea_status vectors_write_no_path(void)
{
    ea_mma_vectors v;
    memset(&v, 0, sizeof v);
    return ea_mma_vectors_write(NULL, &v);
}
static ea_status vectors_write_nothing(void) { return ea_mma_vectors_write("/tmp/ea_never_written", NULL); }

/* ---- ea_cuda.h: a NULL context or output is refused before CUDA is touched ---- */
static ea_status cuda_create(void) { return ea_cuda_create(NULL); }
static ea_status cuda_mem_free(void)
{
    int64_t b;
    return ea_cuda_mem_free(NULL, &b);
}
static ea_status cuda_set_kernel(void) { return ea_cuda_set_kernel(NULL, EA_KERNEL_CANONICAL); }
static ea_status cuda_sync(void) { return ea_cuda_sync(NULL); }
static ea_status cuda_upload(void)
{
    ea_dev_batch *db;
    return ea_cuda_batch_upload(NULL, &hb.batch, &pr.params, &hb.in, &db);
}
static ea_status cuda_poison(void) { return ea_cuda_poison_output(NULL, NULL); }
static ea_status cuda_download(void) { return ea_cuda_download_output(NULL, NULL, out); }
static ea_status cuda_plan_create(void)
{
    ea_plan plan;
    return ea_cuda_plan_create(NULL, NULL, &plan);
}
static ea_status cuda_plan_build(void) { return ea_cuda_plan_build(NULL, NULL, EA_SYNC_DEVICE, NULL); }
static ea_status cuda_run(void) { return ea_cuda_run(NULL, NULL, NULL); }
static ea_status cuda_reserve(void) { return ea_cuda_reserve(NULL, NULL); }
static ea_status cuda_extend(void) { return ea_cuda_extend(NULL, NULL, EA_SYNC_BATCHED); }
static ea_status cuda_graph_capture(void)
{
    ea_graph *g;
    return ea_cuda_graph_capture(NULL, NULL, &g);
}
static ea_status cuda_graph_launch(void) { return ea_cuda_graph_launch(NULL, NULL); }
static ea_status cuda_queue_busy(void) { return ea_cuda_queue_busy(NULL, 1000); }
static ea_status cuda_malloc(void) { return ea_cuda_malloc(NULL, 16, NULL); }
static ea_status cuda_bad_launch(void) { return ea_cuda_test_bad_launch(NULL, NULL, NULL); }
static ea_status cuda_plan_download(void)
{
    int32_t indptr[3], lens[2];
    int64_t idx[8];
    return ea_cuda_plan_download(NULL, NULL, 2, indptr, idx, lens);
}
static ea_status cuda_tc_probabilities(void)
{
    uint64_t bad, exact;
    uint32_t ulps;
    return ea_cuda_check_tc_probabilities(NULL, &bad, &exact, &ulps);
}
static ea_status cuda_tc_division(void)
{
    uint64_t bad;
    return ea_cuda_check_tc_division(NULL, &bad);
}
static ea_status cuda_runner(void) { return ea_run_cuda(NULL, &pr, &hb, out); }

static const struct {
    const char *what;
    ea_status (*call)(void);
    ea_status want;
    int cuda; /* a CUDA entry point: EA_ERR_NOT_BUILT is right too where CUDA was not built */
} CALLS[] = {
#define ROW(fn, want) {#fn, fn, want, 0}
#define CUDA(fn) {#fn, fn, EA_ERR_NULL, 1}
    ROW(validate_no_batch, EA_ERR_NULL), ROW(validate_no_params, EA_ERR_NULL),
    ROW(unified_no_out, EA_ERR_NULL), ROW(unified_no_batch, EA_ERR_NULL),
    ROW(references_without_an_argument, EA_ERR_NULL), ROW(f64_mag_no_mag, EA_ERR_NULL),
    ROW(parse_no_text, EA_ERR_NULL), ROW(parse_no_cases, EA_ERR_NULL), ROW(parse_no_count, EA_ERR_NULL),
    ROW(load_no_path, EA_ERR_NULL),
    ROW(make_bs_zero, EA_ERR_DIM), ROW(make_bs_too_big, EA_ERR_DIM), ROW(make_rand_lo_above_hi, EA_ERR_DIM),
    ROW(make_rand_negative, EA_ERR_DIM), ROW(make_rand_too_long, EA_ERR_DIM),
    ROW(make_list_without_values, EA_ERR_NULL), ROW(make_list_longer_than_bs, EA_ERR_COUNT),
    ROW(make_list_shorter_than_bs, EA_ERR_COUNT), ROW(make_list_negative, EA_ERR_DIM),
    ROW(make_unknown_kind, EA_ERR_SCALAR), ROW(make_extend_too_long, EA_ERR_DIM),
    ROW(make_heads_indivisible, EA_ERR_HEADS), ROW(make_heads_negative, EA_ERR_DIM), ROW(make_dim_zero, EA_ERR_DIM),
    ROW(make_dim_huge, EA_ERR_DIM), ROW(make_dtype_unknown, EA_ERR_SCALAR), ROW(make_window_below, EA_ERR_SCALAR),
    ROW(make_cap_nan, EA_ERR_SCALAR), ROW(make_causal_two, EA_ERR_SCALAR), ROW(make_mask_two, EA_ERR_SCALAR),
    ROW(make_name_unterminated, EA_ERR_SCALAR), ROW(make_sizes_overflow, EA_ERR_OVERFLOW),
    ROW(make_no_case, EA_ERR_NULL), ROW(make_no_problem, EA_ERR_NULL),
    ROW(cost_no_case, EA_ERR_NULL), ROW(cost_no_out, EA_ERR_NULL), ROW(check_no_case, EA_ERR_NULL),
    ROW(within_no_name, EA_ERR_NULL), ROW(within_no_limits, EA_ERR_NULL),
    ROW(batch_no_problem, EA_ERR_NULL), ROW(batch_no_out, EA_ERR_NULL), ROW(batch_zero_requests, EA_ERR_DIM),
    ROW(batch_request_negative, EA_ERR_RANGE), ROW(batch_request_past_bs, EA_ERR_RANGE),
    ROW(batch_prefix_negative, EA_ERR_COUNT), ROW(batch_prefix_past_sequence, EA_ERR_COUNT),
    ROW(batch_mask_offsets_overflow, EA_ERR_OVERFLOW), ROW(batch_tokens_overflow, EA_ERR_OVERFLOW),
    ROW(tol_row_len_zero, EA_ERR_DIM), ROW(tol_row_len_negative, EA_ERR_DIM), ROW(tol_no_ref, EA_ERR_NULL),
    ROW(tol_negative_n, EA_ERR_DIM), ROW(mag_no_mag, EA_ERR_NULL), ROW(mag_tolerance_nan, EA_ERR_DIM),
    ROW(bits_no_b, EA_ERR_NULL),
    ROW(run_canonical_no_problem, EA_ERR_NULL), ROW(run_canonical_no_batch, EA_ERR_NULL),
    ROW(run_canonical_no_out, EA_ERR_NULL), ROW(run_tc_no_batch, EA_ERR_NULL),
    ROW(batch_invariance_nulls, EA_ERR_NULL), ROW(split_invariance_nulls, EA_ERR_NULL),
    ROW(head_split_nulls, EA_ERR_NULL), ROW(head_split_tp_zero, EA_ERR_HEADS),
    ROW(shard_no_problem, EA_ERR_NULL), ROW(shard_no_out, EA_ERR_NULL), ROW(shard_tp_zero, EA_ERR_HEADS),
    ROW(shard_tp_not_dividing, EA_ERR_HEADS), ROW(shard_rank_negative, EA_ERR_RANGE), ROW(shard_rank_past, EA_ERR_RANGE),
    ROW(shard_no_mask_start, EA_ERR_NULL), ROW(shard_heads_invalid, EA_ERR_HEADS),
    ROW(split_partial_batch, EA_ERR_COUNT), ROW(head_split_partial_batch, EA_ERR_COUNT),
    ROW(vectors_read_no_path, EA_ERR_NULL), ROW(vectors_read_no_out, EA_ERR_NULL),
    ROW(vectors_write_no_path, EA_ERR_NULL), ROW(vectors_write_nothing, EA_ERR_NULL),
    CUDA(cuda_create), CUDA(cuda_mem_free), CUDA(cuda_set_kernel), CUDA(cuda_sync), CUDA(cuda_upload),
    CUDA(cuda_poison), CUDA(cuda_download), CUDA(cuda_plan_create), CUDA(cuda_plan_build), CUDA(cuda_run),
    CUDA(cuda_reserve), CUDA(cuda_extend), CUDA(cuda_graph_capture), CUDA(cuda_graph_launch),
    CUDA(cuda_queue_busy), CUDA(cuda_malloc), CUDA(cuda_bad_launch), CUDA(cuda_plan_download),
    CUDA(cuda_tc_probabilities), CUDA(cuda_tc_division), CUDA(cuda_runner),
#undef ROW
#undef CUDA
};

static void test_hostile_arguments(void **state)
{
    (void)state;
    const int cuda_built = ea_cuda_available() != EA_ERR_NOT_BUILT;
    int failed = 0;
    for (size_t k = 0; k < sizeof CALLS / sizeof *CALLS; k++) {
        /* a message no call below gives: each must leave its own */
        ea_case *none;
        int n;
        assert_int_equal(ea_cases_parse("name=marker_message", &none, &n), EA_ERR_PARSE);
        char marker[256];
        snprintf(marker, sizeof marker, "%s", ea_last_error());
        const ea_status st = CALLS[k].call();
        const int ok = st == CALLS[k].want || (CALLS[k].cuda && !cuda_built && st == EA_ERR_NOT_BUILT);
        if (!ok || !strcmp(ea_last_error(), marker)) {
            print_error("%s: %s (%s), expected %s with a message\n", CALLS[k].what, ea_status_str(st), ea_last_error(),
                        ea_status_str(CALLS[k].want));
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/* What returns no status must still take NULL and out-of-range values quietly. */
static void test_hostile_arguments_quiet(void **state)
{
    (void)state;
    ea_unified_free(NULL);
    ea_problem_free(NULL);
    ea_host_batch_free(NULL);
    ea_fill_sentinel(NULL, EA_F32, 8);
    ea_to_double(NULL, EA_F32, 8, out64);
    ea_to_double(out, EA_F32, 8, NULL);
    ea_mma_vectors_free(NULL);
    ea_cuda_destroy(NULL);
    ea_cuda_batch_free(NULL);
    ea_cuda_plan_free(NULL);
    ea_cuda_graph_free(NULL);
    ea_cuda_reset_waits(NULL);
    ea_cuda_trace_waits(NULL, NULL, 4);
    assert_int_equal(ea_host_batch_row(NULL, 0, 0), -1);
    assert_int_equal(ea_host_batch_row(&hb, -1, 0), -1);
    assert_int_equal(ea_host_batch_row(&hb, 0, -7), -1);
    assert_string_equal(ea_status_str((ea_status)-1), "unknown status");
    assert_string_equal(ea_status_str(EA_STATUS_COUNT), "unknown status");
    assert_non_null(ea_sync_name((ea_sync)99));
    assert_non_null(ea_step_name((ea_step)-2));
    assert_int_equal(ea_step_expected_waits((ea_step)99, 1), -1);
    assert_non_null(ea_kernel_name((ea_kernel)-3));
    assert_null(ea_mma_dist_name((ea_mma_dist)1000)); /* documented: NULL for an unknown one */
    assert_null(ea_mma_dist_what((ea_mma_dist)-1));
    assert_int_equal(ea_mma_dist_from_name(NULL), -1);
    assert_int_equal(ea_cuda_host_waits(NULL), 0);
    assert_int_equal(ea_cuda_traced_waits(NULL), 0);
    assert_null(ea_cuda_stream(NULL));
    assert_true(ea_alt_prefix_len(-4, -6) >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_arguments),
        cmocka_unit_test(test_hostile_arguments_quiet),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
