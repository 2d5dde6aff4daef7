/* The tensor core's addition, modelled in integers (include/ea_mma.h, DESIGN.md section 6).
 *
 * One output element of mma.m16n8k16 is c + a[0]*b[0] + ... + a[15]*b[15], computed as ONE fused
 * operation, in four steps that this file follows in order:
 *
 *   1. decode:   every term (16 products, the accumulator) as sign * sig * 2^lsb_exp, exactly,
 *                with its alignment exponent;
 *   2. align:    emax = the largest alignment exponent of the non-zero terms;
 *   3. truncate: every term cut toward zero to the grid 2^(emax - 25), then added exactly;
 *   4. round:    the exact sum rounded toward zero to fp32.
 *
 * No floating-point operation is used on the way: the result is the same on every host. */
#include "ea_mma.h"

#include <stdint.h>
#include <string.h>

int ea_mma_verified_cc(int major, int minor)
{
    return major == 9 && minor == 0; /* NVIDIA H200, driver 580.159.04: DESIGN.md section 6.1 */
}

const ea_mma_rules EA_MMA_SM90 = {.kept_bits = 25, .round_nearest = 0, .align_on_leading_bit = 0,
                                  .lowest_grid_exp = -158};

/* The canonical NaN every special case produces. */
#define MMA_NAN 0x7fffffffu
#define F32_INF_BITS 0x7f800000u

static float f32_from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static uint32_t f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* A finite number as  (-1)^neg * sig * 2^(exp - frac_bits),  with exp = floor(log2|x|) for a
 * normal number and -126 (the smallest normal exponent) for a subnormal one. */
typedef enum { KIND_ZERO, KIND_FINITE, KIND_INF, KIND_NAN } kind;

typedef struct {
    kind kind;
    int neg;
    uint32_t sig;
    int exp;
} decoded;

/* Decodes an IEEE binary number with 8 exponent bits and frac_bits fraction bits (bf16: 7,
 * fp32: 23) from its bits, the sign bit at position 8 + frac_bits. */
static decoded decode(uint32_t bits, int frac_bits)
{
    const uint32_t frac = bits & ((1u << frac_bits) - 1);
    const uint32_t field = (bits >> frac_bits) & 0xffu;
    decoded d = {KIND_FINITE, (int)((bits >> (8 + frac_bits)) & 1u), 0, 0};
    if (field == 0xff) {
        d.kind = frac ? KIND_NAN : KIND_INF;
    } else if (field == 0) {
        d.kind = frac ? KIND_FINITE : KIND_ZERO;
        d.sig = frac; /* subnormal: no implicit 1 */
        d.exp = -126;
    } else {
        d.sig = frac | (1u << frac_bits);
        d.exp = (int)field - 127;
    }
    return d;
}

/* One term of the fused sum: (-1)^neg * sig * 2^lsb_exp, aligned on align_exp. */
typedef struct {
    int neg;
    uint64_t sig;
    int lsb_exp;
    int align_exp;
} term;

/* Index of the highest set bit of x > 0. */
static int msb(uint64_t x)
{
#if defined(__GNUC__)
    return 63 - __builtin_clzll(x);
#else
    int p = 0;
    while (x >>= 1)
        p++;
    return p;
#endif
}

/* Step 3 for one term: the term as an integer count of grid units 2^grid_exp, cut toward zero. */
static int64_t align_truncate(const term *t, int grid_exp)
{
    /* TODO (exercise 8): shift the term's significand onto the grid 2^grid_exp (bits below it are dropped: truncation toward zero), then give it its sign.
       The page tutorials/08-tensor-core-bits.md explains it; `make exercise 8` checks your code. */
    return 0; /* replace with your code */
}

/* Step 4: sum * 2^grid_exp rounded to fp32 bits (sum != 0). Toward zero on sm_90. */
static uint32_t round_to_f32(int64_t sum, int grid_exp, int round_nearest)
{
    const uint32_t sign = sum < 0 ? 0x80000000u : 0;
    uint64_t mag = sum < 0 ? (uint64_t)-sum : (uint64_t)sum;
    const int top = msb(mag);
    int e = top + grid_exp; /* exponent of the leading bit */
    /* Keep 24 significant bits of a normal result; for a subnormal one, the bits at and above
     * 2^-149. `drop` is how many low bits of mag go. */
    int drop = e >= -126 ? top - 23 : -149 - grid_exp;
    uint64_t q;
    if (drop <= 0) {
        q = mag << -drop; /* exact */
    } else {
        q = drop < 64 ? mag >> drop : 0;
        if (round_nearest && drop < 64) {
            const uint64_t rem = mag & ((1ull << drop) - 1), half = 1ull << (drop - 1);
            if (rem > half || (rem == half && (q & 1)))
                q++;
        }
    }
    if (e >= -126) {
        if (q >> 24) { /* rounding up carried into a new leading bit */
            q >>= 1;
            e++;
        }
        if (e > 127) /* beyond the range: infinity, even toward zero (measured) */
            return sign | F32_INF_BITS;
        return sign | (uint32_t)(e + 127) << 23 | (uint32_t)(q & 0x7fffffu);
    }
    if (q == 0)
        return 0; /* underflow to zero: +0 whatever the sign (measured) */
    return sign | (uint32_t)q; /* subnormal; q == 2^23 is the smallest normal, as it should be */
}

float ea_mma_elem_with(const uint16_t a[EA_MMA_K], const uint16_t b[EA_MMA_K], float c,
                       const ea_mma_rules *rules)
{
    term terms[EA_MMA_K + 1];
    int n = 0, pos_inf = 0, neg_inf = 0, nan = 0;

    /* 1. decode: the products exactly (8 x 8 significand bits), then the accumulator. */
    for (int k = 0; k < EA_MMA_K; k++) {
        const decoded x = decode(a[k], 7), y = decode(b[k], 7);
        const int neg = x.neg ^ y.neg;
        if (x.kind == KIND_NAN || y.kind == KIND_NAN) {
            nan = 1;
        } else if (x.kind == KIND_INF || y.kind == KIND_INF) {
            if (x.kind == KIND_ZERO || y.kind == KIND_ZERO)
                nan = 1; /* inf * 0 */
            else if (neg)
                neg_inf = 1;
            else
                pos_inf = 1;
        } else if (x.kind != KIND_ZERO && y.kind != KIND_ZERO) {
            term t = {neg, (uint64_t)x.sig * y.sig, x.exp + y.exp - 14, x.exp + y.exp};
            if (rules->align_on_leading_bit)
                t.align_exp = msb(t.sig) + t.lsb_exp;
            terms[n++] = t;
        } /* a zero product takes no part */
    }
    const decoded z = decode(f32_bits(c), 23);
    if (z.kind == KIND_NAN)
        nan = 1;
    else if (z.kind == KIND_INF && z.neg)
        neg_inf = 1;
    else if (z.kind == KIND_INF)
        pos_inf = 1;
    else if (z.kind == KIND_FINITE)
        terms[n++] = (term){z.neg, z.sig, z.exp - 23, z.exp};

    if (nan || (pos_inf && neg_inf))
        return f32_from_bits(MMA_NAN);
    if (pos_inf || neg_inf)
        return f32_from_bits(F32_INF_BITS | (neg_inf ? 0x80000000u : 0));
    if (n == 0) /* only zeros: +0, even when every one of them is -0 (measured) */
        return 0.0f;

    /* 2. align: the largest alignment exponent. */
    int emax = terms[0].align_exp;
    for (int i = 1; i < n; i++)
        if (terms[i].align_exp > emax)
            emax = terms[i].align_exp;

    /* 3. truncate every term to the grid 2^(emax - 25) and add exactly: each term is below 2^28
     *    grid units, so 17 of them fit an int64 with room to spare. */
    int grid_exp = emax - rules->kept_bits;
    if (grid_exp < rules->lowest_grid_exp)
        grid_exp = rules->lowest_grid_exp;
    int64_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += align_truncate(&terms[i], grid_exp);
    if (sum == 0)
        return 0.0f; /* cancellation, or every term below the grid: +0 */

    /* 4. round the exact sum to fp32. */
    return f32_from_bits(round_to_f32(sum, grid_exp, rules->round_nearest));
}

float ea_mma_m16n8k16_elem(const uint16_t a[EA_MMA_K], const uint16_t b[EA_MMA_K], float c)
{
    return ea_mma_elem_with(a, b, c, &EA_MMA_SM90);
}

void ea_mma_m16n8k16(const uint16_t A[EA_MMA_M * EA_MMA_K], const uint16_t Bt[EA_MMA_N * EA_MMA_K],
                     const float C[EA_MMA_M * EA_MMA_N], float D[EA_MMA_M * EA_MMA_N])
{
    for (int m = 0; m < EA_MMA_M; m++)
        for (int n = 0; n < EA_MMA_N; n++)
            D[m * EA_MMA_N + n] = ea_mma_m16n8k16_elem(&A[m * EA_MMA_K], &Bt[n * EA_MMA_K], C[m * EA_MMA_N + n]);
}

/* ---- the same model on operands taken apart once (the tensor-core reference's inner loop) ----
 * Every loop below has 16 independent iterations of 32-bit integer work and no branch, so the
 * compiler turns each into a few SIMD instructions. The products fit 32 bits (< 2^16 before the
 * shift, < 2^27 after) and so does their sum (16 terms < 2^31); the accumulator joins in 64 bits. */

void ea_mma_bf16x16(const uint16_t x[EA_MMA_K], ea_bf16x16 *out)
{
    out->special = 0;
    for (int k = 0; k < EA_MMA_K; k++) {
        const decoded d = decode(x[k], 7);
        out->exp[k] = d.exp;
        out->sig[k] = d.kind == KIND_FINITE ? (int32_t)d.sig : 0;
        out->neg[k] = d.neg;
        out->zero[k] = d.kind == KIND_ZERO;
        out->special |= d.kind == KIND_INF || d.kind == KIND_NAN;
        out->bits[k] = x[k];
    }
}

float ea_mma_dot16x16(const ea_bf16x16 *a, const ea_bf16x16 *b, float c)
{
    const uint32_t cbits = f32_bits(c);
    const uint32_t cfield = (cbits >> 23) & 0xffu;
    if (a->special | b->special | (cfield == 0xff)) /* infinities and NaNs: the general model decides */
        return ea_mma_m16n8k16_elem(a->bits, b->bits, c);

    /* Steps 1 and 2: exact products, alignment exponents, their maximum. A zero product gets the
     * significand 0 and an exponent that never wins: it takes no part. */
    enum { NEVER = -100000 };
    int32_t prod[EA_MMA_K], e[EA_MMA_K];
    for (int k = 0; k < EA_MMA_K; k++) {
        const int32_t zero = a->zero[k] | b->zero[k];
        prod[k] = a->sig[k] * b->sig[k]; /* 0 when either is zero */
        e[k] = zero ? NEVER : a->exp[k] + b->exp[k];
    }
    int32_t emax = NEVER;
    for (int k = 0; k < EA_MMA_K; k++)
        emax = e[k] > emax ? e[k] : emax;
    const int c_zero = (cbits & 0x7fffffffu) == 0;
    const int32_t cexp = cfield ? (int32_t)cfield - 127 : -126;
    const uint32_t csig = cfield ? (cbits & 0x7fffffu) | 0x800000u : cbits & 0x7fffffu;
    if (!c_zero && cexp > emax)
        emax = cexp;
    if (emax == NEVER)
        return 0.0f; /* only zeros */

    /* Step 3: every term cut to the grid, then added exactly. */
    int32_t grid = emax - EA_MMA_SM90.kept_bits;
    grid = grid < EA_MMA_SM90.lowest_grid_exp ? EA_MMA_SM90.lowest_grid_exp : grid;
    int32_t sum32 = 0;
    for (int k = 0; k < EA_MMA_K; k++) {
        const int32_t sh = e[k] - 14 - grid; /* at most 11; a zero product's is hugely negative */
        const int32_t up = sh > 0 ? sh : 0, down = -sh > 31 ? 31 : -sh > 0 ? -sh : 0;
        const int32_t units = sh >= 0 ? (int32_t)((uint32_t)prod[k] << up) : (int32_t)((uint32_t)prod[k] >> down);
        sum32 += (a->neg[k] ^ b->neg[k]) ? -units : units;
    }
    int64_t sum = sum32;
    if (!c_zero) {
        const int shift = cexp - 23 - grid;
        const uint64_t units = shift >= 0 ? (uint64_t)csig << shift : -shift < 32 ? csig >> -shift : 0;
        sum += (cbits >> 31) ? -(int64_t)units : (int64_t)units;
    }
    /* Step 4. */
    return sum == 0 ? 0.0f : f32_from_bits(round_to_f32(sum, grid, 0));
}
