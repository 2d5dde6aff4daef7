/* The tensor-core kernel's two shortcuts through fast hardware instructions, each giving exactly
 * the bits of the slow, exact operation it replaces (DESIGN.md section 6.2):
 *   tc_prob_fast()   P = bf16(ea_expf(x)) from ex2.approx, with an exact fallback near bf16 midpoints;
 *   divide()         x / den with the reciprocal computed once per row instead of once per element.
 * Each comes with a check over its whole domain, or the part of it the bits depend on, that the
 * GPU suite runs (kernels/tc_fast_math_check.cu). */
#ifndef EA_TC_FAST_MATH_CUH
#define EA_TC_FAST_MATH_CUH

#include <stdint.h>

/* P = bf16(ea_expf(x)), fast, for x = S - m <= 0 (m is the max of the scores a row sees) or NaN.
 * Only the bf16 rounding of ea_expf(x) is needed, and that depends on ea_expf(x) only near a
 * rounding midpoint. So: y = 2^(x log2 e) from the hardware's ex2.approx (one instruction), with
 * the argument's rounding error put back by one fma; where y lies within TC_PROB_MARGIN fp32 ulps
 * of a bf16 midpoint, or x is below -80 (ex2.approx flushes subnormals) or NaN, *exact is set and
 * the caller computes ea_expf(x) itself. test_gpu checks, for every float x <= 0 and every NaN,
 * that bf16(y) == bf16(ea_expf(x)) wherever *exact is not set, and measures how far y
 * strays from ea_expf(x): the margin only has to exceed that distance (3 ulps on an H200), and the
 * smaller it is, the rarer the exact path. Positive x is never passed (nor checked): the scores a
 * row does not see may give one, but their probability is replaced by 0 whatever y is. */
#define TC_PROB_MARGIN 4u

__device__ __forceinline__ float tc_prob_fast(float x, bool &exact)
{
    const float log2e = 0x1.715476p+0f, ln2_hi = 0x1.62e430p-1f, ln2_lo = -0x1.05c610p-29f;
    const float t = x * log2e;
    /* e^x = 2^t e^(x - t ln2), and x - t ln2 (ln2 in two parts, each fma rounding a tiny result)
     * is the argument's rounding error times ln2, below 2^-17: e^d = 1 + d to 2^-35. The constants
     * carry the minus sign (t (-c) is exactly -(t c)), so no instruction computes -t. */
    const float d = fmaf(t, -ln2_lo, fmaf(t, -ln2_hi, x));
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(t));
    y = fmaf(y, d, y);
    /* near a bf16 midpoint: the low 16 bits of y within TC_PROB_MARGIN of 0x8000, tested as one
     * wrapping subtraction on the bits shifted to the top */
    const uint32_t near = (__float_as_uint(y) << 16) - ((0x8000u - TC_PROB_MARGIN) << 16);
    exact = !(x >= -80.f) || near < (2 * TC_PROB_MARGIN) << 16;
    return y;
}

/* ---- x / den for many x and one den, as the division operator rounds it ----
 * x / den compiles to a reciprocal estimate refined by one Newton step, a quotient and its
 * remainder by fma, one correction by fma, and a check (FCHK) that sends operands of extreme
 * exponent to a slow path. The reciprocal depends on den alone, so a row computes it once and each
 * element then costs three instructions. That is the compiler's own fast path, and it returns the
 * correctly rounded quotient whenever both operands are moderate: both magnitudes in
 * [2^-40, 2^40) here, where no step can overflow, underflow or meet a subnormal (and x = +0, which
 * stays +0; -0 would come out +0, so it is not moderate). test_gpu checks it against the correctly
 * rounded quotient on every x mantissa for 32,768 den mantissas, and at the ends of the range
 * (test_tc_division). */
__device__ __forceinline__ bool moderate(float x) /* +0 (the padding columns of O), or 2^-40 <= |x| < 2^40 */
{
    const uint32_t b = __float_as_uint(x);
    return b == 0u || (b & 0x7fffffffu) - 0x2b800000u < 0x53800000u - 0x2b800000u;
}
__device__ __forceinline__ float reciprocal(float den) /* the refined reciprocal of the fast path */
{
    float r;
    asm("rcp.approx.ftz.f32 %0, %1;\n" : "=f"(r) : "f"(den));
    return fmaf(r, fmaf(-den, r, 1.f), r);
}
__device__ __forceinline__ float divide(float x, float den, float r) /* x / den for moderate x, den */
{
    const float q = x * r;
    return fmaf(fmaf(-den, q, x), r, q);
}

#endif /* EA_TC_FAST_MATH_CUH */
