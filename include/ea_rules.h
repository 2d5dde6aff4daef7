/**
 * @file ea_rules.h
 * @brief The contract's small rules, written once for the CPU, the GPU and the benchmarks:
 * which keys a query sees, and how a stored element becomes fp32 and back.
 *
 * Every function here is ::EA_HD: plain `static inline` C for the references and tools,
 * `__host__ __device__` under nvcc for the kernels. A rule that exists in one place cannot
 * drift between the sides that must agree on it bit for bit.
 *
 * @defgroup ea_rules Shared rules (ea_rules.h)
 * @brief Visibility (DESIGN.md section 1) and element loads and stores, host and device.
 * @{
 */
#ifndef EA_RULES_H
#define EA_RULES_H

#include <stdint.h>

#include "ea_math.h"

/**
 * @brief DESIGN.md section 1: whether key @p u is visible to the query at position @p t.
 * @param causal nonzero: a key after the query is hidden (ignored when @p mask_row is given)
 * @param sliding_window W >= 0: also hide keys with t - u > W; -1: no window
 * @param mask_row the query row's custom mask (P+E bytes, nonzero = visible), or NULL
 * @param t the query's absolute position (P + r)
 * @param u the key's position in the unified sequence
 */
EA_HD int ea_visible_rule(int causal, int32_t sliding_window, const uint8_t *mask_row, int32_t t, int32_t u)
{
    int v = mask_row ? mask_row[u] != 0 : (!causal || u <= t);
    if (sliding_window >= 0 && t - u > sliding_window)
        v = 0;
    return v;
}

/** @brief Element @p i of a bf16 (@p bf16 nonzero) or f32 tensor, as fp32 (bf16 -> fp32 is exact). */
EA_HD float ea_load_elem(const void *t, int bf16, int64_t i)
{
    return bf16 ? ea_bf16_to_f32(((const uint16_t *)t)[i]) : ((const float *)t)[i];
}

/** @brief Writes @p x as element @p i, rounded to nearest even for bf16. */
EA_HD void ea_store_elem(void *t, int bf16, int64_t i, float x)
{
    if (bf16)
        ((uint16_t *)t)[i] = ea_f32_to_bf16(x);
    else
        ((float *)t)[i] = x;
}

/** @} */
#endif /* EA_RULES_H */
