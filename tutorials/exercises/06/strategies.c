/* The three ways to build the unified key sequence (DESIGN.md section 3),
 * the plan/run split, and the per-layer entry point.
 *
 * The strategies, their names and their host waits (4 * bs, 1, 0) are the rows of
 * EA_SYNC_TABLE (include/ea_cuda.h); DESIGN.md section 3 tells the story.
 *
 * Both host strategies end like SGLang's torch.cat: one upload of the offsets
 * the host loop computed, and ONE gather kernel for all the slices (one
 * device-to-device copy per slice would cost 4-7 us of host time each).
 *
 * A blocking read waits for EVERYTHING queued before it on the stream: in a
 * server that is the layer's projections and MLP, so each wait costs the time
 * of that queued work plus the copy, and the GPU idles while the host loop
 * catches up (the "bubble"). */
#include "cuda_internal.h"

#include <stdint.h>
#include <string.h>

/* The most blocks of EA_TC_BLOCK_PAIRS (query, head) pairs a batch like db has: the sum over
 * requests of ceil(E_i G / 64) is at most (N G + 63 bs) / 64. */
static int64_t order_bound(const ea_dev_batch *db)
{
    const int64_t G = db->params.hkv > 0 ? db->params.hq / db->params.hkv : 0;
    return ((int64_t)db->num_tokens * G + (int64_t)(EA_TC_BLOCK_PAIRS - 1) * db->bs) / EA_TC_BLOCK_PAIRS;
}

ea_status ea_cuda_plan_create(ea_cuda_ctx *ctx, const ea_dev_batch *db, ea_plan *plan)
{
    if (!ctx || !db || !plan)
        return ea_fail(EA_ERR_NULL, "ctx, db and plan are required");
    ea_plan pl;
    memset(&pl, 0, sizeof pl);
    pl.bs = db->bs;
    pl.capacity = db->num_prefix_indices + db->num_tokens; /* the host's upper bound of sum(P_i + E_i) */
    /* the host strategies' scratch, and the batched strategy's device buffer, are sized here so
     * that building a plan never allocates (allocation can synchronise) */
    const size_t packed_len = EA_SCALARS_PER_REQUEST * (size_t)pl.bs;
    ea_status st = ea_cuda_pinned_reserve(ctx, ea_host_scratch_len(pl.bs));
    if (st == EA_OK && ctx->packed_len < packed_len) {
        cudaFree(ctx->d_packed);
        ctx->d_packed = NULL;
        ctx->packed_len = 0;
        if ((st = ea_cuda_malloc(ctx, sizeof(int32_t) * packed_len, (void **)&ctx->d_packed)) == EA_OK)
            ctx->packed_len = packed_len;
    }
    if (st != EA_OK)
        return st;
    /* indptr [bs+1] and prefix_lens [bs] share one allocation, so the host strategies upload both in one copy */
    pl.order_capacity = order_bound(db);
    if ((st = ea_cuda_malloc(ctx, sizeof(int32_t) * (2 * (size_t)pl.bs + 1), (void **)&pl.unified_kv_indptr)) != EA_OK ||
        (st = ea_cuda_malloc(ctx, sizeof(int64_t) * (size_t)pl.capacity, (void **)&pl.unified_kv_indices)) != EA_OK ||
        (st = ea_cuda_malloc(ctx, sizeof(int32_t) * (1 + 2 * (size_t)pl.order_capacity), (void **)&pl.block_order)) !=
            EA_OK) {
        ea_cuda_plan_free(&pl);
        return st;
    }
    pl.prefix_lens = pl.unified_kv_indptr + pl.bs + 1;
    /* a new plan holds zeros, never the indices of a freed one that cudaMalloc handed back: a
     * strategy (or graph) that fails to write them cannot pass on an earlier run's */
    if ((st = ea_cuda_plan_poison(ctx, &pl)) != EA_OK) {
        ea_cuda_plan_free(&pl);
        return st;
    }
    *plan = pl;
    return EA_OK;
}

void ea_cuda_plan_free(ea_plan *plan)
{
    if (!plan)
        return;
    cudaFree(plan->unified_kv_indptr); /* prefix_lens lives in the same allocation */
    cudaFree(plan->unified_kv_indices);
    cudaFree(plan->block_order);
    memset(plan, 0, sizeof *plan);
}

/* The host strategies' scratch for this plan (ea_host_scratch): EA_ERR_PLAN where the context
 * was not sized for it by ea_cuda_plan_create(), i.e. the plan was created in another context
 * (growing it here would wait, and the strategy's wait count would be wrong). */
static ea_status host_scratch(ea_cuda_ctx *ctx, const ea_plan *plan, ea_host_scratch *h)
{
    *h = (ea_host_scratch){NULL, NULL, NULL};
    if (ctx->pinned_len < ea_host_scratch_len(plan->bs) ||
        ctx->packed_len < EA_SCALARS_PER_REQUEST * (size_t)plan->bs)
        return ea_fail(EA_ERR_PLAN, "the plan (bs=%d) was not created in this context", plan->bs);
    *h = ea_host_scratch_at(ctx->pinned, plan->bs);
    return EA_OK;
}

/* One `.item()`: a 4-byte device-to-host copy and a wait for the stream. The scalar lands in
 * the first slot of the host scratch's `scalars` (ctx->pinned[0], page-locked). */
static ea_status read_scalar(ea_cuda_ctx *ctx, const int32_t *dev, int32_t *value)
{
    EA_CUDA_TRY(cudaMemcpyAsync(ctx->pinned, dev, sizeof(int32_t), cudaMemcpyDeviceToHost, ctx->stream));
    ea_status st = ea_cuda_wait(ctx);
    *value = ctx->pinned[0];
    return st;
}

/* The end of both host strategies, SGLang's `torch.cat(parts)` and the two
 * `torch.tensor(...)` uploads: one copy of the host-built indptr and prefix
 * lengths, then one gather kernel that copies every request's two slices.
 * The host arrays are laid out as the plan's device allocation is (ea_host_scratch:
 * prefix_lens at indptr + plan->bs + 1, plan->bs >= db->bs), so one copy moves both. */
static ea_status upload_and_gather(ea_cuda_ctx *ctx, const ea_dev_batch *db, ea_plan *plan, const int32_t *indptr)
{
    const int32_t bs = db->bs;
    if (indptr[bs] > plan->capacity)
        return ea_fail(EA_ERR_COUNT, "%d unified keys exceed the plan's %lld", indptr[bs], (long long)plan->capacity);
    EA_CUDA_TRY(cudaMemcpyAsync(plan->unified_kv_indptr, indptr, sizeof(int32_t) * ((size_t)plan->bs + 1 + (size_t)bs),
                                cudaMemcpyHostToDevice, ctx->stream));
    EA_CUDA_TRY(ea_launch_unified_copy(db->prefix_kv_indptr, db->prefix_kv_indices, db->extend_start_loc,
                                       db->extend_kv_indices, plan->unified_kv_indptr, plan->prefix_lens, bs,
                                       plan->unified_kv_indices, ctx->stream));
    return EA_OK;
}

/* Before: SGLang's loop, one scalar at a time.
 *
 *   for i in range(bs):
 *       prefix_start = kv_indptr[i].item()            # wait 1
 *       prefix_end   = kv_indptr[i + 1].item()        # wait 2
 *       extend_start = extend_start_loc[i].item()     # wait 3
 *       extend_len   = extend_seq_lens[i].item()      # wait 4
 *       parts += [kv_indices[prefix_start:prefix_end], out_cache_loc[extend_start:extend_start + extend_len]]
 *   unified_kv_indices = torch.cat(parts)
 */
static ea_status build_per_request(ea_cuda_ctx *ctx, const ea_dev_batch *db, ea_plan *plan)
{
    const int32_t bs = db->bs;
    ea_host_scratch h;
    ea_status st = host_scratch(ctx, plan, &h);
    if (st != EA_OK)
        return st;
    int32_t *indptr = h.indptr, *prefix_lens = h.prefix_lens; /* h.scalars[0] receives each scalar */
    indptr[0] = 0;
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
    return upload_and_gather(ctx, db, plan, indptr);
}

/* After: one transfer. A kernel packs every request's four scalars side by
 * side; ONE copy brings them to the host; the host loop is unchanged but
 * reads host memory. (SGLang's fix: one .cpu() before the loop.) */
static ea_status build_batched(ea_cuda_ctx *ctx, const ea_dev_batch *db, ea_plan *plan)
{
    const int32_t bs = db->bs;
    ea_host_scratch h;
    ea_status st = host_scratch(ctx, plan, &h);
    if (st != EA_OK)
        return st;
    int32_t *packed = h.scalars, *indptr = h.indptr, *prefix_lens = h.prefix_lens;
    /* TODO (exercise 6): launch the pack kernel, copy the 4*bs scalars to `packed` with ONE cudaMemcpyAsync, wait once (ea_cuda_wait), then fill prefix_lens and indptr from host memory.
       The page tutorials/06-one-batched-transfer.md explains it; `make exercise 6` checks your code. */
    return upload_and_gather(ctx, db, plan, indptr);
}

/* No sync: the indices are built where the metadata lives. The host needs
 * only what it already knows: bs and an upper bound of the total length
 * (num_prefix_indices + N), which sized the plan. */
static ea_status build_device(ea_cuda_ctx *ctx, const ea_dev_batch *db, ea_plan *plan)
{
    EA_CUDA_TRY(ea_launch_unified_scan(db->prefix_kv_indptr, db->extend_seq_lens, db->bs, plan->unified_kv_indptr,
                                       plan->prefix_lens, ctx->stream));
    EA_CUDA_TRY(ea_launch_unified_copy(db->prefix_kv_indptr, db->prefix_kv_indices, db->extend_start_loc,
                                       db->extend_kv_indices, plan->unified_kv_indptr, plan->prefix_lens, db->bs,
                                       plan->unified_kv_indices, ctx->stream));
    return EA_OK;
}

ea_status ea_cuda_plan_build(ea_cuda_ctx *ctx, const ea_dev_batch *db, ea_sync s, ea_plan *plan)
{
    if (!ctx || !db || !plan)
        return ea_fail(EA_ERR_NULL, "ctx, db and plan are required");
    if (plan->bs < db->bs || plan->capacity < db->num_prefix_indices + db->num_tokens)
        return ea_fail(EA_ERR_PLAN, "the plan (bs=%d, %lld keys) is too small for the batch (bs=%d, %lld keys)",
                       plan->bs, (long long)plan->capacity, db->bs,
                       (long long)(db->num_prefix_indices + db->num_tokens));
    ea_status (*const build)(ea_cuda_ctx *, const ea_dev_batch *, ea_plan *) =
        s == EA_SYNC_PER_REQUEST ? build_per_request : s == EA_SYNC_BATCHED ? build_batched
                                                     : s == EA_SYNC_DEVICE  ? build_device : NULL;
    if (!build)
        return ea_fail(EA_ERR_ARG, "unknown sync strategy %d", (int)s);
    /* Bad input above changes nothing; from here the strategy overwrites the indices, so no list of
     * an earlier batch may outlive them, whatever happens below. */
    plan->ordered = 0;
    const ea_status st = build(ctx, db, plan);
    /* No list where it does not fit (a plan made for a smaller batch): kernel 6 then keeps its grid's
     * order. One request gets its list too, although its grid already starts the longest block
     * first: without it kernel 6 measured 1-6 us slower on single requests, waiting on instruction
     * fetch (H200, L2 flushed before each call: one_token 16.0 against 10.6 us; kernels/README.md),
     * about what the list costs a plan build at bs 1 (4 us on the GPU). A wash where a plan is built
     * every layer, a gain where it is built once. */
    if (st != EA_OK || plan->order_capacity < order_bound(db) || db->params.hkv < 1)
        return st;
    /* The tensor-core kernel's schedule, on the device whatever the strategy (it reads the prefix
     * lengths the strategy has just written, later on the same stream): no host wait. */
    const ea_params *p = &db->params;
    EA_CUDA_TRY(ea_launch_block_order(db->qo_indptr, plan->prefix_lens, db->bs, p->hq / p->hkv, p->causal,
                                      p->sliding_window, db->custom_mask != NULL, plan->block_order,
                                      plan->order_capacity, ctx->stream));
    plan->ordered = 1;
    return EA_OK;
}

/* The kernel's arguments from a batch and a plan. */
static ea_attn_args attn_args(const ea_dev_batch *db, const ea_plan *plan)
{
    const ea_params *p = &db->params;
    ea_attn_args a = {
        .q = db->q, .k_pool = db->k_pool, .v_pool = db->v_pool, .o = db->o,
        .qo_indptr = db->qo_indptr, .unified_kv_indptr = plan->unified_kv_indptr,
        .unified_kv_indices = plan->unified_kv_indices, .prefix_lens = plan->prefix_lens,
        .custom_mask = db->custom_mask, .mask_indptr = db->mask_indptr, .sinks = p->sinks,
        .block_order = plan->ordered ? plan->block_order : NULL,
        .bs = db->bs, .hq = p->hq, .hkv = p->hkv, .dqk = p->dqk, .dv = p->dv,
        .max_extend_len = db->max_extend_len, .causal = p->causal, .sliding_window = p->sliding_window,
        .bf16 = p->dtype == EA_BF16, .sm_scale = p->sm_scale, .logit_cap = p->logit_cap,
    };
    return a;
}

/* What every attention launch needs of its arguments (ea_cuda_run and the test hooks). */
static ea_status launchable(const ea_cuda_ctx *ctx, const ea_dev_batch *db, const ea_plan *plan)
{
    if (!ctx || !db || !plan)
        return ea_fail(EA_ERR_NULL, "ctx, db and plan are required");
    if (plan->bs < db->bs)
        return ea_fail(EA_ERR_PLAN, "the plan has %d requests, the batch %d", plan->bs, db->bs);
    if (db->bs > 65535 || db->params.hkv > 65535) /* CUDA's limit on gridDim.y and gridDim.z */
        return ea_fail(EA_ERR_DIM, "%d requests, %d KV heads: the kernels' grids index requests and KV heads in "
                       "dimensions that hold at most 65535", db->bs, db->params.hkv);
    if (((uintptr_t)db->q | (uintptr_t)db->k_pool | (uintptr_t)db->v_pool) % 16)
        return ea_fail(EA_ERR_ARG, "q, k_pool and v_pool must start on 16-byte boundaries (the kernels load 16 bytes "
                       "at a time; cudaMalloc gives 256)");
    return EA_OK;
}

ea_status ea_cuda_run(ea_cuda_ctx *ctx, const ea_dev_batch *db, const ea_plan *plan)
{
    const ea_status st = launchable(ctx, db, plan);
    if (st != EA_OK)
        return st;
    const ea_attn_args a = attn_args(db, plan);
    switch (ctx->kernel) { /* kernels/README.md: what each version adds */
    case EA_KERNEL_NAIVE:
        EA_CUDA_TRY(ea_launch_attention_1(&a, ctx->stream));
        break;
    case EA_KERNEL_SMEM_TILES:
        EA_CUDA_TRY(ea_launch_attention_2(&a, ctx->stream));
        break;
    case EA_KERNEL_GQA_BLOCKING:
        EA_CUDA_TRY(ea_launch_attention_3(&a, ctx->stream));
        break;
    case EA_KERNEL_VECTOR_GATHERS:
        EA_CUDA_TRY(ea_launch_attention_4(&a, ctx->stream));
        break;
    case EA_KERNEL_BITMASKS:
        EA_CUDA_TRY(ea_launch_attention_5(&a, ctx->stream));
        break;
    case EA_KERNEL_TC:
        EA_CUDA_TRY(ea_launch_attention_6(&a, ctx->stream));
        break;
    default: /* ea_cuda_set_kernel admits no other value: a corrupted context */
        return ea_fail(EA_ERR_ARG, "the context's kernel %d is not one of 1..%d", (int)ctx->kernel, EA_KERNEL_LAST);
    }
    return EA_OK;
}

ea_status ea_cuda_reserve(ea_cuda_ctx *ctx, const ea_dev_batch *db)
{
    if (!ctx || !db)
        return ea_fail(EA_ERR_NULL, "ctx and db are required");
    ea_plan *pl = &ctx->own_plan;
    if (pl->bs >= db->bs && pl->capacity >= db->num_prefix_indices + db->num_tokens &&
        pl->order_capacity >= order_bound(db)) /* (the block list grows with the new tokens, not the keys) */
        return EA_OK;
    ea_cuda_plan_free(pl);
    return ea_cuda_plan_create(ctx, db, pl);
}

ea_status ea_cuda_plan_poison(ea_cuda_ctx *ctx, ea_plan *pl)
{
    if (!ctx || !pl)
        return ea_fail(EA_ERR_NULL, "ctx and plan are required");
    pl->ordered = 0; /* until a build lists the blocks again */
    if (!pl->unified_kv_indptr)
        return EA_OK;
    EA_CUDA_TRY(cudaMemsetAsync(pl->unified_kv_indptr, 0, sizeof(int32_t) * (2 * (size_t)pl->bs + 1), ctx->stream));
    EA_CUDA_TRY(cudaMemsetAsync(pl->unified_kv_indices, 0, sizeof(int64_t) * (size_t)pl->capacity, ctx->stream));
    return EA_OK;
}

ea_status ea_cuda_extend(ea_cuda_ctx *ctx, ea_dev_batch *db, ea_sync s)
{
    ea_status st = ea_cuda_reserve(ctx, db); /* a no-op once sized */
    if (st == EA_OK)
        st = ea_cuda_plan_build(ctx, db, s, &ctx->own_plan);
    return st != EA_OK ? st : ea_cuda_run(ctx, db, &ctx->own_plan);
}

ea_status ea_cuda_test_tc_split(ea_cuda_ctx *ctx, ea_dev_batch *db, const ea_plan *plan, int row_warps,
                                int ctas_per_block, int stages, int max_grid_z, int ordered)
{
    const ea_status st = launchable(ctx, db, plan);
    if (st != EA_OK)
        return st;
    if (row_warps != 2 && row_warps != 4)
        return ea_fail(EA_ERR_ARG, "row_warps is %d, not 2 or 4", row_warps);
    if (row_warps == 4 && stages != 2)
        return ea_fail(EA_ERR_ARG, "four warps to a row block run with two buffers of K and V, not %d", stages);
    if (ctas_per_block != 1 && ctas_per_block != 2)
        return ea_fail(EA_ERR_ARG, "ctas_per_block is %d, not 1 or 2", ctas_per_block);
    if (stages != 1 && stages != 2)
        return ea_fail(EA_ERR_ARG, "stages is %d, not 1 or 2", stages);
    if (max_grid_z < 0 || max_grid_z > 65535)
        return ea_fail(EA_ERR_ARG, "max_grid_z is %d, not 0..65535", max_grid_z);
    if (ordered && (!plan->ordered || max_grid_z))
        return ea_fail(EA_ERR_ARG, "the plan's block order needs a plan that has one (%d) and max_grid_z 0 (%d)",
                       plan->ordered, max_grid_z);
    ea_attn_args a = attn_args(db, plan);
    if (!ordered)
        a.block_order = NULL; /* the grid's own order */
    EA_CUDA_TRY(ea_launch_attention_6_split(&a, ctx->stream, row_warps, ctas_per_block, stages, max_grid_z));
    return EA_OK;
}

ea_status ea_cuda_test_block_order(ea_cuda_ctx *ctx, const ea_plan *plan, int32_t *order)
{
    if (!ctx || !plan || !order)
        return ea_fail(EA_ERR_NULL, "ctx, plan and order are required");
    if (!plan->ordered)
        return ea_fail(EA_ERR_PLAN, "the plan's last build made no block list");
    EA_CUDA_TRY(cudaMemcpyAsync(order, plan->block_order, sizeof(int32_t) * (1 + 2 * (size_t)plan->order_capacity),
                                cudaMemcpyDeviceToHost, ctx->stream));
    return ea_cuda_wait(ctx);
}

ea_status ea_cuda_test_bad_launch(ea_cuda_ctx *ctx, ea_dev_batch *db, const ea_plan *plan)
{
    if (!ctx || !db || !plan)
        return ea_fail(EA_ERR_NULL, "ctx, db and plan are required");
    const ea_attn_args a = attn_args(db, plan);
    EA_CUDA_TRY(ea_launch_attention_bad_smem(&a, ctx->stream));
    return EA_OK;
}
