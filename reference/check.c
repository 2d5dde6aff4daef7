/* Output checks: the bitwise comparison that every determinism claim rests
 * on, the tolerance comparisons for BLAS and float64, and sentinel filling.
 * A comparison that cannot be made (NULL buffers, negative sizes) is not a
 * pass: it reports a status and one differing element. */
#include "ea_cases.h"
#include "ea_internal.h"

#include <math.h>

void ea_fill_sentinel(void *buf, ea_dtype dt, int64_t n)
{
    if (!buf)
        return;
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

/* The result of a comparison whose arguments are unusable. */
static ea_diff refused(ea_status st, const char *why)
{
    ea_diff r = {.first = -1, .differ = 1};
    r.status = ea_fail(st, "%s", why);
    return r;
}

ea_diff ea_compare_bits(const void *a, const void *b, ea_dtype dt, int64_t n)
{
    if ((!a || !b) && n > 0)
        return refused(EA_ERR_NULL, "compare: a and b are required");
    if (n < 0)
        return refused(EA_ERR_DIM, "compare: negative element count");
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

/* Whether x (the output under test) is within bound of y, the reference; NaN must meet NaN and an
 * infinity the same infinity. */
static int within(double x, double y, double bound)
{
    if (isnan(x) || isnan(y))
        return isnan(x) && isnan(y);
    if (isinf(x) || isinf(y))
        return x == y;
    return fabs(x - y) <= bound;
}

/* Records element k as differing, keeping the first one's values. */
static void record(ea_diff *r, int64_t k, double x, double y)
{
    if (r->first < 0) {
        r->first = k;
        r->a_first = x;
        r->b_first = y;
    }
    r->differ++;
}

ea_diff ea_compare_mag(const void *a, ea_dtype dt, const double *ref, const double *mag, int64_t n, double rel_tol)
{
    if ((!a || !ref || !mag) && n > 0)
        return refused(EA_ERR_NULL, "compare: a, ref and mag are required");
    if (n < 0 || !(rel_tol >= 0.0))
        return refused(EA_ERR_DIM, "compare: negative element count or tolerance");
    ea_diff r = {.count = n, .first = -1};
    const uint32_t sentinel = dt == EA_BF16 ? EA_SENTINEL_BF16 : EA_SENTINEL_F32;
    const double bf16_ulp = dt == EA_BF16 ? 0x1p-7 : 0.0;
    for (int64_t k = 0; k < n; k++) {
        r.sentinels += bits_at(a, dt, k) == sentinel;
        const double x = ea_load(a, dt, k), y = ref[k];
        if (!within(x, y, rel_tol * mag[k] + bf16_ulp * fabs(y)))
            record(&r, k, x, y);
        if (isfinite(x) && isfinite(y) && x != y) {
            const double rel = mag[k] > 0.0 ? fabs(x - y) / mag[k] : INFINITY;
            r.max_rel = rel > r.max_rel ? rel : r.max_rel;
        }
    }
    return r;
}

ea_diff ea_compare_tol(const void *a, ea_dtype dt, const double *ref, int64_t n, int64_t row_len, double rel_tol)
{
    if ((!a || !ref) && n > 0)
        return refused(EA_ERR_NULL, "compare: a and ref are required");
    if (n < 0 || row_len < 1 || !(rel_tol >= 0.0))
        return refused(EA_ERR_DIM, "compare: row_len must be >= 1, n and rel_tol >= 0");
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
            if (!within(x, y, rel_tol * scale + bf16_ulp * fabs(y)))
                record(&r, k, x, y);
            if (isfinite(x) && isfinite(y) && fabs(x - y) / scale > r.max_rel)
                r.max_rel = fabs(x - y) / scale;
        }
    }
    return r;
}

void ea_to_double(const void *a, ea_dtype dt, int64_t n, double *out)
{
    if (!a || !out)
        return;
    for (int64_t k = 0; k < n; k++)
        out[k] = ea_load(a, dt, k);
}
