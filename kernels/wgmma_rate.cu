/* The card's measured bf16 tensor-core rate through Hopper's wgmma.mma_async.m64n128k16.
 *
 * The other half of kernels/mma_rate.cu: each warpgroup issues, again and again, 8 warpgroup MMAs
 * whose A (64 x 16) and B (16 x 128) sit in shared memory, into two accumulators of 64 registers
 * per thread, keeping one group in flight while the next is issued. ea-bench-kernel times it
 * before every run and counts 2 * 64 * 128 * 16 = 262,144 FLOP per instruction.
 *
 * wgmma exists on sm_90a only: this file is built for that target alone, and on other cards its
 * launcher reports cudaErrorNotSupported (the benchmark then prints the rate as "n/a"). */
#include "ea_kernels.h"

#include <stdint.h>

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define EA_HAVE_WGMMA 1

#define F4(d, n) "+f"(d[4 * n]), "+f"(d[4 * n + 1]), "+f"(d[4 * n + 2]), "+f"(d[4 * n + 3])
#define D64(d)                                                                                                       \
    F4(d, 0), F4(d, 1), F4(d, 2), F4(d, 3), F4(d, 4), F4(d, 5), F4(d, 6), F4(d, 7), F4(d, 8), F4(d, 9), F4(d, 10),     \
        F4(d, 11), F4(d, 12), F4(d, 13), F4(d, 14), F4(d, 15)
#define R64                                                                                                          \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, " \
    "%24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, "  \
    "%46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"

/* d += A B, A and B from shared memory (no swizzle; the leading byte offset is 128, the stride 256). */
__device__ __forceinline__ void wgmma_n128(float (&d)[64], uint64_t desc_a, uint64_t desc_b)
{
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 " R64 ", %64, %65, p, 1, 1, 0, 0;\n}\n"
                 : D64(d)
                 : "l"(desc_a), "l"(desc_b));
}

__device__ __forceinline__ uint64_t smem_desc(const void *p)
{
    const uint32_t addr = (uint32_t)__cvta_generic_to_shared(p);
    return (uint64_t)((addr & 0x3ffffu) >> 4) | (uint64_t)(128 >> 4) << 16 | (uint64_t)(256 >> 4) << 32;
}
#endif

__global__ void __launch_bounds__(128) wgmma_rate_kernel(float *out, int iters)
{
#ifdef EA_HAVE_WGMMA
    __shared__ __align__(128) uint16_t a[64 * 16], b[128 * 16];
    for (int i = threadIdx.x; i < 64 * 16; i += 128)
        a[i] = 0x3f80; /* 1.0 */
    for (int i = threadIdx.x; i < 128 * 16; i += 128)
        b[i] = 0x3f80;
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    __syncthreads();
    const uint64_t da = smem_desc(a), db = smem_desc(b);
    float d0[64] = {}, d1[64] = {};
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
    for (int i = 0; i < iters; i++) {
#pragma unroll
        for (int k = 0; k < 4; k++) {
            wgmma_n128(d0, da, db);
            wgmma_n128(d1, da, db);
        }
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
    }
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
    float sum = 0.f;
#pragma unroll
    for (int k = 0; k < 64; k++)
        sum += d0[k] + d1[k];
    out[(int64_t)blockIdx.x * blockDim.x + threadIdx.x] = sum; /* the results are used */
#endif
}

extern "C" cudaError_t ea_launch_wgmma_rate(float *out, int blocks, int iters, double *flop, cudaStream_t s)
{
    int dev = 0, major = 0, minor = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev))
        return cudaErrorNotSupported;
    if (major != 9 || minor != 0)
        return cudaErrorNotSupported;
    wgmma_rate_kernel<<<blocks, 128, 0, s>>>(out, iters);
    *flop = (double)blocks * iters * 8 * 262144.0;
    return cudaGetLastError();
}
