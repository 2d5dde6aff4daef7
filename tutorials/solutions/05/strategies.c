/* Reference solution of exercise 5: the lines that replace the TODO in tutorials/exercises/05/strategies.c. */
    for (int32_t i = 0; i < bs; i++) {
        int32_t prefix_start = 0, prefix_end = 0, extend_start = 0, extend_len = 0;
        if ((st = read_scalar(ctx, db->prefix_kv_indptr + i, &prefix_start)) != EA_OK ||
            (st = read_scalar(ctx, db->prefix_kv_indptr + i + 1, &prefix_end)) != EA_OK ||
            (st = read_scalar(ctx, db->extend_start_loc + i, &extend_start)) != EA_OK ||
            (st = read_scalar(ctx, db->extend_seq_lens + i, &extend_len)) != EA_OK)
            return st;
        (void)extend_start; /* the gather kernel reads it on the device; the host needs only the lengths */
        prefix_lens[i] = prefix_end - prefix_start;
        indptr[i + 1] = indptr[i] + prefix_lens[i] + extend_len;
    }
