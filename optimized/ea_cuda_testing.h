/* Test hooks of the CUDA path: entry points only the test suites call. Not part of the public
 * API and not installed; tests/ include it as "../optimized/ea_cuda_testing.h". Without nvcc,
 * optimized/cuda_stub.c defines them as EA_ERR_NOT_BUILT like every other entry point. */
#ifndef EA_CUDA_TESTING_H
#define EA_CUDA_TESTING_H

#include "ea_cuda.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Launches the attention kernel with an impossible shared-memory size, which must come back as
 * EA_ERR_CUDA and leave db->o untouched. */
ea_status ea_cuda_test_bad_launch(ea_cuda_ctx *ctx, ea_dev_batch *db, const ea_plan *plan);

/* Queues kernel 6 (the tensor cores) with `row_warps` warps to each row block of 16 pairs, 2 or 4 (4
 * only with two buffers), each 64-pair block computed by `ctas_per_block` CTAs, 1 or 2, and `stages`
 * buffers of K and V, 1 or 2 (2 only where they fit in shared memory, else 1, and then two warps),
 * whatever the kernel would choose (kernels/attention/6_tensor_cores.cu, tc_cta, tc_smem), and with
 * at most `max_grid_z` CTAs along a request's blocks (1..65535, 0: as the kernel launches; with
 * fewer CTAs than blocks each computes several, one after another), and in the plan's block order
 * (`ordered` 1: the plan must have one, and max_grid_z be 0) or the grid's own (0): none of these
 * may change a bit of db->o. */
ea_status ea_cuda_test_tc_split(ea_cuda_ctx *ctx, ea_dev_batch *db, const ea_plan *plan, int row_warps,
                                int ctas_per_block, int stages, int max_grid_z, int ordered);

/* Downloads the plan's block list (kernels/block_order.cu) into order, 1 + 2 plan->order_capacity
 * int32: order[0] = n, then n (request, block) pairs. Waits. EA_ERR_PLAN where the plan's last
 * build made no list (one request, or no room). */
ea_status ea_cuda_test_block_order(ea_cuda_ctx *ctx, const ea_plan *plan, int32_t *order);

/* Runs the proof of the tc kernel's fast probabilities over every float x <= 0 and every NaN (see
 * kernels/attention/tc_fast_math.cuh) and waits for it.
 *   bad       receives how many inputs round to another bf16 than ea_expf() would give (must be 0)
 *   exact     receives how many inputs take the exact path
 *   max_ulps  receives the largest distance, in fp32 ulps, between the fast value and ea_expf()
 *             over [-80, 0]: the margin around bf16 midpoints must exceed it */
ea_status ea_cuda_check_tc_probabilities(ea_cuda_ctx *ctx, uint64_t *bad, uint64_t *exact, uint32_t *max_ulps);

/* Runs the check of the tc kernel's epilogue division (see kernels/attention/tc_fast_math.cuh) and
 * waits for it: *bad receives how many quotients differ from the correctly rounded ones (must be 0). */
ea_status ea_cuda_check_tc_division(ea_cuda_ctx *ctx, uint64_t *bad);

#ifdef __cplusplus
}
#endif
#endif /* EA_CUDA_TESTING_H */
