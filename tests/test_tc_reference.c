/* The tensor-core reference (ea_reference_tc) against a second transcription of DESIGN.md
 * section 6.2, written from the text: one pair at a time, one tile at a time, no threads, no
 * shared scratch. Plus its accuracy against float64 on the same bf16 inputs, its batch and
 * prefix-split invariances, and the block rule with NaN in V. */
#include "ea_math.h"
#include "ea_mma.h"
#include "test_util.h"

#include <math.h>

static const char *const CASES[] = {
    "name=plain bs=3 extend=5,70,130 prefix=0,3,140 hq=4 hkv=2 d=32",
    "name=gqa8 bs=2 extend=rand:1:90 prefix=rand:0:150 hq=8 hkv=1 d=64",
    "name=gqa3_odd bs=2 extend=21 prefix=9 hq=3 hkv=1 dqk=7 dv=5",
    "name=dqk_dv bs=2 extend=33 prefix=65 hq=4 hkv=2 dqk=48 dv=24",
    "name=noncausal_window bs=2 extend=70 prefix=60 causal=0 window=30 hq=2 hkv=1 d=16",
    "name=cap_sinks bs=3 extend=50 prefix=rand:0:100 cap=2.5 sinks=1 hq=4 hkv=2 d=32",
    "name=mask bs=3 extend=40 prefix=rand:0:80 mask=rand window=25 hq=4 hkv=1 d=16",
    "name=bf16 bs=3 extend=50 prefix=rand:0:100 dtype=bf16 cap=10 sinks=1 window=60 dqk=64 dv=32 hq=4 hkv=2",
};
#define NCASES ((int)(sizeof CASES / sizeof *CASES))

static uint16_t bf16_of(const void *t, ea_dtype dt, int64_t i)
{
    return dt == EA_BF16 ? ((const uint16_t *)t)[i] : ea_f32_to_bf16(((const float *)t)[i]);
}

static int sees(const ea_params *p, const ea_batch *b, int32_t i, int32_t P, int32_t E, int32_t r, int32_t u)
{
    if (u >= P + E)
        return 0;
    int v = b->custom_mask ? b->custom_mask[b->mask_indptr[i] + (int64_t)r * (P + E) + u] != 0 : (!p->causal || u <= P + r);
    if (p->sliding_window >= 0 && P + r - u > p->sliding_window)
        v = 0;
    return v;
}

/* DESIGN.md 6.2 for the pair (row r, head h) of request i: the output row, as floats. */
static void design_pair(const ea_problem *pr, const ea_host_batch *hb, int32_t i, int32_t r, int32_t h, float *out)
{
    const ea_params *p = &pr->params;
    const ea_batch *b = &hb->batch;
    const int32_t P = b->prefix_kv_indptr[i + 1] - b->prefix_kv_indptr[i];
    const int32_t E = b->qo_indptr[i + 1] - b->qo_indptr[i];
    const int32_t G = p->hq / p->hkv, g = h / G, pair = r * G + h % G;
    const int32_t D16 = (p->dqk + 15) / 16 * 16;
    /* the block: 64 consecutive pairs from p = 0; its token rows */
    const int32_t p0 = pair / 64 * 64, p1 = p0 + 64 < E * G ? p0 + 64 : E * G;
    const int32_t r_first = p0 / G, r_last = (p1 - 1) / G;
    uint16_t q[256] = {0}, k[16], v[16], pb[64], ones[16];
    for (int d = 0; d < p->dqk; d++)
        q[d] = bf16_of(hb->in.q, p->dtype, ((int64_t)(b->qo_indptr[i] + r) * p->hq + h) * p->dqk + d);
    for (int x = 0; x < 16; x++)
        ones[x] = 0x3f80;
    float m = -INFINITY, l = 0.0f, O[256] = {0};
    for (int32_t j = 0; 64 * j < P + E; j++) {
        int computed = 0; /* does some pair of the block see some key of the tile? */
        for (int32_t rr = r_first; rr <= r_last && !computed; rr++)
            for (int32_t u = 64 * j; u < 64 * j + 64 && !computed; u++)
                computed = sees(p, b, i, P, E, rr, u);
        if (!computed)
            continue;
        int64_t slot[64];
        float s[64];
        for (int x = 0; x < 64; x++) {
            const int32_t u = 64 * j + x;
            slot[x] = u < P + E ? (u < P ? b->prefix_kv_indices[b->prefix_kv_indptr[i] + u]
                                         : b->extend_kv_indices[b->extend_start_loc[i] + u - P])
                                : -1;
            s[x] = 0.0f;
            for (int d0 = 0; d0 < D16; d0 += 16) {
                for (int d = 0; d < 16; d++)
                    k[d] = slot[x] >= 0 && d0 + d < p->dqk
                               ? bf16_of(pr->k_pool, p->dtype, (slot[x] * p->hkv + g) * p->dqk + d0 + d)
                               : 0;
                s[x] = ea_mma_m16n8k16_elem(q + d0, k, s[x]);
            }
            s[x] = s[x] * p->sm_scale;
            if (p->logit_cap > 0)
                s[x] = p->logit_cap * ea_tanhf(s[x] / p->logit_cap);
        }
        float m_new = m;
        for (int x = 0; x < 64; x++)
            if (sees(p, b, i, P, E, r, 64 * j + x))
                m_new = fmaxf(m_new, s[x]);
        if (m_new > m) {
            const float a = ea_expf(m - m_new);
            for (int d = 0; d < p->dv; d++)
                O[d] = O[d] * a;
            l = l * a;
        }
        for (int x = 0; x < 64; x++)
            pb[x] = sees(p, b, i, P, E, r, 64 * j + x) ? ea_f32_to_bf16(ea_expf(s[x] - m_new)) : 0;
        for (int k0 = 0; k0 < 64; k0 += 16) {
            for (int d = 0; d < p->dv; d++) {
                for (int x = 0; x < 16; x++)
                    v[x] = slot[k0 + x] >= 0 ? bf16_of(pr->v_pool, p->dtype, (slot[k0 + x] * p->hkv + g) * p->dv + d) : 0;
                O[d] = ea_mma_m16n8k16_elem(pb + k0, v, O[d]);
            }
            l = ea_mma_m16n8k16_elem(pb + k0, ones, l);
        }
        m = m_new;
    }
    for (int d = 0; d < p->dv; d++)
        out[d] = 0.0f;
    if (m == -INFINITY)
        return;
    if (p->sinks)
        l = l + ea_expf(p->sinks[h] - m);
    for (int d = 0; d < p->dv; d++)
        out[d] = O[d] / l;
}

static void *run_tc(const ea_problem *pr, const ea_host_batch *hb)
{
    void *o = malloc(hb->o_bytes + 1);
    ea_fill_sentinel(o, pr->params.dtype, ea_test_out_elems(pr, hb));
    EA_ASSERT_OK(ea_reference_tc(&hb->batch, &pr->params, &hb->in, o));
    return o;
}

/* Every output of the reference equals the transcription's, bit for bit. */
static void check_against_transcription(const ea_problem *pr, const ea_host_batch *hb, const char *what)
{
    const ea_params *p = &pr->params;
    void *o = run_tc(pr, hb), *want = malloc(hb->o_bytes + 1);
    float row[256];
    for (int32_t i = 0; i < hb->batch.bs; i++)
        for (int32_t r = 0; r < hb->batch.qo_indptr[i + 1] - hb->batch.qo_indptr[i]; r++)
            for (int32_t h = 0; h < p->hq; h++) {
                design_pair(pr, hb, i, r, h, row);
                const int64_t base = ((int64_t)(hb->batch.qo_indptr[i] + r) * p->hq + h) * p->dv;
                for (int d = 0; d < p->dv; d++) {
                    if (p->dtype == EA_BF16)
                        ((uint16_t *)want)[base + d] = ea_f32_to_bf16(row[d]);
                    else
                        ((float *)want)[base + d] = row[d];
                }
            }
    ea_assert_bits(o, want, p->dtype, ea_test_out_elems(pr, hb), what);
    free(o), free(want);
}

static void test_tc_matches_design_transcription(void **state)
{
    (void)state;
    for (int c = 0; c < NCASES; c++) {
        ea_problem pr;
        ea_host_batch hb;
        ea_test_batch(CASES[c], &pr, &hb);
        check_against_transcription(&pr, &hb, CASES[c]);
        ea_test_batch_free(&pr, &hb);
    }
}

/* NaN and inf in k and v, q too, with Dqk = 16 and with Dqk = 7 (padded with zeros to 16: a k
 * element past dqk must never be read, and an infinity at the start of the next row would show it). */
static void test_tc_nonfinite_inputs(void **state)
{
    (void)state;
    static const char *const lines[] = {"name=nan bs=2 extend=70 prefix=30 hq=4 hkv=2 d=16 cap=3",
                                        "name=nan7 bs=2 extend=70 prefix=30 hq=4 hkv=2 dqk=7 dv=5"};
    for (int c = 0; c < 2; c++) {
        ea_problem pr;
        ea_host_batch hb;
        ea_test_nonfinite_batch(lines[c], &pr, &hb);
        check_against_transcription(&pr, &hb, lines[c]);
        ea_test_batch_free(&pr, &hb);
    }
}

/* The block rule of 6.2, pinned: one request, E = 70 new tokens after P = 30 cached, G = 2, so
 * block 1 holds pairs 64..127 = token rows 32..63 (positions 62..93). Key 66 lies in tile 1, which
 * block 1 computes because rows from 34 on see key 64. Rows 32 and 33 see nothing of tile 1, yet
 * the tile is computed for them with p = 0: an infinity in V at key 66 makes 0 * inf = NaN in
 * their output column. A per-row skip rule would leave them finite; block 0 (rows 0..31, keys up
 * to 61) never computes tile 1, so its rows stay finite. */
static void test_tc_block_rule(void **state)
{
    (void)state;
    ea_problem pr;
    ea_host_batch hb;
    ea_test_problem("name=block bs=1 extend=70 prefix=30 hq=4 hkv=2 d=16 seed=11", &pr);
    EA_ASSERT_OK(ea_host_batch_make(&pr, NULL, 0, NULL, &hb));
    const int64_t slot = ea_test_key_slot(&hb, 0, 66);
    ((float *)pr.v_pool)[(slot * 2 + 0) * 16 + 3] = INFINITY; /* KV head 0, value dimension 3 */
    float *o = run_tc(&pr, &hb);
    const int32_t hq = 4, dv = 16;
#define O(r, h, d) o[((int64_t)(r)*hq + (h)) * dv + (d)]
    for (int r = 32; r <= 33; r++)
        for (int h = 0; h < 2; h++) { /* the heads of KV head 0 */
            if (!isnan(O(r, h, 3)))
                fail_msg("row %d head %d: %a, but tile 1 is computed for block 1 and 0 * inf is NaN", r, h, O(r, h, 3));
            if (!isfinite(O(r, h, 2)))
                fail_msg("row %d head %d: another column is touched: %a", r, h, O(r, h, 2));
        }
    for (int r = 0; r < 32; r++)
        if (!isfinite(O(r, 0, 3)))
            fail_msg("row %d (block 0, which never computes tile 1): %a", r, O(r, 0, 3));
    if (!isfinite(O(32, 2, 3)))
        fail_msg("row 32 head 2 (KV head 1) must not see KV head 0's value: %a", O(32, 2, 3));
#undef O
    check_against_transcription(&pr, &hb, "block rule");
    free(o);
    ea_test_batch_free(&pr, &hb);
}

/* Within 2^-7 of float64 on the same bf16-rounded inputs (DESIGN.md 6.2, "Accuracy"). */
static void test_tc_accuracy(void **state)
{
    (void)state;
    for (int c = 0; c < NCASES; c++) {
        ea_problem pr;
        ea_host_batch hb;
        ea_test_batch(CASES[c], &pr, &hb);
        const ea_params *p = &pr.params;
        const int64_t n = ea_test_out_elems(&pr, &hb), pool = hb.batch.pool_size * p->hkv;
        const int64_t sizes[3] = {(int64_t)hb.num_tokens * p->hq * p->dqk, pool * p->dqk, pool * p->dv};
        const void *src[3] = {hb.in.q, hb.in.k_pool, hb.in.v_pool};
        float *rounded[3];
        for (int t = 0; t < 3; t++) {
            rounded[t] = malloc(sizeof(float) * (size_t)sizes[t]);
            for (int64_t x = 0; x < sizes[t]; x++)
                rounded[t][x] = ea_bf16_to_f32(bf16_of(src[t], p->dtype, x));
        }
        ea_params p32 = *p;
        p32.dtype = EA_F32;
        const ea_inputs in = {rounded[0], rounded[1], rounded[2]};
        double *ref = malloc(sizeof(double) * (size_t)n);
        EA_ASSERT_OK(ea_reference_f64(&hb.batch, &p32, &in, ref));
        void *o = run_tc(&pr, &hb);
        const ea_diff d = ea_compare_tol(o, p->dtype, ref, n, (int64_t)p->hq * p->dv, 0x1p-7);
        if (d.differ)
            fail_msg("%s: %lld outputs beyond 2^-7 (max rel %.3g)", CASES[c], (long long)d.differ, d.max_rel);
        print_message("%-10s max error %.2e of the row's largest output\n", pr.spec.name, d.max_rel);
        free(o), free(ref);
        for (int t = 0; t < 3; t++)
            free(rounded[t]);
        ea_test_batch_free(&pr, &hb);
    }
}

static void test_tc_invariances(void **state)
{
    (void)state;
    for (int c = 0; c < NCASES; c++) {
        ea_problem pr;
        ea_host_batch hb;
        ea_test_batch(CASES[c], &pr, &hb);
        void *o = run_tc(&pr, &hb);
        ea_assert_invariances(CASES[c], &pr, ea_run_tc, NULL, &hb, o);
        free(o);
        ea_test_batch_free(&pr, &hb);
    }
}

/* Bad input: the reference's checks are the canonical one's, and nothing is written. */
static void test_tc_bad_input(void **state)
{
    (void)state;
    ea_problem pr;
    ea_host_batch hb;
    ea_test_batch("name=bad bs=2 extend=20 prefix=10 hq=2 hkv=1 d=16", &pr, &hb);
    const int64_t n = ea_test_out_elems(&pr, &hb);
    ea_fill_sentinel(hb.o, EA_F32, n);
    hb.extend_kv_indices[hb.extend_start_loc[0] + 3] = pr.pool_size; /* request 0's new key 3 */
    EA_ASSERT_ERR(ea_reference_tc(&hb.batch, &pr.params, &hb.in, hb.o), EA_ERR_SLOT, "request 0");
    assert_int_equal(ea_compare_bits(hb.o, hb.o, EA_F32, n).sentinels, n);
    EA_ASSERT_ERR(ea_reference_tc(&hb.batch, &pr.params, &hb.in, NULL), EA_ERR_SLOT, "request 0");
    hb.extend_kv_indices[hb.extend_start_loc[0] + 3] = 0;
    EA_ASSERT_ERR(ea_reference_tc(&hb.batch, &pr.params, &hb.in, NULL), EA_ERR_NULL, "required");
    ea_test_batch_free(&pr, &hb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tc_matches_design_transcription),
        cmocka_unit_test(test_tc_nonfinite_inputs),
        cmocka_unit_test(test_tc_block_rule),
        cmocka_unit_test(test_tc_accuracy),
        cmocka_unit_test(test_tc_invariances),
        cmocka_unit_test(test_tc_bad_input),
    };
    return cmocka_run_group_tests_name("tensor-core reference", tests, NULL, NULL);
}
