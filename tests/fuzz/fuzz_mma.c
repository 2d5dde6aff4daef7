/* Fuzz target: the tensor-core model (ea_mma.h) against a slow reading of
 * DESIGN.md section 6.1, written here from the text alone: each product in
 * double (exact: 8-bit significands), divided by the grid and truncated one at
 * a time, summed, and rounded toward zero to fp32 by stepping back from the
 * nearest float. The model's integer paths (ea_mma_m16n8k16_elem and the
 * taken-apart ea_mma_dot16x16) must give the same bits for every input.
 *
 * Input: elements of 68 bytes (16 + 16 bf16 little-endian, then the fp32
 * accumulator); a short tail is padded with zeros. */
#include "ea_math.h"
#include "ea_mma.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* floor(log2 |x|) from the exponent field; a subnormal counts as -126. */
static int align_exp(uint32_t f32_bits)
{
    const int field = (int)(f32_bits >> 23) & 0xff;
    return field ? field - 127 : -126;
}

static float slow_mma(const uint16_t a[16], const uint16_t b[16], float c)
{
    const float canonical_nan = ea_f32_from_bits(0x7fffffffu);
    double value[17];
    int exp[17], n = 0, pos_inf = 0, neg_inf = 0;
    if (isnan(c))
        return canonical_nan;
    for (int k = 0; k < 16; k++) {
        const float x = ea_f32_from_bits((uint32_t)a[k] << 16), y = ea_f32_from_bits((uint32_t)b[k] << 16);
        if (isnan(x) || isnan(y) || (isinf(x) && y == 0) || (isinf(y) && x == 0))
            return canonical_nan;
        if (x == 0 || y == 0)
            continue;
        const double p = (double)x * (double)y;
        if (isinf(p)) {
            pos_inf |= p > 0, neg_inf |= p < 0;
            continue;
        }
        value[n] = p;
        exp[n++] = align_exp((uint32_t)a[k] << 16) + align_exp((uint32_t)b[k] << 16);
    }
    if (isinf(c))
        pos_inf |= c > 0, neg_inf |= c < 0;
    else if (c != 0) {
        value[n] = c;
        exp[n++] = align_exp(ea_f32_bits(c));
    }
    if (pos_inf && neg_inf)
        return canonical_nan;
    if (pos_inf || neg_inf)
        return pos_inf ? INFINITY : -INFINITY;
    if (n == 0)
        return 0.0f;
    int emax = exp[0];
    for (int k = 1; k < n; k++)
        emax = exp[k] > emax ? exp[k] : emax;
    const int g = emax - 25 > -158 ? emax - 25 : -158;
    int64_t sum = 0;
    for (int k = 0; k < n; k++)
        sum += (int64_t)trunc(ldexp(value[k], -g));
    if (sum == 0)
        return 0.0f;
    const double x = ldexp((double)sum, g);
    if (fabs(x) >= 0x1p128)
        return x > 0 ? INFINITY : -INFINITY;
    float f = (float)x; /* nearest; toward zero is it or the float before it */
    if (fabs((double)f) > fabs(x))
        f = nextafterf(f, 0.0f);
    return f == 0 ? 0.0f : f; /* below 2^-149: +0, whatever the sign */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { ELEM = 68 };
    for (size_t at = 0; at < size; at += ELEM) {
        uint8_t e[ELEM] = {0};
        memcpy(e, data + at, size - at < ELEM ? size - at : ELEM);
        uint16_t a[16], b[16];
        for (int k = 0; k < 16; k++) {
            a[k] = (uint16_t)(e[2 * k] | e[2 * k + 1] << 8);
            b[k] = (uint16_t)(e[32 + 2 * k] | e[32 + 2 * k + 1] << 8);
        }
        const float c = ea_f32_from_bits((uint32_t)e[64] | (uint32_t)e[65] << 8 | (uint32_t)e[66] << 16 | (uint32_t)e[67] << 24);
        const uint32_t want = ea_f32_bits(slow_mma(a, b, c));
        ea_bf16x16 ax, bx;
        ea_mma_bf16x16(a, &ax);
        ea_mma_bf16x16(b, &bx);
        if (ea_f32_bits(ea_mma_m16n8k16_elem(a, b, c)) != want || ea_f32_bits(ea_mma_dot16x16(&ax, &bx, c)) != want)
            abort(); /* the model and the text disagree */
    }
    return 0;
}
