/* CUDA graphs: the device strategy's whole step (scan, copy, the block list,
 * attention) captured once and replayed per layer -- four launches for the price
 * of one, and no host work at all between layers. */
#include "cuda_internal.h"

#include <stdlib.h>

ea_status ea_cuda_graph_capture(ea_cuda_ctx *ctx, ea_dev_batch *db, ea_graph **out)
{
    if (!ctx || !db || !out)
        return ea_fail(EA_ERR_NULL, "ctx, db and out are required");
    ea_graph *g = calloc(1, sizeof *g);
    if (!g)
        return ea_fail(EA_ERR_NOMEM, "out of host memory");
    ea_status st = ea_cuda_plan_create(ctx, db, &g->plan); /* buffers the graph will own */
    if (st != EA_OK) {
        free(g);
        return st;
    }
    cudaGraph_t graph = NULL;
    cudaError_t e = cudaStreamBeginCapture(ctx->stream, cudaStreamCaptureModeRelaxed);
    if (e != cudaSuccess) {
        st = ea_cuda_fail(e, "cudaStreamBeginCapture", __FILE__, __LINE__);
    } else {
        st = ea_cuda_plan_build(ctx, db, EA_SYNC_DEVICE, &g->plan);
        if (st == EA_OK)
            st = ea_cuda_run(ctx, db, &g->plan);
        e = cudaStreamEndCapture(ctx->stream, &graph); /* always end the capture, even after an error */
        if (st == EA_OK && e != cudaSuccess)
            st = ea_cuda_fail(e, "cudaStreamEndCapture", __FILE__, __LINE__);
    }
    if (st == EA_OK) {
        e = cudaGraphInstantiate(&g->exec, graph, 0);
        if (e != cudaSuccess)
            st = ea_cuda_fail(e, "cudaGraphInstantiate", __FILE__, __LINE__);
    }
    if (graph)
        cudaGraphDestroy(graph);
    if (st != EA_OK) {
        ea_cuda_plan_free(&g->plan);
        free(g);
        return st;
    }
    *out = g;
    return EA_OK;
}

ea_status ea_cuda_graph_launch(ea_cuda_ctx *ctx, ea_graph *g)
{
    if (!ctx || !g)
        return ea_fail(EA_ERR_NULL, "ctx and graph are required");
    EA_CUDA_TRY(cudaGraphLaunch(g->exec, ctx->stream));
    return EA_OK;
}

void ea_cuda_graph_free(ea_graph *g)
{
    if (!g)
        return;
    cudaGraphExecDestroy(g->exec);
    ea_cuda_plan_free(&g->plan);
    free(g);
}
