/* Reference solution of exercise 2: the lines that replace the TODO in tutorials/exercises/02/unified.c. */
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
