/* The small kernels of the sync strategies (DESIGN.md section 3).
 *   pack:  the batched strategy's one transfer -- every request's four scalars
 *          side by side, so the host reads them with ONE device-to-host copy.
 *   scan + copy: the device strategy -- the unified indices built where the
 *          metadata lives, so the host never waits.
 * Plus a fill kernel (output poisoning) and a spin kernel (queued GPU work). */
#include "ea_kernels.h"

__global__ void pack_scalars_kernel(const int32_t *prefix_kv_indptr, const int32_t *extend_start_loc,
                                    const int32_t *extend_seq_lens, int32_t bs, int32_t *packed)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= bs)
        return;
    int32_t *mine = packed + EA_SCALARS_PER_REQUEST * i;
    mine[0] = prefix_kv_indptr[i];
    mine[1] = prefix_kv_indptr[i + 1];
    mine[2] = extend_start_loc[i];
    mine[3] = extend_seq_lens[i];
}

extern "C" cudaError_t ea_launch_pack_scalars(const int32_t *prefix_kv_indptr, const int32_t *extend_start_loc,
                                              const int32_t *extend_seq_lens, int32_t bs, int32_t *packed,
                                              cudaStream_t s)
{
    pack_scalars_kernel<<<(bs + 255) / 256, 256, 0, s>>>(prefix_kv_indptr, extend_start_loc, extend_seq_lens, bs,
                                                         packed);
    return cudaGetLastError();
}

/* ONE warp scans any bs, 32 requests per step: a shuffle scan inside the
 * warp plus the running total of the steps before. A whole block with
 * __syncthreads between steps would cost more than the work (bs is small);
 * integer addition is exact, so the order does not matter here. */
__global__ void unified_scan_kernel(const int32_t *prefix_kv_indptr, const int32_t *extend_seq_lens, int32_t bs,
                                    int32_t *unified_kv_indptr, int32_t *prefix_lens)
{
    const int lane = threadIdx.x;
    int32_t carry = 0;
    if (lane == 0)
        unified_kv_indptr[0] = 0;
    for (int base = 0; base < bs; base += 32) {
        const int i = base + lane;
        int32_t x = 0;
        if (i < bs) {
            const int32_t P = prefix_kv_indptr[i + 1] - prefix_kv_indptr[i];
            prefix_lens[i] = P;
            x = P + extend_seq_lens[i];
        }
        /* TODO (exercise 7): scan 32 requests per step with __shfl_up_sync, write unified_kv_indptr[i + 1] = carry + inclusive sum, and add the step total (lane 31) to carry.
           The page tutorials/07-no-sync-and-graphs.md explains it; `make exercise 7` checks your code. */
    }
}

extern "C" cudaError_t ea_launch_unified_scan(const int32_t *prefix_kv_indptr, const int32_t *extend_seq_lens,
                                              int32_t bs, int32_t *unified_kv_indptr, int32_t *prefix_lens,
                                              cudaStream_t s)
{
    unified_scan_kernel<<<1, 32, 0, s>>>(prefix_kv_indptr, extend_seq_lens, bs, unified_kv_indptr, prefix_lens);
    return cudaGetLastError();
}

/* grid = (blocks per request, bs): each block strides over its request's keys. */
__global__ void unified_copy_kernel(const int32_t *prefix_kv_indptr, const int64_t *prefix_kv_indices,
                                    const int32_t *extend_start_loc, const int64_t *extend_kv_indices,
                                    const int32_t *unified_kv_indptr, const int32_t *prefix_lens,
                                    int64_t *unified_kv_indices)
{
    const int i = blockIdx.y;
    const int32_t start = unified_kv_indptr[i], T = unified_kv_indptr[i + 1] - start, P = prefix_lens[i];
    const int64_t *prefix = prefix_kv_indices + prefix_kv_indptr[i];
    const int64_t *extend = extend_kv_indices + extend_start_loc[i];
    for (int u = blockIdx.x * blockDim.x + threadIdx.x; u < T; u += gridDim.x * blockDim.x)
        unified_kv_indices[start + u] = u < P ? prefix[u] : extend[u - P];
}

extern "C" cudaError_t ea_launch_unified_copy(const int32_t *prefix_kv_indptr, const int64_t *prefix_kv_indices,
                                              const int32_t *extend_start_loc, const int64_t *extend_kv_indices,
                                              const int32_t *unified_kv_indptr, const int32_t *prefix_lens,
                                              int32_t bs, int64_t *unified_kv_indices, cudaStream_t s)
{
    /* 4 blocks of 256 per request cover 1024 keys per pass; longer requests loop */
    unified_copy_kernel<<<dim3(4, (unsigned)bs), 256, 0, s>>>(prefix_kv_indptr, prefix_kv_indices, extend_start_loc,
                                                              extend_kv_indices, unified_kv_indptr, prefix_lens,
                                                              unified_kv_indices);
    return cudaGetLastError();
}

__global__ void fill_kernel(void *dst, int64_t n, int elem_bytes, uint32_t pattern)
{
    for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < n; k += (int64_t)gridDim.x * blockDim.x) {
        if (elem_bytes == 2)
            ((uint16_t *)dst)[k] = (uint16_t)pattern;
        else
            ((uint32_t *)dst)[k] = pattern;
    }
}

extern "C" cudaError_t ea_launch_fill(void *dst, int64_t n, int elem_bytes, uint32_t pattern, cudaStream_t s)
{
    if (n <= 0)
        return cudaSuccess;
    const int64_t blocks = (n + 255) / 256 < 4096 ? (n + 255) / 256 : 4096;
    fill_kernel<<<(unsigned)blocks, 256, 0, s>>>(dst, n, elem_bytes, pattern);
    return cudaGetLastError();
}

__global__ void spin_kernel(int64_t ns)
{
    const int64_t start = (int64_t)clock64();
    /* __nanosleep sleeps at most ~1 ms per call; loop on the global timer */
    uint64_t t0;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    for (;;) {
        uint64_t t;
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
        if ((int64_t)(t - t0) >= ns)
            break;
        __nanosleep(1000);
    }
    (void)start;
}

extern "C" cudaError_t ea_launch_spin(int64_t ns, cudaStream_t s)
{
    spin_kernel<<<1, 1, 0, s>>>(ns);
    return cudaGetLastError();
}
