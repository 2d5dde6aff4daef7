/* The CPU builder of the unified key sequence (DESIGN.md section 1): for
 * each request its P_i prefix slots, then its E_i new slots. On the GPU this
 * same step is where the host/device synchronisation happens (section 3);
 * here, with everything in host memory, it is two simple loops. */
#include "ea_internal.h"

#include <stdlib.h>
#include <string.h>

void ea_unified_free(ea_unified *u)
{
    if (!u)
        return;
    free(u->unified_kv_indptr);
    free(u->unified_kv_indices);
    free(u->prefix_lens);
    memset(u, 0, sizeof *u);
}

ea_status ea_unified_build(const ea_batch *b, const ea_params *p, ea_unified *out)
{
    if (!out)
        return ea_fail(EA_ERR_NULL, "output is NULL");
    ea_status st = ea_validate(b, p);
    if (st != EA_OK)
        return st;

    const int32_t bs = b->bs;
    ea_unified u = {.bs = bs};
    /* zeroed, so that an offset never written reads as 0, not as whatever was in memory */
    u.unified_kv_indptr = calloc((size_t)bs + 1, sizeof(int32_t));
    u.prefix_lens = calloc((size_t)bs, sizeof(int32_t));
    if (!u.unified_kv_indptr || !u.prefix_lens) {
        ea_unified_free(&u);
        return ea_fail(EA_ERR_NOMEM, "cannot allocate %d unified offsets", bs + 1);
    }
    /* EXERCISE 2 BEGIN: build unified_kv_indptr (scan of P_i + E_i) and prefix_lens, allocate unified_kv_indices (on failure: ea_unified_free, then EA_ERR_NOMEM), then copy each request's prefix slots and new slots */
    /* Pass 1: exclusive scan of P_i + E_i (validation bounded the total by INT32_MAX). */
    u.unified_kv_indptr[0] = 0;
    for (int32_t i = 0; i < bs; i++) {
        u.prefix_lens[i] = b->prefix_kv_indptr[i + 1] - b->prefix_kv_indptr[i];
        int32_t E = b->qo_indptr[i + 1] - b->qo_indptr[i];
        u.unified_kv_indptr[i + 1] = u.unified_kv_indptr[i] + u.prefix_lens[i] + E;
    }
    /* Pass 2: copy the two slices of every request side by side. */
    u.unified_kv_indices = malloc(sizeof(int64_t) * ((size_t)u.unified_kv_indptr[bs] + 1));
    if (!u.unified_kv_indices) {
        ea_unified_free(&u);
        return ea_fail(EA_ERR_NOMEM, "cannot allocate %d unified indices", u.unified_kv_indptr[bs]);
    }
    for (int32_t i = 0; i < bs; i++) {
        int32_t P = u.prefix_lens[i];
        int32_t E = b->qo_indptr[i + 1] - b->qo_indptr[i];
        int64_t *dst = u.unified_kv_indices + u.unified_kv_indptr[i];
        if (P > 0)
            memcpy(dst, b->prefix_kv_indices + b->prefix_kv_indptr[i], sizeof(int64_t) * (size_t)P);
        if (E > 0)
            memcpy(dst + P, b->extend_kv_indices + b->extend_start_loc[i], sizeof(int64_t) * (size_t)E);
    }
    /* EXERCISE 2 END */
    *out = u;
    return EA_OK;
}
