/* Validation of a batch and its layer parameters (DESIGN.md section 4).
 * Every check names the request and the values, so a user can find the bad
 * entry in a batch of hundreds. Nothing here writes anything but the message. */
#include "ea_internal.h"

#include <math.h>

ea_status ea_check_params(const ea_params *p)
{
    if (p->hq < 1 || p->hq > EA_MAX_HEADS || p->hkv < 1 || p->hkv > EA_MAX_HEADS)
        return ea_fail(EA_ERR_DIM, "heads must be in 1..%d (hq=%d, hkv=%d)", EA_MAX_HEADS, p->hq, p->hkv);
    if (p->dqk < 1 || p->dqk > EA_MAX_HEAD_DIM || p->dv < 1 || p->dv > EA_MAX_HEAD_DIM)
        return ea_fail(EA_ERR_DIM, "head dims must be in 1..%d (dqk=%d, dv=%d)", EA_MAX_HEAD_DIM, p->dqk, p->dv);
    if (p->hq % p->hkv != 0)
        return ea_fail(EA_ERR_HEADS, "hq=%d is not a multiple of hkv=%d", p->hq, p->hkv);
    if (!isfinite(p->sm_scale))
        return ea_fail(EA_ERR_SCALAR, "sm_scale is not finite (%g)", (double)p->sm_scale);
    if (!isfinite(p->logit_cap) || p->logit_cap < 0.0f)
        return ea_fail(EA_ERR_SCALAR, "logit_cap must be finite and >= 0 (%g)", (double)p->logit_cap);
    if (p->causal != 0 && p->causal != 1)
        return ea_fail(EA_ERR_SCALAR, "causal must be 0 or 1 (%d)", p->causal);
    if (p->sliding_window < -1)
        return ea_fail(EA_ERR_SCALAR, "sliding_window must be -1 or >= 0 (%d)", p->sliding_window);
    if (p->dtype != EA_F32 && p->dtype != EA_BF16)
        return ea_fail(EA_ERR_SCALAR, "unknown dtype %d", (int)p->dtype);
    return EA_OK;
}

/* An offset array must start at >= 0 (qo_indptr: at 0) and never decrease. */
static ea_status check_indptr(const char *name, const int32_t *a, int32_t bs, int must_start_at_zero)
{
    if (a[0] < 0 || (must_start_at_zero && a[0] != 0))
        return ea_fail(EA_ERR_INDPTR, "%s[0] must be %s (%d)", name, must_start_at_zero ? "0" : ">= 0", a[0]);
    for (int32_t i = 0; i < bs; i++)
        if (a[i + 1] < a[i])
            return ea_fail(EA_ERR_INDPTR, "request %d: %s decreases (%d -> %d)", i, name, a[i], a[i + 1]);
    return EA_OK;
}

static ea_status check_slots(const char *what, int32_t i, const int64_t *s, int64_t n, int64_t pool)
{
    for (int64_t k = 0; k < n; k++)
        if (s[k] < 0 || s[k] >= pool)
            return ea_fail(EA_ERR_SLOT, "request %d: %s key %lld has slot %lld outside the pool [0, %lld)", i,
                           what, (long long)k, (long long)s[k], (long long)pool);
    return EA_OK;
}

ea_status ea_validate(const ea_batch *b, const ea_params *p)
{
    if (!b || !p)
        return ea_fail(EA_ERR_NULL, "batch or params is NULL");
    ea_status st = ea_check_params(p);
    if (st != EA_OK)
        return st;
    if (b->bs < 1 || b->bs >= INT32_MAX)
        return ea_fail(EA_ERR_DIM, "bs must be >= 1 (%d)", b->bs);
    if (!b->qo_indptr || !b->prefix_kv_indptr || !b->extend_start_loc || !b->extend_seq_lens)
        return ea_fail(EA_ERR_NULL, "qo_indptr, prefix_kv_indptr, extend_start_loc and extend_seq_lens are required");
    if (b->pool_size < 0 || b->num_prefix_indices < 0 || b->mask_size < 0)
        return ea_fail(EA_ERR_COUNT, "pool_size, num_prefix_indices and mask_size must be >= 0");
    if (ea_tensor_elems(b->pool_size, p->hkv, p->dqk) < 0 || ea_tensor_elems(b->pool_size, p->hkv, p->dv) < 0)
        return ea_fail(EA_ERR_OVERFLOW, "pool of %lld slots x %d heads x %d dims exceeds %lld elements",
                       (long long)b->pool_size, p->hkv, p->dqk > p->dv ? p->dqk : p->dv, (long long)EA_MAX_ELEMENTS);
    if (b->num_prefix_indices > EA_MAX_ELEMENTS || b->mask_size > EA_MAX_ELEMENTS)
        return ea_fail(EA_ERR_OVERFLOW, "index or mask array longer than %lld", (long long)EA_MAX_ELEMENTS);

    const int32_t bs = b->bs;
    if ((st = check_indptr("qo_indptr", b->qo_indptr, bs, 1)) != EA_OK ||
        (st = check_indptr("prefix_kv_indptr", b->prefix_kv_indptr, bs, 0)) != EA_OK)
        return st;
    const int32_t N = b->qo_indptr[bs];
    if (ea_tensor_elems(N, p->hq, p->dqk) < 0 || ea_tensor_elems(N, p->hq, p->dv) < 0)
        return ea_fail(EA_ERR_OVERFLOW, "N=%d tokens x hq=%d x dim=%d exceeds %lld elements", N, p->hq,
                       p->dqk > p->dv ? p->dqk : p->dv, (long long)EA_MAX_ELEMENTS);
    if (N > 0 && !b->extend_kv_indices)
        return ea_fail(EA_ERR_NULL, "extend_kv_indices is NULL with N=%d new tokens", N);
    if (b->prefix_kv_indptr[bs] > b->num_prefix_indices)
        return ea_fail(EA_ERR_COUNT, "prefix_kv_indptr ends at %d past num_prefix_indices=%lld",
                       b->prefix_kv_indptr[bs], (long long)b->num_prefix_indices);
    if (b->num_prefix_indices > 0 && !b->prefix_kv_indices)
        return ea_fail(EA_ERR_NULL, "prefix_kv_indices is NULL with num_prefix_indices=%lld",
                       (long long)b->num_prefix_indices);
    if (b->mask_size > 0 && !b->custom_mask)
        return ea_fail(EA_ERR_NULL, "custom_mask is NULL with mask_size=%lld", (long long)b->mask_size);
    if (b->custom_mask && !b->mask_indptr)
        return ea_fail(EA_ERR_NULL, "custom_mask without mask_indptr");
    if (b->custom_mask && (st = check_indptr("mask_indptr", b->mask_indptr, bs, 0)) != EA_OK)
        return st;

    /* Pass 1: counts and sizes only, so that no array is read past its end below. */
    int32_t max_e = 0;
    int64_t unified_total = 0;
    for (int32_t i = 0; i < bs; i++) {
        const int32_t E = b->qo_indptr[i + 1] - b->qo_indptr[i];
        const int32_t P = b->prefix_kv_indptr[i + 1] - b->prefix_kv_indptr[i];
        if (b->extend_seq_lens[i] != E)
            return ea_fail(EA_ERR_COUNT, "request %d: extend_seq_lens=%d but qo_indptr gives %d", i,
                           b->extend_seq_lens[i], E);
        if (b->extend_start_loc[i] < 0 || (int64_t)b->extend_start_loc[i] + E > N)
            return ea_fail(EA_ERR_COUNT, "request %d: extend_start_loc=%d + %d tokens is outside [0, N=%d]", i,
                           b->extend_start_loc[i], E, N);
        unified_total += (int64_t)P + E;
        if (unified_total > EA_MAX_UNIFIED)
            return ea_fail(EA_ERR_OVERFLOW, "request %d: the unified key count passes INT32_MAX less two tiles (%lld)",
                           i, (long long)EA_MAX_UNIFIED);
        if (E > max_e)
            max_e = E;
        if (b->custom_mask) {
            const int64_t want = (int64_t)E * (P + E);
            const int64_t got = (int64_t)b->mask_indptr[i + 1] - b->mask_indptr[i];
            if (want != got)
                return ea_fail(EA_ERR_MASK, "request %d: mask has %lld entries, E x (P+E) = %d x %d = %lld", i,
                               (long long)got, E, P + E, (long long)want);
        }
    }
    if (b->max_extend_len != max_e)
        return ea_fail(EA_ERR_COUNT, "max_extend_len=%d but the longest request has %d new tokens",
                       b->max_extend_len, max_e);
    if (b->custom_mask && b->mask_indptr[bs] > b->mask_size)
        return ea_fail(EA_ERR_MASK, "mask_indptr ends at %d past mask_size=%lld", b->mask_indptr[bs],
                       (long long)b->mask_size);
    /* Pass 2: every slot inside the pool. */
    for (int32_t i = 0; i < bs; i++) {
        const int32_t E = b->qo_indptr[i + 1] - b->qo_indptr[i];
        const int32_t P = b->prefix_kv_indptr[i + 1] - b->prefix_kv_indptr[i];
        if ((st = check_slots("prefix", i, b->prefix_kv_indices + b->prefix_kv_indptr[i], P, b->pool_size)) != EA_OK ||
            (st = check_slots("new", i, b->extend_kv_indices + b->extend_start_loc[i], E, b->pool_size)) != EA_OK)
            return st;
    }
    return EA_OK;
}

ea_status ea_check_call(const ea_batch *b, const ea_params *p, const ea_inputs *in, const void *o)
{
    ea_status st = ea_validate(b, p);
    if (st != EA_OK)
        return st;
    if (!in || !in->q || !in->k_pool || !in->v_pool || !o)
        return ea_fail(EA_ERR_NULL, "q, k_pool, v_pool and o are required");
    return EA_OK;
}
