/* The floor of kernel 6: its tile arithmetic alone, then with kernel 6's synchronisation and copies
 * added back one at a time.
 *
 * Kernel 6 (attention/6_tensor_cores.cu) spends each key tile on a warp's arithmetic (the scores'
 * mma chains, the row max, the probabilities, the rescale, P V's mma chains: attention/tc_tile.cuh)
 * and on everything that feeds it: gathering K and V from the paged pool, the block barriers, the
 * exchange of the row max and of P between the two warps of a row block, the masks, a block's set-up
 * and epilogue, and the tail of a batch whose blocks differ in length. This kernel runs as many
 * tiles as kernel 6 does on a given batch, back to back, on one Q, K and V tile, at kernel 6's
 * occupancy (2 CTAs of 8 warps per SM, the register budget of 128), in four versions, each the one
 * before plus one of those costs (ea-bench-kernel --floor prints them beside kernel 6:
 * kernels/README.md, "How far down"):
 *   EA_FLOOR_PRODUCTS  compute_qk, P = S rounded to bf16, compute_pv: the two products alone;
 *   EA_FLOOR_ALL       the whole tile arithmetic: the scale, the row max, the probabilities with
 *                      their rare exact path, the rescale. Its time is what the order's arithmetic
 *                      costs on this card in kernel 6's layout, however the data were brought to
 *                      it: the floor under any kernel of that layout;
 *   EA_FLOOR_SYNCED    plus the three block barriers per tile of kernel 6's one-buffer schedule
 *                      (STAGES = 1) and the pair's exchanges (the row max and P through shared
 *                      memory, the pair barrier), at its points: what keeping the warps of a CTA in
 *                      step costs;
 *   EA_FLOOR_FED       plus K and V copied into shared memory every tile by cp.async, issued and
 *                      waited for where that schedule does (V(j) during the scores of j, K(j + 1)
 *                      during P V(j)), from a pool of rows that repeat the tile (so the arithmetic
 *                      sees the same numbers), tile t reading rows 64t.. modulo the pool's size.
 * What kernel 6 adds beyond the last is its set-up and epilogue, the masks and tests, the pool
 * slots' loads, f32 rounding, and the batch's tail. Three more versions change the copies of
 * EA_FLOOR_FED, to ask what a different kernel 6 would gain before writing it:
 *   EA_FLOOR_AHEAD     K and V copied a whole tile ahead into second buffers (double-buffered, as
 *                      kernel 6's two-buffer schedule, STAGES = 2, which bf16 batches take, copies
 *                      them, with that schedule's synchronisation: one block barrier a tile, the P
 *                      exchange waited for by the pair's own barrier);
 *   EA_FLOOR_HALF      only the first 32 rows of each tile copied: half the copies, same schedule
 *                      (the arithmetic reads the rest as it was); does their cost follow their volume?
 *   EA_FLOOR_WIDE      CTAs of 8 row blocks (16 warps, one per SM) instead of 4: each copy serves
 *                      twice as many warps;
 *   EA_FLOOR_WIDE_AHEAD  both: CTAs of 16 warps on the two-buffer schedule of EA_FLOOR_AHEAD (half
 *                      the copies per SM, their latency behind a whole tile).
 * The numbers are those of one tile, over and over, not of any real batch: a floor of time, not of
 * bits. */
#include "ea_kernels.h"
#include "attention/tc_tile.cuh"

#define FLOOR_D 128 /* head dim (Dqk = Dv) of the floor: the seed shape's */
#define FLOOR_ROW (FLOOR_D + PAD)

/* A CTA of RB m16 row blocks, two warps each (kernel 6: RB = 4, 2 CTAs per SM; EA_FLOOR_WIDE: 8, one
 * CTA per SM, the same warps per SM sharing each copy of K and V twice as widely). Shared memory, in
 * bf16 elements: Q ([64][D + PAD]: the wide CTA's row blocks 4..7 read rows 0..63 again), K and V
 * twice (the second pair for EA_FLOOR_AHEAD), the pair exchange's row maxima ([2][16 RB] floats) and
 * P fragments ([row block][k-step][lane] uint4), as in kernel 6. */
template <int RB> struct floor_cta {
    static constexpr int warps = 2 * RB, threads = 64 * RB, per_sm = 8 / RB;
    static constexpr size_t q = 0, k0 = 64 * FLOOR_ROW, v0 = 2 * 64 * FLOOR_ROW, k1 = 3 * 64 * FLOOR_ROW,
                            v1 = 4 * 64 * FLOOR_ROW, xmax = 5 * 64 * FLOOR_ROW, xp = xmax + 2 * 2 * 16 * RB,
                            end = xp + (size_t)RB * (BN / 16) * 32 * 8;
};

/* Tile t's 64 rows of a pool into `tile`, as kernel 6's produce_rows: threads / 64 threads per row,
 * 16 bytes per cp.async, one commit group; HALF: rows 0..31 only. */
template <int THREADS, bool HALF>
__device__ __forceinline__ void copy_tile(uint16_t *tile, const uint16_t *pool, int64_t pool_rows, int64_t t)
{
    constexpr int TPR = THREADS / 64;
    const int part = threadIdx.x % TPR, k = threadIdx.x / TPR;
    if (!HALF || k < 32) {
        const uint16_t *from = pool + (t * 64 + k) % pool_rows * FLOOR_D + part * 8;
#pragma unroll
        for (int c = 0; c < FLOOR_D / 8; c += TPR)
            cp_async16(tile + k * FLOOR_ROW + part * 8 + c * 8, from + c * 8, 16);
    }
    cp_async_commit();
}

template <int PARTS, int RB>
__global__ void __launch_bounds__(floor_cta<RB>::threads, floor_cta<RB>::per_sm)
    tc_floor_kernel(int64_t cta_tiles, float sm_scale, const uint16_t *kv, const uint16_t *k_pool,
                    const uint16_t *v_pool, int64_t pool_rows, float *out)
{
    using C = floor_cta<RB>;
    constexpr bool SOFTMAX = PARTS != EA_FLOOR_PRODUCTS, SYNC = PARTS >= EA_FLOOR_SYNCED, COPY = PARTS >= EA_FLOOR_FED;
    constexpr bool AHEAD = PARTS == EA_FLOOR_AHEAD || PARTS == EA_FLOOR_WIDE_AHEAD, HALF = PARTS == EA_FLOOR_HALF;
    constexpr int D = FLOOR_D, ROW = FLOOR_ROW, THREADS = C::threads;
    extern __shared__ __align__(16) uint16_t smem[];
    uint16_t *const Qs = smem + C::q, *const K0 = smem + C::k0, *const V0 = smem + C::v0, *const K1 = smem + C::k1,
                    *const V1 = smem + C::v1;
    float(*xmax)[16 * RB] = (float(*)[16 * RB])(smem + C::xmax);
    uint4 *xp = (uint4 *)(smem + C::xp);
    /* Q, K and V from the caller's bf16 values (3 x 64 rows of D), read at run time: 16 bytes a
     * load, all of a thread's loads in flight at once (one at a time, the 96 two-byte loads of a
     * first version took 35 us, longer than the small cases' whole floor) */
    constexpr int CHUNKS = 3 * 64 * D / 8, PER_THREAD = CHUNKS / THREADS;
    static_assert(CHUNKS % THREADS == 0, "whole chunks per thread");
    uint4 chunk[PER_THREAD];
#pragma unroll
    for (int c = 0; c < PER_THREAD; c++)
        chunk[c] = ((const uint4 *)kv)[threadIdx.x + c * THREADS];
#pragma unroll
    for (int c = 0; c < PER_THREAD; c++) {
        const int e = (threadIdx.x + c * THREADS) * 8;
        *(uint4 *)(smem + e / D * ROW + e % D) = chunk[c];
    }
    __syncthreads();

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gq = lane / 4, tq = lane % 4;
    const int rb = warp % RB, hf = warp / RB; /* kernel 6's row block and half */
    float o[D / 16][4] = {}, l[4] = {}, m[2] = {-INFINITY, -INFINITY};
    /* CTA-tiles (every warp of the CTA on the same tile, as in kernel 6), strided over the grid.
     * FED, HALF: K(t) is copied during P V(t - 1), V(t) during the scores of t, as in kernel 6;
     * AHEAD: both a whole tile earlier, into the buffers the tile before last used. */
    uint16_t *Ks = K0, *Vs = V0;
    if (COPY && blockIdx.x < cta_tiles)
        copy_tile<THREADS, HALF>(K0, k_pool, pool_rows, blockIdx.x);
    if (AHEAD && blockIdx.x < cta_tiles)
        copy_tile<THREADS, false>(V0, v_pool, pool_rows, blockIdx.x);
    int buf = 0;
    for (int64_t t = blockIdx.x; t < cta_tiles; t += gridDim.x) {
        const bool more = t + gridDim.x < cta_tiles;
        if (AHEAD) { /* as kernel 6's two-buffer schedule: the next tile's copies after the barrier */
            Ks = buf ? K1 : K0, Vs = buf ? V1 : V0;
            cp_async_wait<0>(); /* K(t) and V(t) are here */
            __syncthreads();    /* every warp is done with tile t - 1 and its buffers */
            if (more) {
                copy_tile<THREADS, false>(buf ? K0 : K1, k_pool, pool_rows, t + gridDim.x);
                copy_tile<THREADS, false>(buf ? V0 : V1, v_pool, pool_rows, t + gridDim.x);
            }
            buf ^= 1;
        } else if (COPY) {
            copy_tile<THREADS, HALF>(V0, v_pool, pool_rows, t);
            cp_async_wait<1>(); /* K(t) is here */
        }
        if (SYNC && !AHEAD)
            __syncthreads();
        float s[HALF_KEYS / 8][4];
        compute_qk<D>(s, Qs, Ks, rb % 4, hf, lane);
        if (SOFTMAX) {
#pragma unroll
            for (int n = 0; n < HALF_KEYS / 8; n++)
#pragma unroll
                for (int e = 0; e < 4; e++)
                    s[n][e] = s[n][e] * sm_scale;
            float mx[2] = {half_max<true>(s, 0, 0u, m[0]), half_max<true>(s, 1, 0u, m[1])};
            if (SYNC) /* the tile's row max: the larger of the pair's two halves */
                pair_max(mx, xmax, rb, hf, gq, tq);
            bool exact = false;
            probabilities<true>(s, 0, 0u, mx[0], exact);
            probabilities<true>(s, 1, 0u, mx[1], exact);
            if (__any_sync(0xffffffffu, exact))
                exact_probabilities(s);
            rescale_state(o, l, m, mx, tq);
        }
        /* P as the A operands of the tile's four k-steps: the warp's own two, and the partner's two
         * through shared memory (SYNC) or the own ones again */
        uint4 own[HALF_KEYS / 16];
        pack_p(own, s);
        if (SYNC)
            publish_p(xp, own, rb, hf, lane);
        if (COPY && !AHEAD)
            cp_async_wait<0>(); /* V(t) is here */
        if (SYNC && AHEAD)
            pair_sync(rb); /* the partner's P is in shared memory */
        else if (SYNC)
            __syncthreads();
        if (COPY && !AHEAD && more)
            copy_tile<THREADS, HALF>(K0, k_pool, pool_rows, t + gridDim.x);
        uint4 other[HALF_KEYS / 16];
        if (SYNC)
            partner_p(other, xp, rb, hf, lane);
        else
#pragma unroll
            for (int kl = 0; kl < HALF_KEYS / 16; kl++)
                other[kl] = own[kl];
        uint32_t pf[BN / 16][4];
        tile_p(pf, own, other, hf);
        compute_pv<D>(o, l, pf, Vs, hf, lane);
        if (SYNC && !AHEAD) /* (AHEAD: the barrier at the top of the next tile) */
            __syncthreads();
    }
    if (COPY)
        cp_async_wait<0>();
    float sum = l[0] + l[1] + l[2] + l[3] + m[0] + m[1];
#pragma unroll
    for (int n = 0; n < D / 16; n++)
        sum += o[n][0] + o[n][1] + o[n][2] + o[n][3];
    out[(int64_t)blockIdx.x * blockDim.x + threadIdx.x] = sum; /* every result is used */
}

static size_t floor_bytes(int parts)
{
    return (parts >= EA_FLOOR_WIDE ? floor_cta<8>::end : floor_cta<4>::end) * sizeof(uint16_t);
}

/* ctas: of kernel 6's size (8 warps); the wide versions launch half as many, of twice the size. */
extern "C" cudaError_t ea_launch_tc_floor(int64_t warp_tiles, int parts, int ctas, float sm_scale, const uint16_t *kv,
                                          const uint16_t *k_pool, const uint16_t *v_pool, int64_t pool_rows, float *out,
                                          cudaStream_t s)
{
    if (warp_tiles < 0 || ctas <= 0 || parts < EA_FLOOR_PRODUCTS || parts > EA_FLOOR_WIDE_AHEAD ||
        (parts >= EA_FLOOR_FED && (!k_pool || !v_pool || pool_rows <= 0)))
        return cudaErrorInvalidValue;
    void (*const kernels[])(int64_t, float, const uint16_t *, const uint16_t *, const uint16_t *, int64_t, float *) = {
        tc_floor_kernel<EA_FLOOR_PRODUCTS, 4>, tc_floor_kernel<EA_FLOOR_ALL, 4>,  tc_floor_kernel<EA_FLOOR_SYNCED, 4>,
        tc_floor_kernel<EA_FLOOR_FED, 4>,      tc_floor_kernel<EA_FLOOR_AHEAD, 4>, tc_floor_kernel<EA_FLOOR_HALF, 4>,
        tc_floor_kernel<EA_FLOOR_FED, 8>,      tc_floor_kernel<EA_FLOOR_WIDE_AHEAD, 8>};
    const int wide = parts >= EA_FLOOR_WIDE, warps = wide ? 16 : 8;
    const size_t smem = floor_bytes(parts);
    const cudaError_t e = cudaFuncSetAttribute(kernels[parts], cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess)
        return e;
    const int64_t cta_tiles = (warp_tiles + warps - 1) / warps;
    kernels[parts]<<<wide ? (ctas + 1) / 2 : ctas, warps * 32, smem, s>>>(cta_tiles, sm_scale, kv, k_pool, v_pool,
                                                                         pool_rows, out);
    return cudaGetLastError();
}
