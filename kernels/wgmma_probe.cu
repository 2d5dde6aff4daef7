/* The warpgroup tensor-core probe: does Hopper's wgmma.mma_async compute what mma.sync computes?
 *
 * A kernel may use wgmma (asynchronous, a warpgroup of 4 warps, 64-row tiles, operands from shared
 * memory) in place of mma.sync only if every k16 step of it gives the bits that include/ea_mma.h
 * models for mma.sync.m16n8k16. This kernel runs the probe's tiles (16 x 16 A, 8 x 16 B^T, 16 x 8
 * C, the format of kernels/mma_probe.cu) through wgmma.mma_async.m64n64k16, the shape an attention
 * kernel would use, four tiles per instruction: tile w of a group has its A in rows 16w..16w+15,
 * its B in columns 8w..8w+7 and its C on the diagonal block (rows 16w.., columns 8w..); the other
 * blocks of A x B are products of one tile's A with another's B and are not read back. The diagonal
 * blocks come back as D, so tools/ea_mma_probe.c compares them with the model exactly as it does
 * for mma.sync.
 *
 * Three ways of feeding the instruction, each a question an attention kernel depends on:
 *   EA_WGMMA_A_REGS     A from registers, B "K-major" in shared memory (S = Q K^T with Q held by
 *                       the threads; K's rows are keys, contiguous along d)
 *   EA_WGMMA_A_SHARED   A from shared memory as well (Q staged once in shared memory)
 *   EA_WGMMA_B_MN_MAJOR A from registers, B "MN-major" (O += P V: P is in registers, V's rows are
 *                       keys, contiguous along the output columns, so B arrives transposed)
 *
 * Shared-memory layout (PTX ISA, "Shared Memory Matrix Layout" of wgmma, no swizzling): a matrix
 * is cut into core matrices of 8 rows of 16 bytes (8 bf16), 128 contiguous bytes each. K-major:
 * a core matrix is 8 rows (m or n) by 8 consecutive k. MN-major: 8 consecutive k as its rows, each
 * row 8 consecutive n. Either way the descriptor's leading byte offset is the distance between core
 * matrices adjacent along k and its stride byte offset the distance along m or n. Here core matrix
 * (row block rb, k block kb) sits at (2 rb + kb) * 128 bytes: leading offset 128, stride 256.
 *
 * Fragments (PTX ISA, "Register Fragments" of wgmma.m64nNk16): warp w of the warpgroup holds rows
 * 16w..16w+15 of A (in registers) and of D, in the layout of mma.m16n8k16 (lane l = 4g + t: A rows
 * g, g+8, columns 2t, 2t+1 and 2t+8, 2t+9; D rows g, g+8, columns 8j + 2t, 8j + 2t + 1 in
 * registers 4j..4j+3).
 *
 * What one run shows: one k16 step of m64n64k16 with the accumulator loaded, at 512 of the 4096
 * outputs of each instruction (the diagonal blocks), for each layout. That a chain of such steps is
 * the model's chain, and that other N give the same bits per element, is inferred (each output is
 * its own sum), and was borne out by the wgmma kernels of kernels/README.md, bitwise equal to the
 * CPU reference.
 *
 * wgmma exists on sm_90a only (the "a" features of Hopper): this file is built for that target
 * alone, and its launcher refuses other cards (cudaErrorNotSupported) rather than launch a kernel
 * they have no code for. */
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

/* The shared-memory matrix descriptor: start address, leading and stride byte offsets (in units of
 * 16 bytes), no swizzle (bits 62-63 zero), base offset 0. */
__device__ static uint64_t smem_desc(const void *p, uint32_t leading_bytes, uint32_t stride_bytes)
{
    const uint32_t addr = (uint32_t)__cvta_generic_to_shared(p);
    return (uint64_t)((addr & 0x3ffffu) >> 4) | (uint64_t)((leading_bytes >> 4) & 0x3fffu) << 16 |
           (uint64_t)((stride_bytes >> 4) & 0x3fffu) << 32;
}

/* Element (row, k) of a 64 x 16 operand in the core-matrix layout above; for MN-major B, "row" is n
 * and the core matrix is stored k-row by k-row. */
__device__ static int core_index(int row, int k, bool mn_major)
{
    const int cm = (row / 8) * 2 + k / 8;
    return cm * 64 + (mn_major ? (k % 8) * 8 + row % 8 : (row % 8) * 8 + k % 8);
}

#define EA_D32(d)                                                                                                    \
    "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]),      \
        "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]),        \
        "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),       \
        "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
#define EA_D32_NAMES                                                                                                 \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, "     \
    "%23, %24, %25, %26, %27, %28, %29, %30, %31}"
#endif

__global__ void __launch_bounds__(128) wgmma_probe_kernel(const uint16_t *A, const uint16_t *Bt, const float *C,
                                                          float *D, int64_t tiles, int variant)
{
#ifdef EA_HAVE_WGMMA
    __shared__ __align__(128) uint16_t a_s[64 * 16], b_s[64 * 16];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const bool b_mn_major = variant == EA_WGMMA_B_MN_MAJOR;
    for (int64_t group = (int64_t)blockIdx.x * 4; group < tiles; group += (int64_t)gridDim.x * 4) {
        /* Fill A (rows 16w.. from tile w) and B (columns 8w.. from tile w, columns 32-63 zero). */
        for (int i = threadIdx.x; i < 64 * 16; i += 128) {
            const int row = i / 16, k = i % 16, w = row / 16;
            const int64_t ta = group + w, tb = group + row / 8;
            a_s[core_index(row, k, false)] = ta < tiles ? A[ta * 256 + (row % 16) * 16 + k] : 0;
            b_s[core_index(row, k, b_mn_major)] = row < 32 && tb < tiles ? Bt[tb * 128 + (row % 8) * 16 + k] : 0;
        }
        /* the generic-proxy stores above must be visible to wgmma's async proxy */
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        __syncthreads();

        const int64_t tile = group + warp; /* this warp's rows and its diagonal block */
        const bool live = tile < tiles;
        const uint16_t *a = A + tile * 256;
        const float *c = C + tile * 128;
        uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        if (live) {
            a0 = pack2(a + g * 16, 2 * t);
            a1 = pack2(a + (g + 8) * 16, 2 * t);
            a2 = pack2(a + g * 16, 2 * t + 8);
            a3 = pack2(a + (g + 8) * 16, 2 * t + 8);
        }
        float d[32];
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const bool diag = live && j == warp;
            d[4 * j + 0] = diag ? c[g * 8 + 2 * t] : 0.f;
            d[4 * j + 1] = diag ? c[g * 8 + 2 * t + 1] : 0.f;
            d[4 * j + 2] = diag ? c[(g + 8) * 8 + 2 * t] : 0.f;
            d[4 * j + 3] = diag ? c[(g + 8) * 8 + 2 * t + 1] : 0.f;
        }
        const uint64_t desc_a = smem_desc(a_s, 128, 256), desc_b = smem_desc(b_s, 128, 256);
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
        /* predicate p true: D = A B + D; A and B not negated (1, 1); then the transpose immediates */
        if (variant == EA_WGMMA_A_SHARED)
            asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                         "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 " EA_D32_NAMES
                         ", %32, %33, p, 1, 1, 0, 0;\n}\n"
                         : EA_D32(d)
                         : "l"(desc_a), "l"(desc_b)
                         : "memory");
        else if (variant == EA_WGMMA_B_MN_MAJOR)
            asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                         "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 " EA_D32_NAMES
                         ", {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"
                         : EA_D32(d)
                         : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "l"(desc_b)
                         : "memory");
        else
            asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                         "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 " EA_D32_NAMES
                         ", {%32, %33, %34, %35}, %36, p, 1, 1, 0;\n}\n"
                         : EA_D32(d)
                         : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "l"(desc_b)
                         : "memory");
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
        /* the accumulators are final only after the wait: no read of them may move above it */
#pragma unroll
        for (int j = 0; j < 32; j++)
            asm volatile("" : "+f"(d[j])::"memory");
        if (live) {
            float *out = D + tile * 128;
#pragma unroll
            for (int j = 0; j < 8; j++)
                if (j == warp) {
                    out[g * 8 + 2 * t] = d[4 * j + 0];
                    out[g * 8 + 2 * t + 1] = d[4 * j + 1];
                    out[(g + 8) * 8 + 2 * t] = d[4 * j + 2];
                    out[(g + 8) * 8 + 2 * t + 1] = d[4 * j + 3];
                }
        }
        __syncthreads(); /* every thread is done with a_s and b_s before the next group writes them */
    }
#endif
}

extern "C" cudaError_t ea_launch_wgmma_probe(const uint16_t *A, const uint16_t *Bt, const float *C, float *D,
                                             int64_t tiles, int variant, cudaStream_t s)
{
    int dev = 0, major = 0, minor = 0;
    if (variant < EA_WGMMA_A_REGS || variant > EA_WGMMA_B_MN_MAJOR)
        return cudaErrorInvalidValue;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) || major != 9 || minor != 0)
        return cudaErrorNotSupported;
    int64_t blocks = (tiles + 3) / 4 < 65535 ? (tiles + 3) / 4 : 65535;
    if (blocks < 1)
        blocks = 1;
    wgmma_probe_kernel<<<(unsigned)blocks, 128, 0, s>>>(A, Bt, C, D, tiles, variant);
    return cudaGetLastError();
}
