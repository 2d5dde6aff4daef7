/* The tolerance check: no false failure on outputs that cancel, and still
 * tight enough to catch a wrong exp or a softmax step out of order.
 *
 * The fp32 attention below is written here, not taken from the library, so
 * each variant can be wrong in one chosen way; the float64 yardstick and its
 * magnitudes come from ea_reference_f64_mag(). */
#include "test_util.h"

#include <math.h>

/* One output per token and cancelling values: the row's largest output is
 * about as small as the rounding error, so a scale taken from it fails. */
#define CANCELLING "name=a bs=1 extend=64 hq=1 hkv=1 dqk=128 dv=1 seed=1"

static void f64_with_mag(const ea_host_batch *hb, const ea_params *p, double **ref, double **mag, int64_t n)
{
    *ref = malloc(sizeof(double) * (size_t)n);
    *mag = malloc(sizeof(double) * (size_t)n);
    assert_non_null(*ref);
    assert_non_null(*mag);
    EA_ASSERT_OK(ea_reference_f64_mag(&hb->batch, p, &hb->in, *ref, *mag));
}

static void test_cancelling_outputs_pass(void **state)
{
    (void)state;
    ea_problem pr;
    ea_host_batch hb;
    ea_test_batch(CANCELLING, &pr, &hb);
    const ea_params *p = &pr.params;
    const int64_t n = ea_test_out_elems(&pr, &hb);
    double *ref, *mag;
    f64_with_mag(&hb, p, &ref, &mag, n);
    void *o = malloc(hb.o_bytes), *ob = malloc(hb.o_bytes);
    double *blas = malloc(sizeof(double) * (size_t)n);
    EA_ASSERT_OK(ea_reference_canonical(&hb.batch, p, &hb.in, o));
    EA_ASSERT_OK(ea_reference_blas(&hb.batch, p, &hb.in, ob));
    ea_to_double(ob, p->dtype, n, blas);

    /* the case is what it claims: against its row's largest output, canonical is off by more than 1e-5 */
    const ea_diff by_row = ea_compare_tol(o, p->dtype, ref, n, (int64_t)p->hq * p->dv, 1e-5);
    assert_true(by_row.differ > 0);

    const ea_diff canon = ea_compare_mag(o, p->dtype, ref, mag, n, 1e-5);
    const ea_diff textbook = ea_compare_mag(ob, p->dtype, ref, mag, n, 1e-5);
    const ea_diff each_other = ea_compare_mag(o, p->dtype, blas, mag, n, 1e-5);
    print_message("dv=1: canonical %.2e, OpenBLAS %.2e of the magnitude (by the row's largest: %.2e)\n",
                  canon.max_rel, textbook.max_rel, by_row.max_rel);
    assert_int_equal(canon.differ, 0);
    assert_int_equal(textbook.differ, 0);
    assert_int_equal(each_other.differ, 0);
    for (int64_t k = 0; k < n; k++)
        assert_true(fabs(ref[k]) <= mag[k]);
    free(o), free(ob), free(blas), free(ref), free(mag);
    ea_test_batch_free(&pr, &hb);
}

/* How the fp32 attention below goes wrong, or does not. */
typedef enum {
    REVERSED,      /* a two-pass softmax summing keys from last to first: another order, as accurate */
    COARSE_EXP,    /* libm expf with its last 12 bits cleared: an exp good to 2^-11 */
    STEPS_SWAPPED, /* online softmax that adds a tile before rescaling the state, instead of after */
} variant;

static float exp_of(variant v, float x)
{
    float e = expf(x);
    if (v == COARSE_EXP) {
        uint32_t bits;
        memcpy(&bits, &e, sizeof bits);
        bits &= ~0xfffu;
        memcpy(&e, &bits, sizeof e);
    }
    return e;
}

/* Causal attention of one request without prefix, one head (hq = hkv = 1), f32, in the given way. */
static void attention_f32(const ea_host_batch *hb, const ea_params *p, variant v, float *o)
{
    const float *q = hb->in.q, *k = hb->in.k_pool, *val = hb->in.v_pool;
    const int64_t *slot = hb->extend_kv_indices;
    float s[1024], acc[EA_MAX_HEAD_DIM];
    for (int32_t r = 0; r < hb->num_tokens; r++) {
        for (int32_t u = 0; u <= r; u++) {
            float x = 0.0f;
            for (int32_t d = 0; d < p->dqk; d++)
                x = fmaf(q[r * p->dqk + d], k[slot[u] * p->dqk + d], x);
            s[u] = x * p->sm_scale;
        }
        float m = -INFINITY, l = 0.0f;
        for (int32_t d = 0; d < p->dv; d++)
            acc[d] = 0.0f;
        if (v == STEPS_SWAPPED) {
            for (int32_t tile = 0; tile <= r; tile += EA_TILE) {
                const int32_t end = tile + EA_TILE <= r + 1 ? tile + EA_TILE : r + 1;
                float m_new = m;
                for (int32_t u = tile; u < end; u++)
                    m_new = fmaxf(m_new, s[u]);
                for (int32_t u = tile; u < end; u++) {
                    const float pu = exp_of(v, s[u] - m_new);
                    l += pu;
                    for (int32_t d = 0; d < p->dv; d++)
                        acc[d] = fmaf(pu, val[slot[u] * p->dv + d], acc[d]);
                }
                const float a = m == -INFINITY ? 1.0f : exp_of(v, m - m_new); /* too late: the tile is in */
                l *= a;
                for (int32_t d = 0; d < p->dv; d++)
                    acc[d] *= a;
                m = m_new;
            }
        } else {
            for (int32_t u = 0; u <= r; u++)
                m = fmaxf(m, s[u]);
            for (int32_t u = r; u >= 0; u--) {
                const float pu = exp_of(v, s[u] - m);
                l += pu;
                for (int32_t d = 0; d < p->dv; d++)
                    acc[d] = fmaf(pu, val[slot[u] * p->dv + d], acc[d]);
            }
        }
        for (int32_t d = 0; d < p->dv; d++)
            o[r * p->dv + d] = acc[d] / l;
    }
}

static void test_wrong_exp_and_order_fail(void **state)
{
    (void)state;
    /* several tiles, so that a step out of order has something to act on */
    static const char *const lines[] = {"name=a bs=1 extend=200 hq=1 hkv=1 dqk=128 dv=1",
                                        "name=b bs=1 extend=300 hq=1 hkv=1 dqk=64 dv=16"};
    static const struct {
        variant v;
        const char *what;
        int passes;
    } variants[] = {{REVERSED, "keys summed last to first", 1},
                    {COARSE_EXP, "an exp good to 2^-11", 0},
                    {STEPS_SWAPPED, "a tile added before the rescale", 0}};
    for (size_t c = 0; c < sizeof lines / sizeof lines[0]; c++) {
        ea_problem pr;
        ea_host_batch hb;
        ea_test_batch(lines[c], &pr, &hb);
        const int64_t n = ea_test_out_elems(&pr, &hb);
        assert_true(hb.num_tokens <= 1024);
        double *ref, *mag;
        f64_with_mag(&hb, &pr.params, &ref, &mag, n);
        float *o = malloc(sizeof(float) * (size_t)n);
        for (size_t k = 0; k < sizeof variants / sizeof variants[0]; k++) {
            attention_f32(&hb, &pr.params, variants[k].v, o);
            const ea_diff d = ea_compare_mag(o, EA_F32, ref, mag, n, 1e-5);
            print_message("%s: %-32s %6lld of %lld beyond 1e-5 (max %.2e)\n", pr.spec.name, variants[k].what,
                          (long long)d.differ, (long long)n, d.max_rel);
            if (variants[k].passes ? d.differ != 0 : d.differ == 0)
                fail_msg("%s: %s: the check %s", pr.spec.name, variants[k].what,
                         variants[k].passes ? "fails a valid order" : "does not see the error");
        }
        free(o), free(ref), free(mag);
        ea_test_batch_free(&pr, &hb);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancelling_outputs_pass),
        cmocka_unit_test(test_wrong_exp_and_order_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
