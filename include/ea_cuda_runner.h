/**
 * @file ea_cuda_runner.h
 * @brief The CUDA path as a backend of the checks of ea_cases.h: one step on a host batch,
 * from upload to download, with the step's own host waits recorded.
 *
 * Kept apart from ea_cuda.h so that the CUDA API does not depend on the case files and
 * generated problems of ea_cases.h; the GPU tests and ea-compare use it.
 *
 * @code
 * ea_cuda_runner r = {.ctx = ctx, .step = EA_STEP_GRAPH, .kernel = EA_KERNEL_TC};
 * if (ea_run_cuda(&r, &problem, &host_batch, o) == EA_OK && r.waits != ea_step_expected_waits(r.step, bs))
 *     puts("the graph waited");
 * @endcode
 */
#ifndef EA_CUDA_RUNNER_H
#define EA_CUDA_RUNNER_H

#include "ea_cases.h"
#include "ea_cuda.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @addtogroup ea_cuda
 * @{
 */

/** A GPU backend for the checks of ea_cases.h (pass as the `ctx` of an ::ea_runner). */
typedef struct {
    ea_cuda_ctx *ctx;  /**< the context to run in */
    ea_step step;      /**< what the step runs: a strategy, or the device strategy's step as a graph */
    ea_kernel kernel;  /**< the attention kernel (0: the context's current one) */
    int64_t waits;     /**< out: blocking host waits of the last step (not counting upload/download) */
} ea_cuda_runner;

/**
 * @brief An ::ea_runner: uploads the host batch, poisons the device output, runs one
 * step as @p runner says, downloads into @p o, frees the device batch.
 * @return EA_OK; EA_ERR_NULL; EA_ERR_ARG for an unknown step or kernel; any error of the calls
 */
ea_status ea_run_cuda(void *runner, const ea_problem *pr, const ea_host_batch *hb, void *o);

/** @} */

#ifdef __cplusplus
}
#endif
#endif /* EA_CUDA_RUNNER_H */
