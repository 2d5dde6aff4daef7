/* The CPU references: the unified index builder, the canonical order
 * (checked against a second, scalar transcription of DESIGN.md section 2),
 * agreement with OpenBLAS and float64, batch and prefix-split invariance,
 * the two-stage counterexample, bf16 rounding, and poisoned outputs. */
#include "ea_math.h"
#include "test_util.h"

#include <math.h>

/* Cases exercised by most tests: every feature, small shapes. */
static const char *const CASES[] = {
    "name=plain bs=3 extend=5,70,130 prefix=0,3,140 hq=4 hkv=2 d=32",
    "name=gqa8 bs=2 extend=rand:1:90 prefix=rand:0:150 hq=8 hkv=1 d=64",
    "name=mha_d80 bs=2 extend=40 prefix=rand:0:90 hq=2 hkv=2 d=80",
    "name=dqk_dv bs=2 extend=33 prefix=65 hq=4 hkv=2 dqk=48 dv=24",
    "name=noncausal_window bs=2 extend=70 prefix=60 causal=0 window=30 hq=2 hkv=1 d=16",
    "name=window bs=2 extend=90 prefix=rand:30:100 window=40 hq=2 hkv=1 d=16",
    "name=cap_sinks bs=3 extend=50 prefix=rand:0:100 cap=2.5 sinks=1 hq=4 hkv=2 d=32",
    "name=mask bs=3 extend=40 prefix=rand:0:80 mask=rand hq=4 hkv=1 d=16",
    "name=bf16 bs=3 extend=50 prefix=rand:0:100 dtype=bf16 cap=10 sinks=1 window=60 dqk=64 dv=32 hq=4 hkv=2",
};
#define NCASES ((int)(sizeof CASES / sizeof *CASES))

/* DESIGN.md section 2 transcribed literally: one output row of one head, one
 * key at a time. Written independently of reference/canonical.c; if either
 * drifts from the contract (one fmaf reordered, one tile boundary moved) the
 * bitwise comparison below fails. */
static void design_row(const ea_problem *pr, const ea_host_batch *hb, int32_t i, int32_t r, int32_t h, float *out)
{
    const ea_params *p = &pr->params;
    const ea_batch *b = &hb->batch;
    const int32_t P = b->prefix_kv_indptr[i + 1] - b->prefix_kv_indptr[i];
    const int32_t E = b->qo_indptr[i + 1] - b->qo_indptr[i];
    const int32_t t = P + r, g = h / (p->hq / p->hkv);
    const int64_t qrow = b->qo_indptr[i] + r;
    float q[EA_MAX_HEAD_DIM], acc[EA_MAX_HEAD_DIM];
    for (int d = 0; d < p->dqk; d++)
        q[d] = p->dtype == EA_BF16 ? ea_bf16_to_f32(((const uint16_t *)hb->in.q)[(qrow * p->hq + h) * p->dqk + d])
                                   : ((const float *)hb->in.q)[(qrow * p->hq + h) * p->dqk + d];
#define KV(pool, slot, d, D)                                                                                      \
    (p->dtype == EA_BF16 ? ea_bf16_to_f32(((const uint16_t *)(pool))[((slot)*p->hkv + g) * (D) + (d)])             \
                         : ((const float *)(pool))[((slot)*p->hkv + g) * (D) + (d)])
    float m = -INFINITY, l = 0.0f;
    for (int d = 0; d < p->dv; d++)
        acc[d] = 0.0f;
    for (int32_t tile = 0; tile < P + E; tile += 64) {
        float sc[64];
        int vis[64], nv = 0;
        float m_new = m;
        for (int32_t u = tile; u < tile + 64 && u < P + E; u++) {
            int visible;
            if (b->custom_mask)
                visible = b->custom_mask[b->mask_indptr[i] + (int64_t)r * (P + E) + u] != 0;
            else
                visible = p->causal ? u <= t : 1;
            if (p->sliding_window >= 0 && t - u > p->sliding_window)
                visible = 0;
            if (!visible)
                continue;
            const int64_t slot = u < P ? b->prefix_kv_indices[b->prefix_kv_indptr[i] + u]
                                       : b->extend_kv_indices[b->extend_start_loc[i] + u - P];
            float s = 0.0f;
            for (int d = 0; d < p->dqk; d++)
                s = fmaf(q[d], KV(hb->in.k_pool, slot, d, p->dqk), s);
            s = s * p->sm_scale;
            if (p->logit_cap > 0)
                s = p->logit_cap * ea_tanhf(s / p->logit_cap);
            sc[nv] = s;
            vis[nv++] = (int)slot;
            m_new = fmaxf(m_new, s);
        }
        if (nv == 0)
            continue;
        if (m != -INFINITY) {
            float a = ea_expf(m - m_new);
            l = l * a;
            for (int d = 0; d < p->dv; d++)
                acc[d] = acc[d] * a;
        }
        for (int k = 0; k < nv; k++) {
            float pk = ea_expf(sc[k] - m_new);
            l = l + pk;
            for (int d = 0; d < p->dv; d++)
                acc[d] = fmaf(pk, KV(hb->in.v_pool, (int64_t)vis[k], d, p->dv), acc[d]);
        }
        m = m_new;
    }
#undef KV
    if (m == -INFINITY) {
        for (int d = 0; d < p->dv; d++)
            out[d] = 0.0f;
        return;
    }
    if (p->sinks)
        l = l + ea_expf(p->sinks[h] - m);
    for (int d = 0; d < p->dv; d++)
        out[d] = acc[d] / l;
}

/* Runs the canonical reference on a sentinel-filled output; returns it (caller frees). */
static void *run_canonical(const ea_problem *pr, const ea_host_batch *hb)
{
    const int64_t n = ea_test_out_elems(pr, hb);
    void *o = malloc(hb->o_bytes + 1);
    ea_fill_sentinel(o, pr->params.dtype, n);
    EA_ASSERT_OK(ea_reference_canonical(&hb->batch, &pr->params, &hb->in, o));
    return o;
}

static void test_canonical_matches_design_transcription(void **state)
{
    (void)state;
    for (int c = 0; c < NCASES; c++) {
        ea_problem pr;
        ea_host_batch hb;
        ea_test_batch(CASES[c], &pr, &hb);
        const ea_params *p = &pr.params;
        void *o = run_canonical(&pr, &hb);
        void *want = malloc(hb.o_bytes + 1);
        float row[EA_MAX_HEAD_DIM];
        for (int32_t i = 0; i < hb.batch.bs; i++)
            for (int32_t r = 0; r < hb.extend_seq_lens[i]; r++)
                for (int32_t h = 0; h < p->hq; h++) {
                    design_row(&pr, &hb, i, r, h, row);
                    for (int d = 0; d < p->dv; d++)
                        if (p->dtype == EA_BF16)
                            ((uint16_t *)want)[((int64_t)(hb.qo_indptr[i] + r) * p->hq + h) * p->dv + d] =
                                ea_f32_to_bf16(row[d]);
                        else
                            ((float *)want)[((int64_t)(hb.qo_indptr[i] + r) * p->hq + h) * p->dv + d] = row[d];
                }
        char what[200];
        snprintf(what, sizeof what, "case %s: canonical reference (reference/canonical.c) vs DESIGN 2 transcribed",
                 CASES[c]);
        ea_assert_outputs(what, &pr, &hb, o, want);
        free(o);
        free(want);
        ea_test_batch_free(&pr, &hb);
    }
}

/* Canonical vs OpenBLAS and vs float64: relative 1e-5 of the token's output row (+1 bf16 ulp). */
static void test_agreement_with_blas_and_f64(void **state)
{
    (void)state;
    for (int c = 0; c < NCASES; c++) {
        ea_problem pr;
        ea_host_batch hb;
        ea_test_batch(CASES[c], &pr, &hb);
        const ea_params *p = &pr.params;
        const int64_t n = ea_test_out_elems(&pr, &hb), row = (int64_t)p->hq * p->dv;
        void *o = run_canonical(&pr, &hb);
        void *ob = malloc(hb.o_bytes + 1);
        double *ref = malloc(sizeof(double) * (size_t)(n + 1));
        ea_fill_sentinel(ob, p->dtype, n);
        EA_ASSERT_OK(ea_reference_blas(&hb.batch, p, &hb.in, ob));
        ea_to_double(ob, p->dtype, n, ref);
        char where[160];
        ea_diff d = ea_compare_tol(ob, p->dtype, ref, n, row, 0.0); /* BLAS output fully written */
        if (d.sentinels)
            fail_msg("case %s: OpenBLAS reference (reference/blas.c): %lld of %lld outputs never written", CASES[c],
                     (long long)d.sentinels, (long long)n);
        ea_to_double(o, p->dtype, n, ref);
        d = ea_compare_tol(ob, p->dtype, ref, n, row, 1e-5); /* the canonical output is the reference here */
        if (d.differ)
            fail_msg("case %s: OpenBLAS reference (reference/blas.c) vs canonical: %lld of %lld outputs beyond 1e-5 "
                     "of their token's largest output; the first is %s: canonical %a, OpenBLAS %a",
                     CASES[c], (long long)d.differ, (long long)n, ea_host_batch_where(&hb, p, d.first, where, sizeof where),
                     d.b_first, d.a_first);
        EA_ASSERT_OK(ea_reference_f64(&hb.batch, p, &hb.in, ref));
        d = ea_compare_tol(o, p->dtype, ref, n, row, 1e-5);
        if (d.differ || d.sentinels)
            fail_msg("case %s: canonical reference vs float64: %lld of %lld outputs beyond 1e-5, %lld never written; "
                     "the first is %s: expected %a (float64), got %a", CASES[c], (long long)d.differ, (long long)n,
                     (long long)d.sentinels, ea_host_batch_where(&hb, p, d.first, where, sizeof where),
                     d.b_first, d.a_first);
        free(o);
        free(ob);
        free(ref);
        ea_test_batch_free(&pr, &hb);
    }
}

static void test_invariances(void **state)
{
    (void)state;
    for (int c = 0; c < NCASES; c++) {
        ea_problem pr;
        ea_host_batch hb;
        ea_test_batch(CASES[c], &pr, &hb);
        void *o = run_canonical(&pr, &hb);
        ea_assert_invariances(CASES[c], &pr, ea_run_canonical, NULL, &hb, o);
        free(o);
        ea_test_batch_free(&pr, &hb);
    }
}

/* Head splits where a rank holds several KV heads (the invariance tests above use one per rank):
 * every tp dividing Hkv = 4, with sinks and a mask, so a slice that is off by a head, copies one
 * KV head of several, or takes another rank's sinks fails here. */
static void test_head_split_several_heads_per_rank(void **state)
{
    (void)state;
    const char *line = "name=tp bs=3 extend=rand:1:60 prefix=rand:0:90 hq=8 hkv=4 d=16 sinks=1 mask=rand cap=5";
    ea_problem pr;
    ea_host_batch hb;
    ea_test_batch(line, &pr, &hb);
    void *o = run_canonical(&pr, &hb);
    for (int32_t tp = 1; tp <= 4; tp *= 2) {
        ea_diff d;
        EA_ASSERT_OK(ea_check_head_split_invariance(&pr, ea_run_canonical, NULL, &hb, o, tp, &d));
        char where[160];
        if (d.differ || d.sentinels || d.count != ea_test_out_elems(&pr, &hb))
            fail_msg("%s: head-split invariance, tp=%d (%d query heads per rank): %lld of %lld differ, %lld never "
                     "written; the first is %s: whole %a, one rank %a", line, tp, pr.params.hq / tp, (long long)d.differ,
                     (long long)d.count, (long long)d.sentinels,
                     ea_host_batch_where(&hb, &pr.params, d.first, where, sizeof where), d.b_first, d.a_first);
    }
    free(o);
    ea_test_batch_free(&pr, &hb);
}

static ea_status run_two_stage(void *ctx, const ea_problem *pr, const ea_host_batch *hb, void *o)
{
    (void)ctx;
    return ea_reference_two_stage(&hb->batch, &pr->params, &hb->in, o);
}

/* The lesson of tutorial 2: the two-stage design is accurate, but re-splitting
 * the same sequence changes its bits. (Also proves the split check can fail.) */
static void test_two_stage_is_not_split_invariant(void **state)
{
    (void)state;
    ea_problem pr;
    ea_host_batch hb;
    ea_test_batch("name=ts bs=4 extend=100 prefix=rand:70:200 hq=4 hkv=2 d=64", &pr, &hb);
    const int64_t n = ea_test_out_elems(&pr, &hb);
    void *o = malloc(hb.o_bytes + 1);
    double *ref = malloc(sizeof(double) * (size_t)n);
    ea_fill_sentinel(o, pr.params.dtype, n);
    EA_ASSERT_OK(ea_reference_two_stage(&hb.batch, &pr.params, &hb.in, o));
    EA_ASSERT_OK(ea_reference_f64(&hb.batch, &pr.params, &hb.in, ref));
    ea_diff d = ea_compare_tol(o, pr.params.dtype, ref, n, (int64_t)pr.params.hq * pr.params.dv, 1e-5);
    assert_int_equal(d.differ, 0);
    assert_int_equal(d.sentinels, 0);
    EA_ASSERT_OK(ea_check_split_invariance(&pr, run_two_stage, NULL, &hb, o, &d));
    print_message("two-stage: %lld of %lld outputs change when the prefix is re-split\n", (long long)d.differ,
                  (long long)d.count);
    assert_true(d.differ > d.count / 10);
    free(o);
    free(ref);
    ea_test_batch_free(&pr, &hb);
}

/* bf16 storage: the output is exactly the fp32 result of the same (bf16-valued)
 * inputs, rounded to nearest even. */
static void test_bf16_output_rounding(void **state)
{
    (void)state;
    ea_problem pr;
    ea_host_batch hb;
    ea_test_batch("name=r bs=3 extend=40 prefix=rand:0:90 hq=4 hkv=2 d=32 dtype=bf16 sinks=1", &pr, &hb);
    const ea_params *p = &pr.params;
    const int64_t n = ea_test_out_elems(&pr, &hb);
    const int64_t nq = (int64_t)hb.num_tokens * p->hq * p->dqk;
    const int64_t nk = pr.pool_size * p->hkv * p->dqk, nv = pr.pool_size * p->hkv * p->dv;
    float *q = malloc(sizeof(float) * (size_t)nq), *k = malloc(sizeof(float) * (size_t)nk);
    float *v = malloc(sizeof(float) * (size_t)nv), *o32 = malloc(sizeof(float) * (size_t)n);
    for (int64_t x = 0; x < nq; x++)
        q[x] = ea_bf16_to_f32(((const uint16_t *)hb.in.q)[x]);
    for (int64_t x = 0; x < nk; x++)
        k[x] = ea_bf16_to_f32(((const uint16_t *)pr.k_pool)[x]);
    for (int64_t x = 0; x < nv; x++)
        v[x] = ea_bf16_to_f32(((const uint16_t *)pr.v_pool)[x]);
    ea_params p32 = *p;
    p32.dtype = EA_F32;
    ea_inputs in32 = {q, k, v};
    EA_ASSERT_OK(ea_reference_canonical(&hb.batch, &p32, &in32, o32));
    uint16_t *want = malloc(sizeof(uint16_t) * (size_t)n);
    for (int64_t x = 0; x < n; x++)
        want[x] = ea_f32_to_bf16(o32[x]);
    void *o = run_canonical(&pr, &hb);
    ea_assert_bits(o, want, EA_BF16, n, "bf16 run vs rounded f32 run");
    free(q), free(k), free(v), free(o32), free(want), free(o);
    ea_test_batch_free(&pr, &hb);
}

/* Fully masked rows give exactly +0; a NaN in one query row poisons only that row. */
static void test_masked_rows_and_nan(void **state)
{
    (void)state;
    ea_problem pr;
    ea_host_batch hb;
    ea_test_batch("name=m bs=2 extend=64 prefix=30 hq=2 hkv=1 d=16 mask=rand", &pr, &hb);
    const ea_params *p = &pr.params;
    const int64_t row = (int64_t)p->hq * p->dv;
    float *o = run_canonical(&pr, &hb);
    int hidden_rows = 0;
    for (int32_t i = 0; i < 2; i++)
        for (int32_t r = 0; r < 64; r++) {
            const uint8_t *m = hb.custom_mask + hb.mask_indptr[i] + r * 94;
            int any = 0;
            for (int u = 0; u < 94; u++)
                any |= m[u];
            if (any)
                continue;
            hidden_rows++;
            for (int64_t x = 0; x < row; x++)
                assert_true(ea_f32_bits(o[(hb.qo_indptr[i] + r) * row + x]) == 0); /* +0.0 exactly */
        }
    assert_true(hidden_rows > 0); /* the generator hides one row in eight */

    /* NaN in the query of token 5, head 0: every score of that head is NaN;
     * the max ignores NaN operands, so m stays -inf and the contract's
     * "no visible key" rule writes +0. Every other output is unchanged. */
    ((float *)hb.in.q)[5 * p->hq * p->dqk] = NAN;
    float *o2 = run_canonical(&pr, &hb);
    for (int64_t x = 0; x < ea_test_out_elems(&pr, &hb); x++) {
        const int64_t tok = x / row, h = (x % row) / p->dv;
        const int poisoned = tok == 5 && h == 0;
        assert_true(ea_f32_bits(o2[x]) == (poisoned ? 0u : ea_f32_bits(o[x])));
    }
    free(o);
    free(o2);
    ea_test_batch_free(&pr, &hb);
}

/* The unified indices equal the generator's position-ordered slots, split any way. The batches
 * store new tokens' slots in reverse request order (extend_start_loc != qo_indptr), and requests
 * with no new token or no prefix are among them. Expected values come from the problem, never
 * from the builder; a failure names the request, the array and the index. */
static void test_unified_builder(void **state)
{
    (void)state;
    ea_problem pr;
    ea_host_batch hb;
    ea_test_problem("name=u bs=6 extend=7,0,30,1,12,25 prefix=0,40,3,64,17,0 hq=2 hkv=1 d=4", &pr);
    int32_t alt[6];
    for (int i = 0; i < 6; i++)
        alt[i] = pr.seq_lens[i] / 3;
    for (int split = 0; split < 2; split++) {
        const char *batch = split ? "second batch (P_i = T_i / 3)" : "first batch (P_i as drawn)";
        EA_ASSERT_OK(ea_host_batch_make(&pr, NULL, 0, split ? alt : NULL, &hb));
        ea_unified u;
        EA_ASSERT_OK(ea_unified_build(&hb.batch, &pr.params, &u));
        int32_t indptr = 0;
        for (int i = 0; i <= 6; i++) {
            if (u.unified_kv_indptr[i] != indptr)
                fail_msg("%s: unified_kv_indptr[%d] expected %d (sum of P + E of requests 0..%d), got %d", batch, i,
                         indptr, i - 1, u.unified_kv_indptr[i]);
            if (i == 6)
                break;
            const int32_t P = split ? alt[i] : pr.prefix_lens[i];
            if (u.prefix_lens[i] != P)
                fail_msg("%s: prefix_lens[%d] expected %d, got %d", batch, i, P, u.prefix_lens[i]);
            indptr += pr.seq_lens[i];
        }
        if (!u.unified_kv_indices)
            fail_msg("%s: unified_kv_indices is NULL (%d slots expected)", batch, indptr);
        for (int i = 0; i < 6; i++) {
            const int32_t P = u.prefix_lens[i];
            for (int32_t x = 0; x < pr.seq_lens[i]; x++) {
                const int64_t want = pr.slots[pr.seq_start[i] + x], got = u.unified_kv_indices[u.unified_kv_indptr[i] + x];
                if (got != want)
                    fail_msg("%s: request %d, key u=%d (%s %d): unified_kv_indices[%d] expected slot %lld, got %lld"
                             " (its prefix slots start at prefix_kv_indices[%d], its new ones at extend_kv_indices[%d])",
                             batch, i, x, x < P ? "prefix key" : "new token", x < P ? x : x - P,
                             u.unified_kv_indptr[i] + x, (long long)want, (long long)got, hb.prefix_kv_indptr[i],
                             hb.extend_start_loc[i]);
            }
        }
        ea_unified_free(&u);
        ea_unified_free(&u); /* idempotent */
        ea_host_batch_free(&hb);
    }
    ea_problem_free(&pr);
}

/* Every output element is written, for every case and every reference. */
static void test_poisoned_outputs(void **state)
{
    (void)state;
    for (int c = 0; c < NCASES; c++) {
        ea_problem pr;
        ea_host_batch hb;
        ea_test_batch(CASES[c], &pr, &hb);
        const int64_t n = ea_test_out_elems(&pr, &hb);
        ea_status (*fns[])(const ea_batch *, const ea_params *, const ea_inputs *, void *) = {
            ea_reference_canonical, ea_reference_blas, ea_reference_two_stage};
        for (int f = 0; f < 3; f++) {
            ea_fill_sentinel(hb.o, pr.params.dtype, n);
            EA_ASSERT_OK(fns[f](&hb.batch, &pr.params, &hb.in, hb.o));
            ea_diff d = ea_compare_bits(hb.o, hb.o, pr.params.dtype, n);
            if (d.sentinels)
                fail_msg("%s: reference %d left %lld outputs unwritten", CASES[c], f, (long long)d.sentinels);
        }
        ea_test_batch_free(&pr, &hb);
    }
}

int main(void)
{
    ea_test_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_matches_design_transcription),
        cmocka_unit_test(test_agreement_with_blas_and_f64),
        cmocka_unit_test(test_invariances),
        cmocka_unit_test(test_head_split_several_heads_per_rank),
        cmocka_unit_test(test_two_stage_is_not_split_invariant),
        cmocka_unit_test(test_bf16_output_rounding),
        cmocka_unit_test(test_masked_rows_and_nan),
        cmocka_unit_test(test_unified_builder),
        cmocka_unit_test(test_poisoned_outputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
