/* Internal to optimized/: the context's layout and the CUDA error helpers. */
#ifndef EA_CUDA_INTERNAL_H
#define EA_CUDA_INTERNAL_H

#include <cuda_runtime_api.h>

#include "ea_cuda.h"
#include "ea_cuda_testing.h"
#include "../reference/ea_fail.h"
#include "ea_kernels.h"

struct ea_cuda_ctx {
    cudaStream_t stream;
    int64_t waits;      /* blocking host waits (each a cudaStreamSynchronize) */
    int32_t *pinned;    /* page-locked host scratch of the host strategies: ea_host_scratch below */
    size_t pinned_len;  /* in int32 */
    int32_t *d_packed;  /* device scratch of the batched strategy: EA_SCALARS_PER_REQUEST per request */
    size_t packed_len;  /* in int32 */
    ea_plan own_plan;   /* the plan ea_cuda_extend() rebuilds every layer */
    int64_t *trace;     /* optional: (begin, end) host ns of each wait, for timelines */
    int trace_cap, trace_n;
    ea_kernel kernel;   /* the attention kernel ea_cuda_run queues */
};

struct ea_graph {
    cudaGraphExec_t exec;
    ea_plan plan;
};

/* Turns a CUDA error into a status with the failing call, file and line:
 * out of memory -> EA_ERR_NOMEM, no device or driver -> EA_ERR_NO_DEVICE, else EA_ERR_CUDA. */
ea_status ea_cuda_fail(cudaError_t e, const char *call, const char *file, int line);

#define EA_CUDA_TRY(call)                                                   \
    do {                                                                    \
        cudaError_t e_ = (call);                                            \
        if (e_ != cudaSuccess)                                              \
            return ea_cuda_fail(e_, #call, __FILE__, __LINE__);             \
    } while (0)

/* The one blocking wait of the strategies: waits for the stream, counts it. */
ea_status ea_cuda_wait(ea_cuda_ctx *ctx);

/* Grows the pinned scratch to at least n int32 (only ever after a wait). */
ea_status ea_cuda_pinned_reserve(ea_cuda_ctx *ctx, size_t n);

/* Waits for the stream, then zeroes the pinned scratch: the checks' runner does it before each step,
 * so that a host strategy that fails to fill it cannot pass on what the previous step left there
 * (zeros describe empty requests: wrong outputs, never a read out of bounds). */
ea_status ea_cuda_pinned_poison(ea_cuda_ctx *ctx);

/* The page-locked scratch of the host strategies (ctx->pinned), for a plan of plan_bs requests,
 * in int32:
 *
 *   scalars      [4 plan_bs]     what the device sends: per_request's one scalar at a time in
 *                                scalars[0], batched's 4 per request side by side
 *   indptr       [plan_bs + 1]   the offsets the host loop computes
 *   prefix_lens  [plan_bs]       the prefix lengths it computes
 *
 * indptr and prefix_lens sit as in the plan's device allocation (prefix_lens right after
 * plan_bs + 1 offsets), so one copy uploads both. ea_cuda_plan_create() reserves `len`, so that
 * building a plan never allocates (allocation can synchronise). */
typedef struct {
    int32_t *scalars, *indptr, *prefix_lens;
} ea_host_scratch;

static inline size_t ea_host_scratch_len(int32_t plan_bs)
{
    return (EA_SCALARS_PER_REQUEST + 2) * (size_t)plan_bs + 1;
}

static inline ea_host_scratch ea_host_scratch_at(int32_t *pinned, int32_t plan_bs)
{
    ea_host_scratch h;
    h.scalars = pinned;
    h.indptr = pinned + EA_SCALARS_PER_REQUEST * (size_t)plan_bs;
    h.prefix_lens = h.indptr + (size_t)plan_bs + 1;
    return h;
}

#endif
