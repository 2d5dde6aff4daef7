/* Helpers shared by the CMocka suites: status checks that print the library's
 * message, the bitwise assertion of STYLE habit 5, and fresh seeds. */
#ifndef EA_TEST_UTIL_H
#define EA_TEST_UTIL_H

#include "ea.h"
#include "ea_cases.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* Fails the test with the library's message when a call does not return EA_OK. */
#define EA_ASSERT_OK(call)                                                                   \
    do {                                                                                     \
        ea_status st_ = (call);                                                              \
        if (st_ != EA_OK)                                                                    \
            fail_msg("%s returned %s: %s", #call, ea_status_str(st_), ea_last_error());      \
    } while (0)

/* Asserts a specific error status and that the message mentions `needle`. */
#define EA_ASSERT_ERR(call, status, needle)                                                  \
    do {                                                                                     \
        ea_status st_ = (call);                                                              \
        if (st_ != (status))                                                                 \
            fail_msg("%s returned %s, expected %s (%s)", #call, ea_status_str(st_),          \
                     ea_status_str(status), ea_last_error());                                \
        if (!strstr(ea_last_error(), (needle)))                                              \
            fail_msg("message '%s' does not mention '%s'", ea_last_error(), (needle));       \
    } while (0)

/* Bitwise equality over the whole buffer (NaNs equal), no sentinel left in a. */
static inline void ea_assert_bits(const void *a, const void *b, ea_dtype dt, int64_t n, const char *what)
{
    ea_diff d = ea_compare_bits(a, b, dt, n);
    if (d.sentinels)
        fail_msg("%s: %lld outputs never written", what, (long long)d.sentinels);
    if (d.differ)
        fail_msg("%s: %lld of %lld differ, first at %lld: %a vs %a", what, (long long)d.differ,
                 (long long)d.count, (long long)d.first, d.a_first, d.b_first);
}

/* A fresh seed per run (EA_TEST_SEED=... reproduces one), printed so a failure can be replayed. */
static inline uint64_t ea_test_seed(void)
{
    static uint64_t seed;
    if (!seed) {
        const char *env = getenv("EA_TEST_SEED");
        seed = env ? strtoull(env, NULL, 10) : ((uint64_t)time(NULL) << 16) ^ (uint64_t)getpid();
        if (!seed)
            seed = 1;
        printf("[ seed     ] EA_TEST_SEED=%llu\n", (unsigned long long)seed);
    }
    return seed;
}

/* Parses one case line (with a fresh seed unless the line gives one) and makes its problem. */
static inline void ea_test_problem(const char *line, ea_problem *pr)
{
    ea_case *c;
    int n;
    char buf[512];
    snprintf(buf, sizeof buf, "%s%s", line, strstr(line, "seed=") ? "" : " seed=0");
    EA_ASSERT_OK(ea_cases_parse(buf, &c, &n));
    assert_int_equal(n, 1);
    if (!strstr(line, "seed="))
        c[0].seed = ea_test_seed() ^ (uint64_t)strlen(line) * 0x9e3779b97f4a7c15ull;
    EA_ASSERT_OK(ea_problem_make(&c[0], pr));
    free(c);
}

/* A case line's problem and its batch as drawn (free with ea_test_batch_free). */
static inline void ea_test_batch(const char *line, ea_problem *pr, ea_host_batch *hb)
{
    ea_test_problem(line, pr);
    EA_ASSERT_OK(ea_host_batch_make(pr, NULL, 0, NULL, hb));
}

/* The same, f32, with NaN and infinities scattered through K and V (set in the pools before the
 * batch is made) and q (in the batch): the non-finite inputs every kernel and reference is held to. */
static inline void ea_test_nonfinite_batch(const char *line, ea_problem *pr, ea_host_batch *hb)
{
    ea_test_problem(line, pr);
    const int64_t pool = pr->pool_size * pr->params.hkv;
    assert_true(pool * pr->params.dqk > 301 && pool * pr->params.dv > 600); /* the case is big enough */
    float *k = pr->k_pool, *v = pr->v_pool;
    k[7] = NAN, k[105] = INFINITY, k[301] = -INFINITY, v[7] = NAN, v[222] = INFINITY, v[600] = -INFINITY;
    EA_ASSERT_OK(ea_host_batch_make(pr, NULL, 0, NULL, hb));
    assert_true((int64_t)hb->num_tokens * pr->params.hq * pr->params.dqk > 77);
    ((float *)hb->in.q)[3] = INFINITY;
    ((float *)hb->in.q)[77] = NAN;
}

static inline void ea_test_batch_free(ea_problem *pr, ea_host_batch *hb)
{
    ea_host_batch_free(hb);
    ea_problem_free(pr);
}

/* Output elements of a host batch. */
static inline int64_t ea_test_out_elems(const ea_problem *pr, const ea_host_batch *hb)
{
    return (int64_t)hb->num_tokens * pr->params.hq * pr->params.dv;
}

/* The pool slot of unified key u of request i in a host batch (prefix slots, then new ones). */
static inline int64_t ea_test_key_slot(const ea_host_batch *hb, int32_t i, int32_t u)
{
    const ea_batch *b = &hb->batch;
    const int32_t P = b->prefix_kv_indptr[i + 1] - b->prefix_kv_indptr[i];
    return u < P ? b->prefix_kv_indices[b->prefix_kv_indptr[i] + u] : b->extend_kv_indices[b->extend_start_loc[i] + u - P];
}

/* Bitwise equality of a whole output with the expected one, the first difference located in the batch. */
static inline void ea_assert_outputs(const char *what, const ea_problem *pr, const ea_host_batch *hb, const void *got,
                                     const void *want)
{
    char where[160];
    const int64_t n = ea_test_out_elems(pr, hb);
    ea_diff d = ea_compare_bits(got, want, pr->params.dtype, n);
    if (d.sentinels)
        fail_msg("%s: %lld of %lld outputs never written", what, (long long)d.sentinels, (long long)n);
    if (d.differ)
        fail_msg("%s: %lld of %lld outputs differ; the first is %s: expected %a, got %a", what, (long long)d.differ,
                 (long long)n, ea_host_batch_where(hb, &pr->params, d.first, where, sizeof where), d.b_first, d.a_first);
}

/* Batch, prefix-split and head-split invariance of a backend, against its whole-batch output o
 * (every row compared; the split check must have compared some). */
static inline void ea_assert_invariances(const char *what, const ea_problem *pr, ea_runner run, void *ctx,
                                         const ea_host_batch *hb, const void *o)
{
    ea_diff d;
    EA_ASSERT_OK(ea_check_batch_invariance(pr, run, ctx, hb, o, &d));
    char where[160];
    if (d.differ || d.sentinels || d.count != ea_test_out_elems(pr, hb))
        fail_msg("%s: batch invariance (each request alone vs in the batch): %lld of %lld differ, %lld never written; "
                 "the first is %s: in the batch %a, alone %a", what, (long long)d.differ, (long long)d.count,
                 (long long)d.sentinels, ea_host_batch_where(hb, &pr->params, d.first, where, sizeof where),
                 d.b_first, d.a_first);
    EA_ASSERT_OK(ea_check_split_invariance(pr, run, ctx, hb, o, &d));
    if (d.differ || d.sentinels || d.count == 0)
        fail_msg("%s: split invariance (another cached/new split): %lld of %lld differ, %lld never written; "
                 "the first is %s: as split first %a, re-split %a", what, (long long)d.differ, (long long)d.count,
                 (long long)d.sentinels, ea_host_batch_where(hb, &pr->params, d.first, where, sizeof where),
                 d.b_first, d.a_first);
    /* the finest head split: one KV head (and its query heads) per rank */
    const int32_t tp = pr->params.hkv;
    EA_ASSERT_OK(ea_check_head_split_invariance(pr, run, ctx, hb, o, tp, &d));
    if (d.differ || d.sentinels || d.count != ea_test_out_elems(pr, hb))
        fail_msg("%s: head-split invariance (%d ranks of %d query heads): %lld of %lld differ, %lld never written; "
                 "the first is %s: whole %a, one rank %a", what, tp, pr->params.hq / tp, (long long)d.differ,
                 (long long)d.count, (long long)d.sentinels,
                 ea_host_batch_where(hb, &pr->params, d.first, where, sizeof where), d.b_first, d.a_first);
}

#endif
