/* The CUDA API when nvcc was not found at build time: every call says so. */
#include "ea_cuda.h"
#include "ea_cuda_runner.h"
#include "ea_cuda_testing.h"
#include "../reference/ea_fail.h"

#define NOT_BUILT ea_fail(EA_ERR_NOT_BUILT, "the CUDA path was not built (nvcc was not found)")

ea_status ea_cuda_available(void) { return NOT_BUILT; }
ea_status ea_cuda_create(ea_cuda_ctx **ctx) { return NOT_BUILT; }
ea_status ea_cuda_mem_free(ea_cuda_ctx *ctx, int64_t *free_bytes) { return NOT_BUILT; }
void ea_cuda_destroy(ea_cuda_ctx *ctx) {}
void *ea_cuda_stream(const ea_cuda_ctx *ctx) { return NULL; }
int64_t ea_cuda_host_waits(const ea_cuda_ctx *ctx) { return 0; }
void ea_cuda_reset_waits(ea_cuda_ctx *ctx) {}
ea_status ea_cuda_set_kernel(ea_cuda_ctx *ctx, ea_kernel k) { return NOT_BUILT; }
int ea_cuda_mma_model_verified(void) { return 0; }
void ea_cuda_trace_waits(ea_cuda_ctx *ctx, int64_t *buf, int cap) {}
int ea_cuda_traced_waits(const ea_cuda_ctx *ctx) { return 0; }
ea_status ea_cuda_sync(ea_cuda_ctx *ctx) { return NOT_BUILT; }
ea_status ea_cuda_batch_upload(ea_cuda_ctx *ctx, const ea_batch *b, const ea_params *p, const ea_inputs *in,
                               ea_dev_batch **out) { return NOT_BUILT; }
void ea_cuda_batch_free(ea_dev_batch *db) {}
ea_status ea_cuda_poison_output(ea_cuda_ctx *ctx, ea_dev_batch *db) { return NOT_BUILT; }
ea_status ea_cuda_plan_poison(ea_cuda_ctx *ctx, ea_plan *plan) { return NOT_BUILT; }
ea_status ea_cuda_download_output(ea_cuda_ctx *ctx, const ea_dev_batch *db, void *host_o) { return NOT_BUILT; }
ea_status ea_cuda_plan_create(ea_cuda_ctx *ctx, const ea_dev_batch *db, ea_plan *plan) { return NOT_BUILT; }
void ea_cuda_plan_free(ea_plan *plan) {}
ea_status ea_cuda_plan_build(ea_cuda_ctx *ctx, const ea_dev_batch *db, ea_sync s, ea_plan *plan) { return NOT_BUILT; }
ea_status ea_cuda_run(ea_cuda_ctx *ctx, const ea_dev_batch *db, const ea_plan *plan) { return NOT_BUILT; }
ea_status ea_cuda_reserve(ea_cuda_ctx *ctx, const ea_dev_batch *db) { return NOT_BUILT; }
ea_status ea_cuda_extend(ea_cuda_ctx *ctx, ea_dev_batch *db, ea_sync s) { return NOT_BUILT; }
ea_status ea_cuda_graph_capture(ea_cuda_ctx *ctx, ea_dev_batch *db, ea_graph **g) { return NOT_BUILT; }
ea_status ea_cuda_graph_launch(ea_cuda_ctx *ctx, ea_graph *g) { return NOT_BUILT; }
void ea_cuda_graph_free(ea_graph *g) {}
ea_status ea_cuda_queue_busy(ea_cuda_ctx *ctx, int64_t ns) { return NOT_BUILT; }
ea_status ea_cuda_malloc(ea_cuda_ctx *ctx, size_t bytes, void **ptr) { return NOT_BUILT; }
void ea_cuda_free(void *ptr) {}
ea_status ea_cuda_test_bad_launch(ea_cuda_ctx *ctx, ea_dev_batch *db, const ea_plan *plan) { return NOT_BUILT; }
ea_status ea_cuda_test_tc_split(ea_cuda_ctx *ctx, ea_dev_batch *db, const ea_plan *plan, int row_warps,
                                int ctas_per_block, int stages, int max_grid_z, int ordered)
{
    return NOT_BUILT;
}
ea_status ea_cuda_test_block_order(ea_cuda_ctx *ctx, const ea_plan *plan, int32_t *order) { return NOT_BUILT; }
ea_status ea_cuda_plan_download(ea_cuda_ctx *ctx, const ea_plan *plan, int32_t bs, int32_t *indptr,
                                int64_t *indices, int32_t *prefix_lens) { return NOT_BUILT; }
ea_status ea_cuda_check_tc_probabilities(ea_cuda_ctx *ctx, uint64_t *bad, uint64_t *exact, uint32_t *max_ulps)
{
    return NOT_BUILT;
}
ea_status ea_cuda_check_tc_division(ea_cuda_ctx *ctx, uint64_t *bad) { return NOT_BUILT; }
ea_status ea_run_cuda(void *runner, const ea_problem *pr, const ea_host_batch *hb, void *o) { return NOT_BUILT; }
