/* Output checks: the bitwise comparison that every determinism claim rests
 * on, the tolerance comparison for BLAS and float64, and sentinel filling. */
#include "ea_cases.h"
#include "ea_internal.h"

#include <math.h>

void ea_fill_sentinel(void *buf, ea_dtype dt, int64_t n)
{
    for (int64_t k = 0; k < n; k++) {
        if (dt == EA_BF16)
            ((uint16_t *)buf)[k] = EA_SENTINEL_BF16;
        else
            ((uint32_t *)buf)[k] = EA_SENTINEL_F32;
    }
}

static uint32_t bits_at(const void *t, ea_dtype dt, int64_t k)
{
    return dt == EA_BF16 ? ((const uint16_t *)t)[k] : ((const uint32_t *)t)[k];
}

ea_diff ea_compare_bits(const void *a, const void *b, ea_dtype dt, int64_t n)
{
    ea_diff r = {.count = n, .first = -1};
    const uint32_t sentinel = dt == EA_BF16 ? EA_SENTINEL_BF16 : EA_SENTINEL_F32;
    for (int64_t k = 0; k < n; k++) {
        const uint32_t x = bits_at(a, dt, k), y = bits_at(b, dt, k);
        r.sentinels += x == sentinel;
        const float fx = ea_load(a, dt, k), fy = ea_load(b, dt, k);
        const int same = x == y || (isnan(fx) && isnan(fy)); /* any two NaNs are equal (DESIGN 2) */
        if (!same) {
            if (r.first < 0) {
                r.first = k;
                r.a_first = fx;
                r.b_first = fy;
            }
            r.differ++;
        }
    }
    return r;
}

ea_diff ea_compare_tol(const void *a, ea_dtype dt, const double *ref, int64_t n, int64_t row_len, double rel_tol)
{
    ea_diff r = {.count = n, .first = -1};
    const uint32_t sentinel = dt == EA_BF16 ? EA_SENTINEL_BF16 : EA_SENTINEL_F32;
    const double bf16_ulp = dt == EA_BF16 ? 0x1p-7 : 0.0;
    for (int64_t row = 0; row * row_len < n; row++) {
        double scale = 0.0;
        for (int64_t k = row * row_len; k < (row + 1) * row_len && k < n; k++)
            if (!isnan(ref[k]) && fabs(ref[k]) > scale)
                scale = fabs(ref[k]);
        if (scale == 0.0)
            scale = 1e-30; /* an all-zero row must come out exactly zero */
        for (int64_t k = row * row_len; k < (row + 1) * row_len && k < n; k++) {
            r.sentinels += bits_at(a, dt, k) == sentinel;
            const double x = ea_load(a, dt, k), y = ref[k];
            int ok;
            if (isnan(x) || isnan(y)) {
                ok = isnan(x) && isnan(y);
            } else {
                const double err = fabs(x - y);
                ok = err <= rel_tol * scale + bf16_ulp * fabs(y);
                if (err / scale > r.max_rel)
                    r.max_rel = err / scale;
            }
            if (!ok) {
                if (r.first < 0) {
                    r.first = k;
                    r.a_first = x;
                    r.b_first = y;
                }
                r.differ++;
            }
        }
    }
    return r;
}

void ea_to_double(const void *a, ea_dtype dt, int64_t n, double *out)
{
    for (int64_t k = 0; k < n; k++)
        out[k] = ea_load(a, dt, k);
}
