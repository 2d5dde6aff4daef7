/* ea_expf, ea_tanhf and the bf16 conversions against double-precision
 * oracles, over a dense sweep of every float range: subnormals, normals,
 * the overflow and underflow edges, infinities and NaN. */
#include "ea_math.h"
#include "test_util.h"

#include <float.h>
#include <math.h>

/* Error of `got` in units of the last place of the correctly rounded `exact`. */
static double ulp_error(float got, double exact)
{
    if (isnan(exact))
        return isnan(got) ? 0.0 : INFINITY;
    float cr = (float)exact; /* round to nearest: the correctly rounded result */
    if (isinf(cr) || isinf(got))
        return got == cr ? 0.0 : INFINITY;
    int e;
    frexp(cr == 0.0f ? FLT_MIN : fabs((double)cr), &e);
    double ulp = ldexp(1.0, e - 24);
    if (ulp < 0x1p-149)
        ulp = 0x1p-149; /* subnormal spacing */
    return fabs((double)got - exact) / ulp;
}

typedef float (*f32_fn)(float);
typedef double (*f64_fn)(double);

/* Every 97th bit pattern (all signs, exponents and both ends of each
 * binade get hit), plus every pattern within 4096 of the edges given. */
static double sweep(f32_fn f, f64_fn oracle, const float *edges, int n_edges, float *worst)
{
    double max_err = 0.0;
    for (uint64_t b = 0; b <= 0xffffffffull; b += 97) {
        float x = ea_f32_from_bits((uint32_t)b);
        double e = ulp_error(f(x), oracle((double)x));
        if (e > max_err)
            max_err = e, *worst = x;
    }
    for (int k = 0; k < n_edges; k++) {
        uint32_t c = ea_f32_bits(edges[k]);
        for (int64_t d = -4096; d <= 4096; d++) {
            float x = ea_f32_from_bits((uint32_t)((int64_t)c + d));
            double e = ulp_error(f(x), oracle((double)x));
            if (e > max_err)
                max_err = e, *worst = x;
        }
    }
    return max_err;
}

static float expf_fn(float x) { return ea_expf(x); }
static float tanhf_fn(float x) { return ea_tanhf(x); }

static void test_expf_accuracy(void **state)
{
    (void)state;
    /* overflow and underflow thresholds, 0, the polynomial range ends, subnormal inputs */
    const float edges[] = {88.72283935546875f, -103.972076f, -87.33654f, 0.0f, -0.0f, 0.34657359f,
                           -0.34657359f, 0x1p-126f, -0x1p-126f, 1.0f};
    float worst = 0;
    double err = sweep(expf_fn, exp, edges, (int)(sizeof edges / sizeof *edges), &worst);
    print_message("ea_expf: max error %.3f ulp (at %a)\n", err, worst);
    if (err > 2.0)
        fail_msg("ea_expf error %.3f ulp > 2 at %a", err, worst);
}

static void test_expf_special(void **state)
{
    (void)state;
    assert_true(ea_expf(0.0f) == 1.0f);
    assert_true(ea_expf(-0.0f) == 1.0f);
    assert_true(isinf(ea_expf(INFINITY)) && ea_expf(INFINITY) > 0);
    assert_true(ea_expf(-INFINITY) == 0.0f && !signbit(ea_expf(-INFINITY)));
    assert_true(isnan(ea_expf(NAN)));
    assert_true(isinf(ea_expf(89.0f)));
    assert_true(ulp_error(ea_expf(88.7f), exp((double)88.7f)) <= 2.0 && !isinf(ea_expf(88.7f)));
    assert_true(ea_expf(-103.9f) > 0.0f);          /* a subnormal result, not flushed */
    assert_true(ea_expf(-0x1.9fe368p+6f) == 0x1p-149f); /* the smallest subnormal */
    assert_true(ea_expf(-104.0f) == 0.0f);
}

static void test_tanhf_accuracy(void **state)
{
    (void)state;
    /* branch points of the implementation and the saturation region */
    const float edges[] = {0x1p-12f, -0x1p-12f, 0.625f, -0.625f, 9.0f, -9.0f, 0.0f, 0x1p-126f};
    float worst = 0;
    double err = sweep(tanhf_fn, tanh, edges, (int)(sizeof edges / sizeof *edges), &worst);
    print_message("ea_tanhf: max error %.3f ulp (at %a)\n", err, worst);
    if (err > 4.0)
        fail_msg("ea_tanhf error %.3f ulp > 4 at %a", err, worst);
}

static void test_tanhf_special(void **state)
{
    (void)state;
    assert_true(ea_tanhf(0.0f) == 0.0f && !signbit(ea_tanhf(0.0f)));
    assert_true(ea_tanhf(-0.0f) == 0.0f && signbit(ea_tanhf(-0.0f)));
    assert_true(ea_tanhf(INFINITY) == 1.0f);
    assert_true(ea_tanhf(-INFINITY) == -1.0f);
    assert_true(isnan(ea_tanhf(NAN)));
    assert_true(ea_tanhf(0x1p-140f) == 0x1p-140f); /* subnormal in, itself out */
    for (float x = 0.01f; x < 12.0f; x *= 1.37f)
        assert_true(ea_tanhf(-x) == -ea_tanhf(x)); /* odd */
}

/* bf16 -> f32 is exact: all 65536 patterns. */
static void test_bf16_to_f32_exact(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float x = ea_bf16_to_f32((uint16_t)h);
        assert_int_equal(ea_f32_bits(x), h << 16);
    }
}

/* f32 -> bf16 rounds to nearest, ties to even, checked against the two
 * neighbouring bf16 values computed in double. */
static void test_f32_to_bf16_rounding(void **state)
{
    (void)state;
    for (uint64_t b = 0; b <= 0xffffffffull; b += 61) {
        const uint32_t u = (uint32_t)b;
        const float x = ea_f32_from_bits(u);
        const uint16_t got = ea_f32_to_bf16(x);
        if (isnan(x)) {
            assert_true(isnan(ea_bf16_to_f32(got)));
            continue;
        }
        const uint16_t lo = (uint16_t)(u >> 16), hi = (uint16_t)(lo + 1); /* toward zero, away from zero */
        const double dx = fabs((double)x);
        const double dlo = fabs((double)ea_bf16_to_f32(lo));
        const double dhi = (lo & 0x7fff) == 0x7f7f ? 0x1p128 : fabs((double)ea_bf16_to_f32(hi)); /* past max: inf */
        uint16_t want;
        if (dx - dlo < dhi - dx)
            want = lo;
        else if (dx - dlo > dhi - dx)
            want = hi;
        else
            want = (lo & 1) ? hi : lo;
        if (got != want)
            fail_msg("ea_f32_to_bf16(%a) = 0x%04x, expected 0x%04x", x, got, want);
    }
    assert_int_equal(ea_f32_to_bf16(INFINITY), 0x7f80);
    assert_int_equal(ea_f32_to_bf16(-INFINITY), 0xff80);
    assert_int_equal(ea_f32_to_bf16(FLT_MAX), 0x7f80); /* rounds past the largest bf16 */
    assert_int_equal(ea_f32_to_bf16(-0.0f), 0x8000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expf_accuracy),  cmocka_unit_test(test_expf_special),
        cmocka_unit_test(test_tanhf_accuracy), cmocka_unit_test(test_tanhf_special),
        cmocka_unit_test(test_bf16_to_f32_exact), cmocka_unit_test(test_f32_to_bf16_rounding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
