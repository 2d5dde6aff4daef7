/* The warpgroup tensor-core probe: does Hopper's wgmma.mma_async compute what mma.sync computes?
 *
 * Kernel 6 may use wgmma (asynchronous, operands from shared memory, 64-row tiles) only if every
 * k16 step of it gives the bits that include/ea_mma.h models for mma.sync.m16n8k16 (the issue's
 * condition). This kernel runs the probe's tiles (16 x 16 A, 8 x 16 B^T, 16 x 8 C, the format of
 * kernels/mma_probe.cu) through wgmma.mma_async.m64n8k16 instead: one warpgroup per tile, the
 * tile's A in rows 0-15 (warp 0) and zeros in rows 16-63, B in shared memory, C in rows 0-15 of
 * the accumulator; D's rows 0-15 come back. tools/ea_mma_probe.c --instruction wgmma compares them
 * with the model, exactly as it does for mma.sync.
 *
 * Fragments (PTX ISA, "Register Fragments and Shared Memory Matrix Layouts" of wgmma): warp w of
 * the warpgroup holds rows 16w..16w+15 of A (in registers) and of D, each in the layout of
 * mma.m16n8k16 (lane l = 4g + t: A rows g, g+8, columns 2t, 2t+1 and 2t+8, 2t+9; D rows g, g+8,
 * columns 2t, 2t+1). B (K x N = 16 x 8, "K-major", as mma.sync's .col) is in shared memory without
 * swizzling, as two core matrices of 8 rows of 16 bytes (one row: 8 consecutive k of one column n),
 * k 0-7 first, then k 8-15, 128 bytes apart: the descriptor's leading (K) offset.
 *
 * wgmma exists on sm_90a only (the "a" features of Hopper): this file is built for that target
 * alone, and elsewhere the kernel is empty, so D keeps the caller's NaN sentinel and the probe
 * reports that nothing ran. */
#include "ea_kernels.h"
#include "ea_mma.h"

#include <stdint.h>

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define EA_HAVE_WGMMA 1

/* Two bf16 of one row, the lower column in the low half. */
__device__ static uint32_t pack2(const uint16_t *row, int col)
{
    return (uint32_t)row[col] | (uint32_t)row[col + 1] << 16;
}

/* The shared-memory matrix descriptor of wgmma: start address, leading and stride byte offsets
 * (all in units of 16 bytes), no swizzle. With N = 8 there is one core matrix along N, so the
 * stride offset is never used; it gets the same value. */
__device__ static uint64_t smem_desc(const void *p, uint32_t leading_bytes, uint32_t stride_bytes)
{
    const uint32_t addr = (uint32_t)__cvta_generic_to_shared(p);
    return (uint64_t)((addr & 0x3ffffu) >> 4) | (uint64_t)((leading_bytes >> 4) & 0x3fffu) << 16 |
           (uint64_t)((stride_bytes >> 4) & 0x3fffu) << 32;
}
#endif

__global__ void __launch_bounds__(128) wgmma_probe_kernel(const uint16_t *A, const uint16_t *Bt, const float *C,
                                                          float *D, int64_t tiles)
{
#ifdef EA_HAVE_WGMMA
    __shared__ __align__(128) uint16_t b[2 * 8 * 8]; /* [k / 8][n][k % 8] */
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const uint16_t *a = A + tile * EA_MMA_M * EA_MMA_K, *bt = Bt + tile * EA_MMA_N * EA_MMA_K;
        const float *c = C + tile * EA_MMA_M * EA_MMA_N;
        float *d = D + tile * EA_MMA_M * EA_MMA_N;
        {
            const int n = threadIdx.x / 16, k = threadIdx.x % 16; /* 128 threads, 128 elements */
            b[(k / 8) * 64 + n * 8 + k % 8] = bt[n * 16 + k];
        }
        /* the generic-proxy stores above must be visible to wgmma's async proxy */
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        __syncthreads();
        const bool mine = warp == 0; /* rows 0-15 hold the tile; rows 16-63 are zeros */
        const uint32_t a0 = mine ? pack2(a + g * 16, 2 * t) : 0u, a1 = mine ? pack2(a + (g + 8) * 16, 2 * t) : 0u;
        const uint32_t a2 = mine ? pack2(a + g * 16, 2 * t + 8) : 0u, a3 = mine ? pack2(a + (g + 8) * 16, 2 * t + 8) : 0u;
        float d0 = mine ? c[g * 8 + 2 * t] : 0.f, d1 = mine ? c[g * 8 + 2 * t + 1] : 0.f;
        float d2 = mine ? c[(g + 8) * 8 + 2 * t] : 0.f, d3 = mine ? c[(g + 8) * 8 + 2 * t + 1] : 0.f;
        const uint64_t desc = smem_desc(b, 128, 128);
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
        /* scale-d 1: D = A B + D; A and B not negated; B not transposed (K-major) */
        asm volatile("{\n"
                     ".reg .pred p;\n"
                     "setp.ne.b32 p, %9, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 "
                     "{%0, %1, %2, %3}, {%4, %5, %6, %7}, %8, p, 1, 1, 0;\n"
                     "}\n"
                     : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
                     : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "l"(desc), "r"(1)
                     : "memory");
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
        if (mine) {
            d[g * 8 + 2 * t] = d0;
            d[g * 8 + 2 * t + 1] = d1;
            d[(g + 8) * 8 + 2 * t] = d2;
            d[(g + 8) * 8 + 2 * t + 1] = d3;
        }
        __syncthreads(); /* every thread is done with b before the next tile writes it */
    }
#endif
}

extern "C" cudaError_t ea_launch_wgmma_probe(const uint16_t *A, const uint16_t *Bt, const float *C, float *D,
                                             int64_t tiles, cudaStream_t s)
{
    int64_t blocks = tiles < 65535 ? tiles : 65535;
    if (blocks < 1)
        blocks = 1;
    wgmma_probe_kernel<<<(unsigned)blocks, 128, 0, s>>>(A, Bt, C, D, tiles);
    return cudaGetLastError();
}
