/* The floor of kernel 6: its tile arithmetic alone, with nothing else around it.
 *
 * Kernel 6 (attention/6_tensor_cores.cu) spends each key tile on a warp's arithmetic (the scores'
 * mma chains, the row max, the probabilities, the rescale, P V's mma chains: attention/tc_tile.cuh)
 * and on everything that feeds it: gathering K and V from the paged pool, the block barriers, the
 * exchange of the row max and of P between the two warps of a row block, the masks, a block's set-up
 * and epilogue, and the tail of a batch whose blocks differ in length. This kernel keeps the first
 * and drops all the rest: every warp runs the same number of warp-tiles as kernel 6 on a given batch,
 * back to back, on one K and one V tile that stay in shared memory, at kernel 6's occupancy (2 CTAs
 * of 8 warps per SM, the register budget of 128). Its time is what the order's arithmetic costs on
 * this card in kernel 6's layout, however the data were brought to it: the floor under any kernel of
 * that layout, and the part of kernel 6's time that better loads and scheduling cannot remove.
 * ea-bench-kernel --floor prints it beside kernel 6 (kernels/README.md, "How far down").
 *
 * Two versions: the whole arithmetic (EA_FLOOR_ALL), and the two products alone
 * (EA_FLOOR_PRODUCTS: compute_qk, P = S rounded to bf16, compute_pv), whose difference is what the
 * softmax adds (the scale, the row max, the rescale factor and rescale, the probabilities with their
 * rare exact path). The numbers are those of one tile, over and over, not of any real batch, and
 * only the instructions matter: a floor of time, not of bits. */
#include "ea_kernels.h"
#include "attention/tc_tile.cuh"

#define FLOOR_D 128 /* head dim (Dqk = Dv) of the floor: the seed shape's */
#define FLOOR_WARPS 8

template <bool SOFTMAX>
__global__ void __launch_bounds__(FLOOR_WARPS * 32, 2)
    tc_floor_kernel(int64_t warp_tiles, float sm_scale, const uint16_t *kv, float *out)
{
    constexpr int D = FLOOR_D, ROW = D + PAD;
    extern __shared__ __align__(16) uint16_t smem[];
    uint16_t *Qs = smem, *Ks = Qs + 64 * ROW, *Vs = Ks + BN * ROW;
    /* Q, K and V from the caller's bf16 values (3 x 64 rows of D), read at run time: 16 bytes a
     * load, all of a thread's loads in flight at once (one at a time, the 96 two-byte loads of a
     * first version took 35 us, longer than the small cases' whole floor) */
    constexpr int CHUNKS = 3 * 64 * D / 8, PER_THREAD = CHUNKS / (FLOOR_WARPS * 32);
    static_assert(CHUNKS % (FLOOR_WARPS * 32) == 0, "whole chunks per thread");
    uint4 chunk[PER_THREAD];
#pragma unroll
    for (int c = 0; c < PER_THREAD; c++)
        chunk[c] = ((const uint4 *)kv)[threadIdx.x + c * FLOOR_WARPS * 32];
#pragma unroll
    for (int c = 0; c < PER_THREAD; c++) {
        const int e = (threadIdx.x + c * FLOOR_WARPS * 32) * 8;
        *(uint4 *)(smem + e / D * ROW + e % D) = chunk[c];
    }
    __syncthreads();

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, tq = lane % 4;
    const int rb = warp % 4, hf = warp / 4; /* kernel 6's row block and half */
    float o[D / 16][4] = {}, l[4] = {}, m[2] = {-INFINITY, -INFINITY};
    for (int64_t t = (int64_t)blockIdx.x * FLOOR_WARPS + warp; t < warp_tiles; t += (int64_t)gridDim.x * FLOOR_WARPS) {
        float s[HALF_KEYS / 8][4];
        compute_qk<D>(s, Qs, Ks, rb, hf, lane);
        if (SOFTMAX) {
#pragma unroll
            for (int n = 0; n < HALF_KEYS / 8; n++)
#pragma unroll
                for (int e = 0; e < 4; e++)
                    s[n][e] = s[n][e] * sm_scale;
            const float mx[2] = {half_max<true>(s, 0, 0u, m[0]), half_max<true>(s, 1, 0u, m[1])};
            uint32_t exact = 0;
            probabilities<true>(s, 0, 0u, mx[0], exact);
            probabilities<true>(s, 1, 0u, mx[1], exact);
            if (__any_sync(0xffffffffu, exact != 0))
                exact_probabilities(s, exact);
            rescale_state<D>(o, l, m, mx, tq);
        }
        /* P as the A operands of the tile's four k-steps: the warp's own two, twice (kernel 6 reads
         * the other two from its partner warp) */
        uint32_t pf[BN / 16][4];
#pragma unroll
        for (int kl = 0; kl < HALF_KEYS / 16; kl++) {
            pf[kl][0] = pf[HALF_KEYS / 16 + kl][0] = pack_bf16(s[2 * kl][0], s[2 * kl][1]);
            pf[kl][1] = pf[HALF_KEYS / 16 + kl][1] = pack_bf16(s[2 * kl][2], s[2 * kl][3]);
            pf[kl][2] = pf[HALF_KEYS / 16 + kl][2] = pack_bf16(s[2 * kl + 1][0], s[2 * kl + 1][1]);
            pf[kl][3] = pf[HALF_KEYS / 16 + kl][3] = pack_bf16(s[2 * kl + 1][2], s[2 * kl + 1][3]);
        }
        compute_pv<D>(o, l, pf, Vs, hf, lane);
    }
    float sum = l[0] + l[1] + l[2] + l[3] + m[0] + m[1];
#pragma unroll
    for (int n = 0; n < D / 16; n++)
        sum += o[n][0] + o[n][1] + o[n][2] + o[n][3];
    out[(int64_t)blockIdx.x * blockDim.x + threadIdx.x] = sum; /* every result is used */
}

extern "C" size_t ea_tc_floor_bytes(void)
{
    return (size_t)3 * 64 * (FLOOR_D + PAD) * sizeof(uint16_t);
}

extern "C" cudaError_t ea_launch_tc_floor(int64_t warp_tiles, int parts, int ctas, float sm_scale, const uint16_t *kv,
                                          float *out, cudaStream_t s)
{
    const size_t smem = ea_tc_floor_bytes();
    if (warp_tiles < 0 || ctas <= 0 || (parts != EA_FLOOR_ALL && parts != EA_FLOOR_PRODUCTS))
        return cudaErrorInvalidValue;
    void (*kernel)(int64_t, float, const uint16_t *, float *) =
        parts == EA_FLOOR_ALL ? tc_floor_kernel<true> : tc_floor_kernel<false>;
    const cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess)
        return e;
    kernel<<<ctas, FLOOR_WARPS * 32, smem, s>>>(warp_tiles, sm_scale, kv, out);
    return cudaGetLastError();
}
