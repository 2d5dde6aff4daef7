/* A GPU backend in the shape of ea_runner: one step on a host batch, from
 * upload to download, with the step's own host waits recorded. Used by the
 * GPU tests and ea-compare --backend gpu. */
#include "cuda_internal.h"
#include "ea_cuda_runner.h"

ea_status ea_cuda_plan_download(ea_cuda_ctx *ctx, const ea_plan *plan, int32_t bs, int32_t *indptr,
                                int64_t *indices, int32_t *prefix_lens)
{
    if (!ctx || !plan || !indptr || !indices || !prefix_lens)
        return ea_fail(EA_ERR_NULL, "ctx, plan and the host arrays are required");
    if (bs < 1)
        return ea_fail(EA_ERR_DIM, "bs must be >= 1 (%d)", bs);
    if (bs > plan->bs)
        return ea_fail(EA_ERR_PLAN, "the plan has %d requests, %d asked for", plan->bs, bs);
    EA_CUDA_TRY(cudaMemcpyAsync(indptr, plan->unified_kv_indptr, sizeof(int32_t) * ((size_t)bs + 1),
                                cudaMemcpyDeviceToHost, ctx->stream));
    EA_CUDA_TRY(cudaMemcpyAsync(prefix_lens, plan->prefix_lens, sizeof(int32_t) * (size_t)bs,
                                cudaMemcpyDeviceToHost, ctx->stream));
    ea_status st = ea_cuda_wait(ctx);
    if (st != EA_OK)
        return st;
    if (indptr[bs] < 0 || indptr[bs] > plan->capacity)
        return ea_fail(EA_ERR_COUNT, "the plan holds %d indices, more than its capacity %lld", indptr[bs],
                       (long long)plan->capacity);
    EA_CUDA_TRY(cudaMemcpyAsync(indices, plan->unified_kv_indices, sizeof(int64_t) * (size_t)indptr[bs],
                                cudaMemcpyDeviceToHost, ctx->stream));
    return ea_cuda_wait(ctx);
}

ea_status ea_run_cuda(void *runner, const ea_problem *pr, const ea_host_batch *hb, void *o)
{
    ea_cuda_runner *r = runner;
    if (!r || !r->ctx || !pr || !hb || !o)
        return ea_fail(EA_ERR_NULL, "runner, problem, batch and output are required");
    if ((unsigned)r->step >= EA_STEP_COUNT)
        return ea_fail(EA_ERR_ARG, "unknown step %d", (int)r->step);
    const int use_graph = r->step == EA_STEP_GRAPH;
    ea_dev_batch *db = NULL;
    ea_graph *g = NULL;
    ea_status st = r->kernel ? ea_cuda_set_kernel(r->ctx, r->kernel) : EA_OK; /* 0: the context's kernel */
    if (st == EA_OK)
        st = ea_cuda_batch_upload(r->ctx, &hb->batch, &pr->params, &hb->in, &db);
    if (st == EA_OK)
        st = ea_cuda_poison_output(r->ctx, db);
    if (st == EA_OK && use_graph)
        st = ea_cuda_graph_capture(r->ctx, db, &g);
    if (st == EA_OK)
        st = ea_cuda_reserve(r->ctx, db); /* set-up, not part of the step */
    if (st == EA_OK)
        st = ea_cuda_plan_poison(r->ctx, &r->ctx->own_plan); /* the strategy must write every index itself */
    if (st == EA_OK)
        st = ea_cuda_pinned_poison(r->ctx); /* ... and every host value it uploads */
    if (st == EA_OK) {
        ea_cuda_reset_waits(r->ctx);
        st = use_graph ? ea_cuda_graph_launch(r->ctx, g) : ea_cuda_extend(r->ctx, db, ea_step_strategy(r->step));
        r->waits = ea_cuda_host_waits(r->ctx);
    }
    if (st == EA_OK)
        st = ea_cuda_download_output(r->ctx, db, o);
    ea_cuda_graph_free(g);
    ea_cuda_batch_free(db);
    return st;
}

/* A device check that counts into a few counters: they are zeroed on the device, `launch` runs
 * with their device copy, and they come back into *counters once the stream is done. */
typedef cudaError_t (*counting_launch)(void *counters, cudaStream_t s);

static ea_status run_counting(ea_cuda_ctx *ctx, counting_launch launch, void *counters, size_t bytes, const char *what)
{
    void *d = NULL;
    EA_CUDA_TRY(cudaMalloc(&d, bytes));
    cudaError_t e = cudaMemsetAsync(d, 0, bytes, ctx->stream);
    if (e == cudaSuccess)
        e = launch(d, ctx->stream);
    if (e == cudaSuccess)
        e = cudaMemcpyAsync(counters, d, bytes, cudaMemcpyDeviceToHost, ctx->stream);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(ctx->stream);
    cudaFree(d);
    return e == cudaSuccess ? EA_OK : ea_cuda_fail(e, what, __FILE__, __LINE__);
}

struct prob_counters {
    unsigned long long bad, exact;
    unsigned int max_ulps;
};

static cudaError_t launch_prob_check(void *counters, cudaStream_t s)
{
    struct prob_counters *d = counters;
    return ea_launch_tc_prob_check(&d->bad, &d->exact, &d->max_ulps, s);
}

static cudaError_t launch_div_check(void *counters, cudaStream_t s)
{
    return ea_launch_tc_div_check(counters, s);
}

ea_status ea_cuda_check_tc_probabilities(ea_cuda_ctx *ctx, uint64_t *bad, uint64_t *exact, uint32_t *max_ulps)
{
    if (!ctx || !bad || !exact || !max_ulps)
        return ea_fail(EA_ERR_NULL, "ctx, bad, exact and max_ulps are required");
    struct prob_counters h;
    const ea_status st = run_counting(ctx, launch_prob_check, &h, sizeof h, "the tc probability check");
    if (st != EA_OK)
        return st;
    *bad = h.bad;
    *exact = h.exact;
    *max_ulps = h.max_ulps;
    return EA_OK;
}

ea_status ea_cuda_check_tc_division(ea_cuda_ctx *ctx, uint64_t *bad)
{
    if (!ctx || !bad)
        return ea_fail(EA_ERR_NULL, "ctx and bad are required");
    unsigned long long h;
    const ea_status st = run_counting(ctx, launch_div_check, &h, sizeof h, "the tc division check");
    if (st == EA_OK)
        *bad = h;
    return st;
}
