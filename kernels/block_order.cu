/* The plan's block schedule for kernel 6: every (request, block) pair of the batch, the longest
 * first ("longest processing time first", a classic rule of list scheduling).
 *
 * Kernel 6 gives each 64-pair block of a request a CTA, and the hardware starts CTAs in grid order
 * (in practice; CUDA does not promise it). With the block index slowest, every request's longest
 * block starts before its shorter ones, but across requests the grid order knows nothing of
 * lengths: in a batch whose cached prefixes differ, a request with a long prefix still has long
 * blocks left when the others are done, and the last wave runs on a few SMs while the rest idle.
 * Listing all blocks by the number of key tiles they walk, longest first, lets the CTAs that start
 * last be the short ones (measured on an H200: kernels/README.md, "6: the longest blocks of the
 * batch first").
 *
 * No bit depends on this list: which CTA computes a block, and when, is not part of the order of
 * DESIGN.md section 6.2. The list may therefore be built by a fast, approximate rule, and blocks of
 * the same length come in whatever order the atomics hand out places.
 *
 * One CTA: a histogram of the blocks by tile count, its scan from the longest count down, and a
 * second pass that writes each block at its count's next place (5.2 us on an H200 for the seed
 * shape's 512 blocks; 5.9 with a first version of the scan, twenty barriers instead of two). order[0] = n blocks, then n pairs
 * (request, block counted from the end of the request, as kernel 6 counts them). The host sizes the
 * list from the batch's token count; the kernel reads the lengths from device memory, and writes no
 * place past `capacity` whatever they say (a list cut short leaves blocks uncomputed, never memory
 * overwritten). */
#include "ea_kernels.h"

#define ORDER_THREADS 1024
#define ORDER_LEVELS 2048 /* tile counts kept apart; longer blocks share the last level */

/* How many key tiles of EA_TILE keys block x of a request walks (an estimate: with a custom mask,
 * every tile up to the last key is counted, whether the kernel skips some or not). */
__device__ static int32_t block_tiles(int32_t P, int32_t E, int32_t G, int32_t x, int32_t causal,
                                      int32_t window, bool masked)
{
    const int32_t pairs = E * G, blocks = (pairs + EA_TC_BLOCK_PAIRS - 1) / EA_TC_BLOCK_PAIRS;
    const int32_t blk0 = (blocks - 1 - x) * EA_TC_BLOCK_PAIRS;
    const int32_t r_lo = blk0 / G, r_hi = (min(blk0 + EA_TC_BLOCK_PAIRS, pairs) - 1) / G;
    const int32_t k_lo = window >= 0 ? max(0, P + r_lo - window) : 0;
    const int32_t k_hi = (masked || !causal) ? P + E - 1 : P + r_hi;
    return k_hi / EA_TILE - k_lo / EA_TILE + 1;
}

/* Each warp takes requests in turn, its lanes the request's blocks. pass 0 counts, pass 1 places. */
__device__ static void each_block(const int32_t *qo_indptr, const int32_t *prefix_lens, int32_t bs, int32_t G,
                                  int32_t causal, int32_t window, bool masked, int pass, int *level_count,
                                  int32_t *order, int64_t capacity)
{
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int32_t i = warp; i < bs; i += ORDER_THREADS / 32) {
        const int32_t E = qo_indptr[i + 1] - qo_indptr[i], P = prefix_lens[i];
        const int32_t blocks = (E * G + EA_TC_BLOCK_PAIRS - 1) / EA_TC_BLOCK_PAIRS;
        for (int32_t x = lane; x < blocks; x += 32) {
            const int level = min(block_tiles(P, E, G, x, causal, window, masked), ORDER_LEVELS - 1);
            if (pass == 0) {
                atomicAdd(&level_count[level], 1);
            } else {
                const int at = atomicAdd(&level_count[level], 1); /* the level's next free place */
                if (at < capacity) {
                    order[1 + 2 * (int64_t)at] = i;
                    order[2 + 2 * (int64_t)at] = x;
                }
            }
        }
    }
}

__global__ void __launch_bounds__(ORDER_THREADS) block_order_kernel(const int32_t *qo_indptr,
                                                                    const int32_t *prefix_lens, int32_t bs,
                                                                    int32_t G, int32_t causal, int32_t window,
                                                                    int32_t masked, int32_t *order,
                                                                    int64_t capacity)
{
    __shared__ int level_count[ORDER_LEVELS];
    __shared__ int warp_total[ORDER_THREADS / 32];
    constexpr int PER = ORDER_LEVELS / ORDER_THREADS; /* levels per thread in the scan */
    static_assert(ORDER_THREADS == 32 * 32 && ORDER_LEVELS % ORDER_THREADS == 0, "the scan's shape");
    for (int l = threadIdx.x; l < ORDER_LEVELS; l += ORDER_THREADS)
        level_count[l] = 0;
    __syncthreads();
    each_block(qo_indptr, prefix_lens, bs, G, causal, window, masked != 0, 0, level_count, order, capacity);
    __syncthreads();

    /* Where each level starts in the list, longest first: thread t owns the PER levels
     * ORDER_LEVELS - 1 - PER t downwards, and the places taken by longer levels are the sum of the
     * threads' counts before it: a scan across each warp by shuffles, then across the warps'
     * totals (two barriers; integer sums, so any order gives the same places). */
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int mine[PER], total = 0;
#pragma unroll
    for (int k = 0; k < PER; k++) {
        mine[k] = level_count[ORDER_LEVELS - 1 - PER * threadIdx.x - k];
        total += mine[k];
    }
    int inclusive = total;
    for (int off = 1; off < 32; off *= 2) {
        const int y = __shfl_up_sync(0xffffffffu, inclusive, off);
        if (lane >= off)
            inclusive += y;
    }
    if (lane == 31)
        warp_total[warp] = inclusive;
    __syncthreads();
    if (warp == 0) { /* the warps' totals, scanned by the first warp (ORDER_THREADS / 32 = 32 of them) */
        int w = warp_total[lane];
        for (int off = 1; off < 32; off *= 2) {
            const int y = __shfl_up_sync(0xffffffffu, w, off);
            if (lane >= off)
                w += y;
        }
        warp_total[lane] = w; /* inclusive */
    }
    __syncthreads();
    int start = inclusive - total + (warp > 0 ? warp_total[warp - 1] : 0); /* exclusive */
#pragma unroll
    for (int k = 0; k < PER; k++) {
        level_count[ORDER_LEVELS - 1 - PER * threadIdx.x - k] = start; /* now: the level's next place */
        start += mine[k];
    }
    if (threadIdx.x == ORDER_THREADS - 1)
        order[0] = start < capacity ? start : (int32_t)capacity; /* every block counted (that fits) */
    __syncthreads();
    each_block(qo_indptr, prefix_lens, bs, G, causal, window, masked != 0, 1, level_count, order, capacity);
}

extern "C" cudaError_t ea_launch_block_order(const int32_t *qo_indptr, const int32_t *prefix_lens, int32_t bs,
                                             int32_t G, int32_t causal, int32_t window, int32_t masked,
                                             int32_t *order, int64_t capacity, cudaStream_t s)
{
    block_order_kernel<<<1, ORDER_THREADS, 0, s>>>(qo_indptr, prefix_lens, bs, G, causal, window, masked, order,
                                                   capacity);
    return cudaGetLastError();
}
