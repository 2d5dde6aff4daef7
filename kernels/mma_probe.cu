/* The tensor-core probe's kernel: one warp runs one mma.m16n8k16 per tile, exactly as PTX
 * defines the instruction, so tools/ea_mma_probe.c can compare every output with the CPU model
 * of include/ea_mma.h.
 *
 * Fragments (PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type"): lane
 * l = 4*g + t (g = l / 4, t = l % 4) holds
 *   A: rows g and g+8, columns 2t, 2t+1 and 2t+8, 2t+9   (4 registers of 2 bf16, low half first)
 *   B: rows (k) 2t, 2t+1 and 2t+8, 2t+9, column g        (2 registers of 2 bf16)
 *   C, D: rows g and g+8, columns 2t, 2t+1               (4 floats)
 * The exact_ints distribution (every sum exact) checks this layout on the hardware. */
#include "ea_kernels.h"
#include "ea_mma.h"

#include <stdint.h>

/* Two bf16 of one row, the lower column in the low half. */
__device__ static uint32_t pack2(const uint16_t *row, int col)
{
    return (uint32_t)row[col] | (uint32_t)row[col + 1] << 16;
}

__global__ void mma_probe_kernel(const uint16_t *A, const uint16_t *Bt, const float *C, float *D, int64_t tiles)
{
    const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int64_t warps = (int64_t)gridDim.x * (blockDim.x / 32);
    for (int64_t tile = (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; tile < tiles; tile += warps) {
        const uint16_t *a = A + tile * EA_MMA_M * EA_MMA_K, *bt = Bt + tile * EA_MMA_N * EA_MMA_K;
        const float *c = C + tile * EA_MMA_M * EA_MMA_N;
        float *d = D + tile * EA_MMA_M * EA_MMA_N;
        const uint32_t a0 = pack2(a + g * 16, 2 * t), a1 = pack2(a + (g + 8) * 16, 2 * t);
        const uint32_t a2 = pack2(a + g * 16, 2 * t + 8), a3 = pack2(a + (g + 8) * 16, 2 * t + 8);
        const uint32_t b0 = pack2(bt + g * 16, 2 * t), b1 = pack2(bt + g * 16, 2 * t + 8);
        float d0 = c[g * 8 + 2 * t], d1 = c[g * 8 + 2 * t + 1];
        float d2 = c[(g + 8) * 8 + 2 * t], d3 = c[(g + 8) * 8 + 2 * t + 1];
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                     "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                     : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
                     : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
        d[g * 8 + 2 * t] = d0;
        d[g * 8 + 2 * t + 1] = d1;
        d[(g + 8) * 8 + 2 * t] = d2;
        d[(g + 8) * 8 + 2 * t + 1] = d3;
    }
}

extern "C" cudaError_t ea_launch_mma_probe(const uint16_t *A, const uint16_t *Bt, const float *C, float *D,
                                           int64_t tiles, cudaStream_t s)
{
    const int warps_per_block = 8;
    int64_t blocks = (tiles + warps_per_block - 1) / warps_per_block;
    if (blocks > 65535)
        blocks = 65535;
    if (blocks < 1)
        blocks = 1;
    mma_probe_kernel<<<(unsigned)blocks, warps_per_block * 32, 0, s>>>(A, Bt, C, D, tiles);
    return cudaGetLastError();
}
