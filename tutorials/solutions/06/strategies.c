/* Reference solution of exercise 6: the lines that replace the TODO in tutorials/exercises/06/strategies.c. */
    EA_CUDA_TRY(ea_launch_pack_scalars(db->prefix_kv_indptr, db->extend_start_loc, db->extend_seq_lens, bs,
                                       ctx->d_packed, ctx->stream));
    EA_CUDA_TRY(cudaMemcpyAsync(packed, ctx->d_packed, sizeof(int32_t) * 4 * (size_t)bs, cudaMemcpyDeviceToHost,
                                ctx->stream));
    if ((st = ea_cuda_wait(ctx)) != EA_OK) /* the only wait */
        return st;
    indptr[0] = 0;
    for (int32_t i = 0; i < bs; i++) {
        prefix_lens[i] = packed[4 * i + 1] - packed[4 * i];
        indptr[i + 1] = indptr[i] + prefix_lens[i] + packed[4 * i + 3];
    }
