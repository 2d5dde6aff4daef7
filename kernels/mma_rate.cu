/* The card's measured bf16 tensor-core rate through mma.sync.m16n8k16, the instruction of kernel 6.
 *
 * The peak that ea-bench-kernel prints comes from a table (bench/ea_bench_device.h); this kernel
 * measures what the instruction gives: every warp runs a long loop of RATE_ACC independent mma
 * steps on operands held in registers, so that nothing but the tensor pipe sets the pace (no
 * memory, enough steps in flight to cover each one's latency). ea-bench-kernel times it before
 * every run (its first line) and counts 2 * 16 * 8 * 16 = 4096 FLOP per step. */
#include "ea_kernels.h"

#define RATE_ACC 8 /* independent accumulators per warp */

__global__ void __launch_bounds__(256) mma_rate_kernel(const uint32_t *operands, float *out, int iters)
{
    /* operands read at run time, so the compiler cannot know them; the values do not change the rate */
    const uint32_t a0 = operands[0], a1 = operands[1], a2 = operands[2], a3 = operands[3];
    const uint32_t b0 = operands[4], b1 = operands[5];
    float d[RATE_ACC][4] = {};
    for (int i = 0; i < iters; i++)
#pragma unroll
        for (int k = 0; k < RATE_ACC; k++)
            asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                         "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                         : "+f"(d[k][0]), "+f"(d[k][1]), "+f"(d[k][2]), "+f"(d[k][3])
                         : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
    float sum = 0.f;
#pragma unroll
    for (int k = 0; k < RATE_ACC; k++)
        sum += d[k][0] + d[k][1] + d[k][2] + d[k][3];
    out[(int64_t)blockIdx.x * blockDim.x + threadIdx.x] = sum; /* the results are used */
}

extern "C" cudaError_t ea_launch_mma_rate(const uint32_t *operands, float *out, int blocks, int iters,
                                          double *flop, cudaStream_t s)
{
    mma_rate_kernel<<<blocks, 256, 0, s>>>(operands, out, iters);
    *flop = (double)blocks * (256 / 32) * iters * RATE_ACC * 4096.0;
    return cudaGetLastError();
}
