/**
 * @file ea_math.h
 * @brief The one `expf`, `tanhf` and bf16 conversion shared by the C reference and the CUDA kernel.
 *
 * @defgroup ea_math Shared math (ea_math.h)
 * @brief Elementary functions that give the same bits on the CPU and the GPU.
 *
 * libm's `expf`, CUDA's `expf` and `__expf` are different implementations: they
 * disagree in the last bit for some inputs, and one differing bit in one
 * probability changes the whole output row. DESIGN.md section 2 therefore
 * requires ONE implementation, compiled for both sides from this header, that
 * uses only `+ - *`, `fmaf`, comparisons and bit casts. Each of those is
 * exactly rounded by IEEE-754 on both processors (with `-ffp-contract=off` on the
 * host and `-fmad=false` on the device, so no compiler fuses `a*b+c` behind our
 * back), hence the results agree bit for bit.
 *
 * Accuracy (checked by tests/test_math.c over a dense sweep of all floats):
 * `ea_expf` within 2 ulp, `ea_tanhf` within 4 ulp of the correctly rounded value.
 * @{
 */
#ifndef EA_MATH_H
#define EA_MATH_H

#include <stdint.h>

#include <math.h>
#include <string.h>

#ifdef __CUDACC__
#define EA_HD static __host__ __device__ __forceinline__
#else
/** Marks a function callable from host and device code (plain `static inline` in C). */
#define EA_HD static inline
#endif

#ifdef __CUDA_ARCH__
#define EA_FMAF(a, b, c) __fmaf_rn((a), (b), (c))
#else
/** Exactly rounded fused multiply-add: `fmaf` on the host, `__fmaf_rn` on the device. */
#define EA_FMAF(a, b, c) fmaf((a), (b), (c))
#endif

/** @brief The bits of a float (a bit cast, never a conversion). */
EA_HD uint32_t ea_f32_bits(float x)
{
#ifdef __CUDA_ARCH__
    return __float_as_uint(x);
#else
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
#endif
}

/** @brief The float with the given bits. */
EA_HD float ea_f32_from_bits(uint32_t u)
{
#ifdef __CUDA_ARCH__
    return __uint_as_float(u);
#else
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
#endif
}

/** @brief 2^n as a float, for a normal exponent -126 <= n <= 127. */
EA_HD float ea_pow2i(int n)
{
    return ea_f32_from_bits((uint32_t)(n + 127) << 23);
}

/**
 * @brief e^x, within 2 ulp, `ea_expf(0) == 1` exactly.
 *
 * Classic range reduction: x = n*ln2 + r with |r| <= ln2/2, e^x = 2^n * e^r.
 * `ln2` is split in two floats (hi + lo) so that `x - n*ln2` keeps the bits a
 * single float constant would lose; e^r is a degree-7 Taylor polynomial (its
 * truncation error, r^8/8!, is 0.04 ulp at |r| = ln2/2). Results below the
 * normal range are scaled in two steps so that only the last step rounds,
 * which gives correctly placed subnormals.
 */
EA_HD float ea_expf(float x)
{
    const float log2e = 0x1.715476p+0f;
    const float ln2_hi = 0x1.62e430p-1f;
    const float ln2_lo = -0x1.05c610p-29f;
    const float round_magic = 0x1.8p23f; /* adding it rounds a small float to an integer */
    const float hi = 0x1.62e430p+6f;     /* ln(FLT_MAX): from here on, +inf (also for +inf) */
    const float lo = -0x1.9fe368p+6f;    /* ln(2^-150): below it, 0 (also for -inf) */

    /* Written without branches, so that a GPU warp (or a compiler) can run many of these side by
     * side: every input takes the same path, and the special cases are chosen at the end. Inputs
     * outside [lo, hi) and NaN compute with 0 instead, so no conversion below is out of range. */
    const int in_range = x >= lo && x < hi;
    const float xr = in_range ? x : 0.0f;
    const float shifted = EA_FMAF(xr, log2e, round_magic); /* 1.5 * 2^23 + n, exactly */
    float n = shifted - round_magic;
    float r = EA_FMAF(-n, ln2_hi, xr);
    r = EA_FMAF(-n, ln2_lo, r);

    float p = 0x1.a01a02p-13f; /* 1/7! */
    p = EA_FMAF(p, r, 0x1.6c16c2p-10f); /* 1/6! */
    p = EA_FMAF(p, r, 0x1.111112p-7f);  /* 1/5! */
    p = EA_FMAF(p, r, 0x1.555556p-5f);  /* 1/4! */
    p = EA_FMAF(p, r, 0x1.555556p-3f);  /* 1/3! */
    p = EA_FMAF(p, r, 0.5f);
    p = EA_FMAF(p, r, 1.0f);
    p = EA_FMAF(p, r, 1.0f);

    /* y = p * 2^n, rounded once. 2^n as two halves, 2^(n - h) * 2^h with h = floor(n / 2), both
     * normal for every n here (-150 .. 128): p (0.7 .. 1.42) times the first is exact, and only the
     * second product rounds, which also places subnormal results correctly. n as an int: the low
     * bits of `shifted` hold it (no float-to-int conversion, which is slow on GPUs). */
    const int ni = (int)ea_f32_bits(shifted) - (int)ea_f32_bits(round_magic);
    const int h = ni >> 1; /* floor(ni / 2): an arithmetic shift */
    const float y = (p * ea_pow2i(ni - h)) * ea_pow2i(h);

    /* NaN in, quiet NaN out; below lo 0; from hi on +inf */
    const float special = x != x ? x + x : x < lo ? 0.0f : ea_f32_from_bits(0x7f800000u);
    return in_range ? y : special;
}

/**
 * @brief 1/y for a normal, positive y below 2^126, without a division.
 *
 * A bit-trick first guess (12% error) and four Newton steps
 * `r = r + r*(1 - y*r)`, each squaring the error: 1e-2, 2e-4, 4e-8, then
 * rounding only. Used by ea_tanhf, whose contract allows no division.
 */
EA_HD float ea_recipf(float y)
{
    float r = ea_f32_from_bits(0x7ef311c7u - ea_f32_bits(y));
    for (int i = 0; i < 4; i++) {
        float e = EA_FMAF(-y, r, 1.0f);
        r = EA_FMAF(r, e, r);
    }
    return r;
}

/**
 * @brief tanh(x), within 4 ulp; odd, exact at 0 and +-inf.
 *
 * |x| < 2^-12: tanh(x) rounds to x. |x| < 0.625: x + x^3*P(x^2), a degree-4
 * minimax polynomial (coefficients from Cephes' tanhf). Larger |x|:
 * 1 - 2/(e^{2|x|} + 1) with ea_expf and ea_recipf. |x| > 9: tanh rounds to 1.
 */
EA_HD float ea_tanhf(float x)
{
    if (x != x)
        return x + x;
    uint32_t sign = ea_f32_bits(x) & 0x80000000u;
    float z = ea_f32_from_bits(ea_f32_bits(x) & 0x7fffffffu); /* |x| */
    if (z < 0x1p-12f)
        return x;
    float t;
    if (z > 9.0f) {
        t = 1.0f;
    } else if (z >= 0.625f) {
        float s = ea_expf(2.0f * z) + 1.0f;
        t = EA_FMAF(-2.0f, ea_recipf(s), 1.0f);
    } else {
        float z2 = z * z;
        float p = -5.70498872745e-3f;
        p = EA_FMAF(p, z2, 2.06390887954e-2f);
        p = EA_FMAF(p, z2, -5.37397155531e-2f);
        p = EA_FMAF(p, z2, 1.33314422036e-1f);
        p = EA_FMAF(p, z2, -3.33332819422e-1f);
        t = EA_FMAF(p * z2, z, z);
    }
    return ea_f32_from_bits(ea_f32_bits(t) | sign);
}

/** @brief bf16 (the top 16 bits of a float) to float: exact. */
EA_HD float ea_bf16_to_f32(uint16_t h)
{
    return ea_f32_from_bits((uint32_t)h << 16);
}

/** @brief float to bf16, rounded to nearest even; NaN stays a (quiet) NaN. */
EA_HD uint16_t ea_f32_to_bf16(float x)
{
    uint32_t u = ea_f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u); /* round half to even on the dropped 16 bits */
    return (uint16_t)(u >> 16);
}

/** @} */
#endif /* EA_MATH_H */
