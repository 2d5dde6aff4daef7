/* Internal to optimized/: the context's layout and the CUDA error helpers. */
#ifndef EA_CUDA_INTERNAL_H
#define EA_CUDA_INTERNAL_H

#include <cuda_runtime_api.h>

#include "ea_cuda.h"
#include "ea_cuda_testing.h"
#include "ea_fail.h"
#include "ea_kernels.h"

struct ea_cuda_ctx {
    cudaStream_t stream;
    int64_t waits;      /* blocking host waits (each a cudaStreamSynchronize) */
    int32_t *pinned;    /* page-locked host scratch: scalars, packed scalars, indptr */
    size_t pinned_len;  /* in int32 */
    int32_t *d_packed;  /* device scratch of the batched strategy: 4 ints per request */
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

#endif
