/* Kernel 6, tensor cores: DESIGN.md section 6.2's order on mma.sync, bit for bit
 * equal to ea_reference_tc() because every product-sum is one of the instructions that
 * include/ea_mma.h models, and everything else is exactly rounded IEEE fp32.
 *
 * Adds, over kernel 5: the tensor cores. Scores and P V become bf16 mma.sync instructions, whose
 * product-sums are not IEEE (DESIGN.md section 6.1), so this kernel has an order of its own and
 * a CPU reference of its own; loads go through cp.async and ldmatrix, behind the compute.
 * Measured (H200, seed shape, kernels/README.md): see the table there.
 *
 * One launch for the whole batch: block (x, i, g) owns 64 consecutive (query row, query head)
 * pairs of request i whose heads share KV head g (pair = r*G + hh), x counted from the end of the
 * request (x = 0: its last 64 pairs, which under a causal mask see the most keys; CTAs past the
 * request's blocks return at once): GQA loads K and V once for the whole group. The plan lists the
 * batch's blocks longest first (kernels/block_order.cu), and CTA f of the grid takes the f-th;
 * without that list, x is the slowest index of the grid, so every request's longest block starts
 * first (ea_attention_tc_kernel). A CTA has 4 row blocks of 16 pairs (the m16 of the mma), each
 * shared by W = 2 warps (rb, hf): warp hf computes the scores of keys 32hf..32hf+31 of the tile
 * and the value columns [hf Dv/2, (hf+1) Dv/2) of O; 8 warps.
 * Splitting the work of one row block between two warps halves each warp's dependent chains
 * and registers, so twice as many warps hide each other's latency; the order is unchanged,
 * since every product-sum still covers the same keys in the same order. A batch with fewer such
 * blocks than the card has SMs, where each CTA walks its tiles alone on an SM, takes that further
 * (tc_cta; f32 batches only where two buffers of K and V fit, launch()): each block is two CTAs of
 * 2 row blocks (RB = 2; the two are neighbours in the grid), which compute the same tiles in the
 * same order over twice the SMs, and each row block has W = 4 warps, each with a quarter of the
 * keys (16hf..16hf+15) and of the value columns.
 * For each key tile of 64 unified keys that some pair sees:
 *   produce:     the tile's K and V rows are gathered from the paged pool through the unified
 *                indices into shared memory with cp.async, the next tile's during the whole of this
 *                one (two buffers each, STAGES = 2: bf16 inputs, and f32 ones where few CTAs
 *                run), or each behind the other's compute (one buffer each, STAGES = 1: V(j) behind
 *                Q K(j)^T and the softmax, K(j+1) behind P V(j)); pool slots are read a tile
 *                before their copies start;
 *   compute_qk:  S = Q K^T over the warp's 32 keys, 4 n-tiles of 8, a chain of mma steps over d
 *                (16 at a time), from +0, with Q's and K's fragments from shared memory by ldmatrix
 *                (Q's loaded once per block into registers where four warps walk: tc_q);
 *   logits_mask: scale, logit cap, visibility;
 *   update_state: the running max (exact, any order: each warp's part, then the largest of the
 *                two through shared memory), rescale O and l when it grows;
 *   compute_pv:  P = e^(S - m) rounded to bf16 becomes the A operand directly (the C layout of
 *                two n-tiles is the A layout of one k-step); each warp publishes its two k-steps
 *                of P in shared memory and reads the other warp's two, then (O, l) += P [V | 1] over the
 *                4 k-steps in increasing order: V by ldmatrix.trans, l as the output of a constant
 *                "ones" B operand, so the row sum is an mma chain too and needs no order of its
 *                own (both warps of a pair compute the same l).
 * Epilogue: o = O / (l + e^(sink - m)) in the output dtype.
 *
 * compute_qk, half_max, probabilities, rescale_state and compute_pv, one warp's arithmetic on a
 * tile, are in tc_tile.cuh, which kernel 6's floor (kernels/tc_floor.cu) runs alone; this file
 * adds everything around them: the loads, the exchanges, the masks, the epilogue, the grid.
 *
 * Built with -fmad=false (no contraction of the scale, cap or rescale). Tiles no pair of the
 * block sees are skipped, exactly as the contract says; all others are computed the same way for
 * every pair, partly masked or not. */
#include "ea_kernels.h"
#include "ea_math.h"
#include "ea_rules.h"
#include "tc_tile.cuh"

#include <stdint.h>

#define BLOCK_PAIRS EA_TC_BLOCK_PAIRS /* the contract's block: which tiles are computed */
/* A CTA owns RB m16 row blocks of one contract block: RB = 4, all of it, or RB = 2, half of it
 * (the block split over two CTAs that compute the same tiles), and each row block has W warps (2
 * or 4, each with 1 / W of the tile's keys and of O's columns), so a CTA has W RB warps. Where a
 * batch has few contract blocks (few requests, few new tokens), half blocks spread the same work
 * over twice the SMs, and four warps to a row block shorten each warp's instructions per tile; the
 * bits cannot change, since which tiles a pair's chain covers depends only on its contract block
 * (B.r_lo, B.r_hi), and every chain covers the same keys in the same order whoever computes it.
 * RB = 1 (a quarter) would work as well, but measured slower (kernels/README.md). */
template <int RB, int W = 2> struct tc_cta {
    static_assert(W == 2 || W == 4, "two or four warps to a row block");
    static constexpr int warps = W * RB, threads = 32 * W * RB, pairs = 16 * RB;
    static constexpr int tpr = threads / BN; /* threads that gather one row of K or V */
    static constexpr int tpr_q = threads / pairs; /* threads that gather one row of Q: 2 W */
    static_assert(BLOCK_PAIRS % pairs == 0 && threads % BN == 0, "a contract block is whole CTAs");
};
static_assert(BLOCK_PAIRS == 4 * 16, "a contract block is 4 m16 row blocks");
static_assert(BN == 64, "the tile loop is written for 64 keys: 4 k-steps of 16, a warp's 2 or 1 of them");

__device__ __forceinline__ uint16_t to_bf16(const void *t, int bf16, int64_t i)
{
    return bf16 ? ((const uint16_t *)t)[i] : ea_f32_to_bf16(((const float *)t)[i]);
}

/* ---- the block's view of its request ---- */

struct tc_block {
    int32_t i, g, G, P, T;     /* request, KV head, heads per KV head, cached keys, all keys */
    int32_t pair0, pairs;      /* first pair of the CTA, pairs of the request (E * G) */
    int32_t r_lo, r_hi;        /* the token rows of the contract block: they decide the tiles */
    int64_t kv_base;           /* offset of the request's keys in unified_kv_indices */
    const uint8_t *mask;       /* request's mask (T columns per row) or NULL */
};

/* A pair's token row and query head in the group (pair = r * G + hh, never negative: unsigned
 * division is the shorter instruction sequence). */
__device__ __forceinline__ int32_t pair_row(const tc_block &B, int32_t pair)
{
    return (int32_t)((uint32_t)pair / (uint32_t)B.G);
}
__device__ __forceinline__ int32_t pair_head(const tc_block &B, int32_t pair)
{
    return (int32_t)((uint32_t)pair % (uint32_t)B.G);
}

/* Is key u visible to token row r? (DESIGN.md section 1) */
__device__ __forceinline__ bool visible(const ea_attn_args &a, const tc_block &B, int32_t r, int32_t u)
{
    if (u >= B.T)
        return false;
    return ea_visible_rule(a.causal, a.sliding_window, B.mask ? B.mask + (int64_t)r * B.T : nullptr, B.P + r, u);
}

/* The first tile from `from` on that some pair of the contract block sees, or -1 (uniform across
 * the CTA: every thread must call it). */
template <class C>
__device__ int32_t first_seen_tile(const ea_attn_args &a, const tc_block &B, int32_t from, int32_t j_last)
{
    for (int32_t j = from; j <= j_last; j++) {
        if (!B.mask)
            return j; /* without a mask every tile of [j_first, j_last] is seen (contiguous union) */
        int any = 0;
        const int32_t rows = B.r_hi - B.r_lo + 1;
        for (int32_t e = threadIdx.x; e < rows * BN && !any; e += C::threads)
            any = visible(a, B, B.r_lo + e / BN, j * BN + e % BN);
        if (__syncthreads_or(any))
            return j;
    }
    return -1;
}

/* The pool slot of key threadIdx.x / tpr of tile j (tpr threads gather one key), or -1 past
 * the last key. Loaded well before it is needed, so its latency hides behind compute. */
template <class C>
__device__ __forceinline__ int64_t tile_slot(const ea_attn_args &a, const tc_block &B, int32_t j)
{
    const int32_t u = j * BN + (int32_t)threadIdx.x / C::tpr;
    return j >= 0 && u < B.T ? a.unified_kv_indices[B.kv_base + u] : -1;
}

/* ---- produce: rows of Q, K or V into a shared-memory tile ([rows][D + PAD] bf16) ----
 * Threads TPR k .. TPR k + TPR-1 copy row k (its index given: a pool slot's row of K or V, or a
 * query's row of q), taking turns over its 16-byte chunks, with zeros past `dim` and for row -1. Three paths:
 *   TC_BF16      bf16 rows of whole chunks: cp.async straight into the tile;
 *   TC_F32       f32 rows of whole chunks: cp.async into the thread's staging row ([64][SD] f32),
 *                and land_rows() rounds them to bf16 (RNE) into the tile once they are there. The
 *                copy stays asynchronous, and each thread lands exactly the chunks it copied (the
 *                same chunks of the same staging row for K and V), so it only waits for its own
 *                copies: no barrier between copy and landing, none between landing and the next copy
 *                (Q's rows are shared out differently when RB < 4: a barrier follows its landing);
 *   TC_ELEMENTS  anything else (head dims not a multiple of 8 or 4): element loads, rounded, written
 *                straight into the tile. */
enum tc_path { TC_BF16, TC_F32, TC_ELEMENTS };

template <int D, int SD, int TPR>
__device__ __forceinline__ void produce_rows(const ea_attn_args &a, tc_path path, const void *src, int dim,
                                             int64_t row, uint16_t *tile, float *stage)
{
    static_assert(D / 8 % TPR == 0, "the TPR threads of a row copy the same number of chunks");
    const int part = threadIdx.x % TPR, k = threadIdx.x / TPR;
    const int64_t base = row >= 0 ? row * dim : 0;
    uint16_t *dst = tile + k * (D + PAD);
    if (path == TC_BF16 && dim == D) { /* whole rows (the common case): one test per row, not per chunk */
        const uint16_t *from = (const uint16_t *)src + base + part * 8;
        const int bytes = row >= 0 ? 16 : 0;
#pragma unroll
        for (int c = 0; c < D / 8; c += TPR)
            cp_async16(dst + part * 8 + c * 8, from + c * 8, bytes);
    } else if (path == TC_BF16) {
        const uint16_t *from = (const uint16_t *)src + base;
#pragma unroll
        for (int c = part; c < D / 8; c += TPR)
            cp_async16(dst + c * 8, from + (c * 8 < dim ? c * 8 : 0), row >= 0 && c * 8 < dim ? 16 : 0);
    } else if (path == TC_F32) {
        const float *from = (const float *)src + base;
#pragma unroll
        for (int c = part; c < D / 4; c += TPR)
            cp_async16(stage + k * SD + c * 4, from + (c * 4 < dim ? c * 4 : 0), row >= 0 && c * 4 < dim ? 16 : 0);
    } else {
#pragma unroll 8
        for (int d = part; d < D; d += TPR)
            dst[d] = row >= 0 && d < dim ? to_bf16(src, a.bf16, base + d) : 0;
    }
    cp_async_commit(); /* an empty group when nothing was issued */
}

/* Once the thread's copies completed (the caller waits): the TC_F32 path rounds its staged chunks
 * into the tile. The next copy into the same staging chunks is issued by the same thread after
 * these loads, in program order (the "memory" clobbers keep the compiler from moving either), and
 * their values are consumed by the stores below first: no barrier is needed between the two. (So
 * for K and V, whose chunks go to the same threads whatever Dqk and Dv; Q's, shared out
 * differently when RB = 2, are followed by a barrier.)
 * The rounding is the hardware's cvt.rn.bf16x2 (two floats in one instruction): round to nearest
 * even, as ea_f32_to_bf16(), except that a NaN becomes the canonical bf16 NaN rather than keeping
 * its payload; a NaN input makes every result it reaches a NaN either way, and the checks count
 * any two NaNs as equal (DESIGN.md section 2). */
template <int D, int SD, int TPR>
__device__ __forceinline__ void land_rows(tc_path path, uint16_t *tile, const float *stage)
{
    if (path != TC_F32)
        return;
    const int part = threadIdx.x % TPR, k = threadIdx.x / TPR;
#pragma unroll
    for (int c = part; c < D / 4; c += TPR) {
        const float4 x = *(const float4 *)(stage + k * SD + c * 4);
        const uint2 y = {pack_bf16(x.x, x.y), pack_bf16(x.z, x.w)};
        *(uint2 *)(tile + k * (D + PAD) + c * 4) = y;
    }
}

/* The row of K or V (seen as [pool * Hkv, D]) that a key's slot holds for this block's KV head. */
__device__ __forceinline__ int64_t kv_row(const tc_block &B, const ea_attn_args &a, int64_t slot)
{
    return slot >= 0 ? slot * a.hkv + B.g : -1;
}

/* Blocks per SM the registers must allow: 2 blocks of 8 warps (128 registers; with RB = 2, 4 CTAs
 * of 4 warps, the same registers) for head dims up to 128, where a thread holds its part of half of
 * O (32 registers for Dv 128) and 16 scores (32 keys of 16 rows per warp); larger accumulators need
 * the registers of 1. Measured on an H200 (medians, one run), against the earlier layout of
 * 4 warps that each computed all 64 keys and all of O for 16 pairs (3 blocks of 168 registers):
 * seed shape 159 us against 166, long_prefix 173 against 198, gqa8_d128 16.5 against 27.4. That
 * layout with 2 blocks (176 registers) was slower still (188 us on the seed shape), and with 4
 * (128 registers, spilled) 179 against 168. */
constexpr int tc_min_blocks(int dqk, int dv)
{
    return dqk + dv <= 256 ? 2 : 1;
}
/* CTAs per SM that __launch_bounds__ sizes the registers for: the same registers per SM whatever
 * RB (4 / RB CTAs of RB row blocks) and W (warps to a row block: 2 / W CTAs of W / 2 the warps), at
 * least one. */
constexpr int tc_ctas_per_sm(int dqk, int dv, int rb, int w)
{
    const int ctas = tc_min_blocks(dqk, dv) * 4 / rb * 2 / w;
    return ctas > 0 ? ctas : 1;
}

/* ---- epilogue: o = O / den with den = l + e^(sink - m), in the output dtype ----
 * Zeros for a row that sees no key (its O may hold 0 * inf from V). Each thread finishes its own
 * accumulators: its rows' l is in its registers (every column of the "ones" n-tile holds it), so it
 * divides, rounds to the output dtype and stores its column pairs (2tq, 2tq + 1 of each n-tile)
 * straight from the registers: the four threads of a quad write 16 neighbouring bytes of a row
 * (bf16), and the eight quads eight rows, which are neighbours in o when they are heads of one
 * token. Per output element: one division (three instructions, divide()), one rounding, half a
 * store; each row's offset in o is computed once. (An earlier version parked the rows in shared
 * memory first, for whole-row stores: about 300 more instructions per warp, ncu on the seed shape.) */
template <int NT>
__device__ __forceinline__ void write_rows(const ea_attn_args &a, const tc_block &B, float (&o)[NT][4],
                                           const float (&l)[4], const float (&m)[2], int32_t pair_base, int col0)
{
    const int lane = threadIdx.x % 32, gq = lane / 4, tq = lane % 4;
    cp_async_wait<0>(); /* nothing may still be landing in shared memory when the CTA ends */
    float den[2];
    bool empty[2];
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int32_t pair = pair_base + gq + 8 * h;
        empty[h] = m[h] == -INFINITY;
        den[h] = l[2 * h];
        if (!empty[h] && a.sinks && pair < B.pairs)
            den[h] = den[h] + ea_expf(a.sinks[B.g * B.G + pair_head(B, pair)] - m[h]);
    }
    /* O / den in place, by divide() where the whole warp's operands are moderate (all but rare
     * rows), by the operator elsewhere: the same bits either way. Rows that see no key give 0. */
    bool fast = (empty[0] || moderate(den[0])) && (empty[1] || moderate(den[1]));
#pragma unroll
    for (int n = 0; n < NT; n++)
#pragma unroll
        for (int e = 0; e < 4; e++)
            fast = fast && (empty[e / 2] || moderate(o[n][e]));
    if (__all_sync(0xffffffffu, fast)) {
        const float r0 = reciprocal(den[0]), r1 = reciprocal(den[1]);
#pragma unroll
        for (int n = 0; n < NT; n++) {
            o[n][0] = divide(o[n][0], den[0], r0), o[n][1] = divide(o[n][1], den[0], r0);
            o[n][2] = divide(o[n][2], den[1], r1), o[n][3] = divide(o[n][3], den[1], r1);
        }
    } else {
#pragma unroll
        for (int n = 0; n < NT; n++)
#pragma unroll
            for (int e = 0; e < 4; e++)
                o[n][e] = o[n][e] / den[e / 2];
    }
    const bool paired = a.dv % 2 == 0; /* column pairs as one 4-byte (bf16) or 8-byte (f32) store */
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int32_t pair = pair_base + gq + 8 * h;
        if (pair >= B.pairs)
            continue;
        const int64_t row = ((int64_t)(a.qo_indptr[B.i] + pair_row(B, pair)) * a.hq + B.g * B.G + pair_head(B, pair)) * a.dv;
#pragma unroll
        for (int n = 0; n < NT; n++) {
            const int d = col0 + 8 * n + 2 * tq; /* this thread's column pair */
            if (d >= a.dv) /* padding columns: nothing to write */
                break;
            const float x0 = empty[h] ? 0.f : o[n][2 * h], x1 = empty[h] ? 0.f : o[n][2 * h + 1];
            if (a.bf16) { /* cvt.rn.bf16x2: a NaN loses its payload, as in land_rows() */
                const uint32_t w = pack_bf16(x0, x1);
                uint16_t *out = (uint16_t *)a.o + row + d;
                if (paired)
                    *(uint32_t *)out = w;
                else {
                    out[0] = (uint16_t)w;
                    if (d + 1 < a.dv)
                        out[1] = (uint16_t)(w >> 16);
                }
            } else {
                float *out = (float *)a.o + row + d;
                if (paired)
                    *(float2 *)out = make_float2(x0, x1);
                else {
                    out[0] = x0;
                    if (d + 1 < a.dv)
                        out[1] = x1;
                }
            }
        }
    }
}

/* Shared memory: Q, then STAGES buffers each of K and V tiles of bf16, the row maxes and P
 * exchanged between the warps of a pair, then (TC_F32 only) the staging rows of f32: one set that K
 * and V take turns in (STAGES = 1), or one for each (STAGES = 2, both in flight at once). */
template <int DQK, int DV, int RB, int STAGES, int W = 2>
struct tc_smem {
    using C = tc_cta<RB, W>;
    static_assert(STAGES == 1 || STAGES == 2, "one or two buffers of K and V");
    /* staging row: fits a row of Q, K or V, plus 4 tpr floats: the 8 threads of a 16-byte phase
     * are 8 / tpr rows x tpr parts (16 tpr contiguous bytes each), and rows 16 tpr bytes apart
     * modulo 128 put them on different banks (RB = 4: 2 rows of 64 bytes, 16 floats of padding;
     * RB = 2: 4 rows of 32 bytes, 8). With 8 floats for RB = 4 two rows overlapped (a 2-way
     * conflict, on the critical path of the landing): measured on an H200, long_prefix 168 us
     * against 154 with 16. */
    static constexpr int SD = (DQK > DV ? DQK : DV) + 4 * C::tpr;
    static constexpr size_t k_tile = (size_t)BN * (DQK + PAD), v_tile = (size_t)BN * (DV + PAD); /* bf16 elements */
    static constexpr size_t q = 0, k = q + (size_t)C::pairs * (DQK + PAD), v = k + STAGES * k_tile,
                            xmax = v + STAGES * v_tile,   /* W x C::pairs floats */
                            xp = xmax + 2 * W * C::pairs, /* [row block][k-step of the tile][lane] uint4 */
                            end = xp + (size_t)RB * (BN / 16) * 32 * 8; /* in bf16 elements */
    static constexpr size_t stage_floats = (size_t)BN * SD;
    static size_t bytes(bool staged) { return end * 2 + (staged ? STAGES * stage_floats * 4 : 0); }
};

/* One warp's row state across the tiles: which keys its two rows (gq, gq + 8) see without a mask,
 * the interval [vlo, vhi] (empty for a pair past the last), and their rows of the custom mask. */
struct tc_rows {
    int32_t vlo[2], vhi[2];
    const uint8_t *mrow[2];
};

/* Q's fragments kept in registers across the tiles where four warps share a row block in CTAs of
 * two row blocks (the launch's geometry for few blocks): their registers allow it (a quarter of O
 * each: 127 registers for d 128, 96 without), and each warp's chain through a tile is the walk's
 * time (measured: kernels/README.md, "6: Q in registers where four warps walk"). Elsewhere the
 * warps read them from shared memory every tile (regs = 1: an array the compiler drops). */
template <int DQK, int RB, int W> struct tc_q {
    static constexpr bool in_registers = W == 4 && RB == 2;
    static constexpr int regs = in_registers ? DQK / 16 : 1;
};

/* Tile j up to P: S = Q K(j)^T over the warp's 32 keys, the logits and masks, the row max of the
 * whole tile (the two warps of the pair exchange theirs through xmax), P = e^(S - m) and the
 * rescale of O and l; own = P of the warp's part of the keys, rounded to bf16, as k-steps (two, or one
 * with W = 4). Ks: tile j's K; Q's fragments from qf where they stay in registers (tc_q), else from Qs. */
template <int DQK, int DV, int RB, int W>
__device__ __forceinline__ void softmax_tile(const ea_attn_args &a, const tc_block &B, const tc_rows &R, int32_t j,
                                             const uint16_t *Qs, const uint32_t (&qf)[tc_q<DQK, RB, W>::regs][4],
                                             const uint16_t *Ks, float (*xmax)[tc_cta<RB, W>::pairs],
                                             float (&o)[DV / 8 / W][4], float (&l)[4], float (&m)[2],
                                             uint4 (&own)[BN / W / 16])
{
    constexpr int KW = BN / W; /* the warp's keys of the tile */
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gq = lane / 4, tq = lane % 4;
    const int rb = warp % RB, hf = warp / RB; /* row block, part (a half with W = 2) */
    /* compute_qk over the warp's part of the tile: s[n] holds keys KW*hf + 8n + 2tq, +1
     * of rows gq (s[n][0..1]) and gq+8 (s[n][2..3]). */
    float s[KW / 8][4];
    if constexpr (tc_q<DQK, RB, W>::in_registers)
        compute_qk<DQK>(s, qf, Ks, hf, lane);
    else
        compute_qk<DQK>(s, Qs, Ks, rb, hf, lane);

    /* logits_mask: scale and cap every score (the uniform branches outside the loops, so each
     * loop is straight-line code the warp schedulers can interleave) */
    if (a.logit_cap > 0.f) {
#pragma unroll
        for (int n = 0; n < KW / 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++)
                s[n][e] = a.logit_cap * ea_tanhf(s[n][e] * a.sm_scale / a.logit_cap);
    } else {
#pragma unroll
        for (int n = 0; n < KW / 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++)
                s[n][e] = s[n][e] * a.sm_scale;
    }

    /* update_state. Most parts are seen whole by all the warp's rows: no per-key test. Else
     * bit 2n+c of seen[h] says whether row h (gq, gq+8) sees key 8n + 2tq + c of the part (a
     * seen score may be -inf too, so the bit is kept apart from the score). The row max of
     * the tile is the max of the W parts', exchanged through shared memory. */
    const int32_t k0 = j * BN + KW * hf; /* the warp's first key */
    const bool whole = R.vlo[0] <= k0 && R.vhi[0] >= k0 + KW - 1 && R.vlo[1] <= k0 && R.vhi[1] >= k0 + KW - 1;
    const bool all = __all_sync(0xffffffffu, whole) && !B.mask;
    uint32_t seen[2] = {0u, 0u};
    float mx[2];
    if (all) {
        mx[0] = half_max<true>(s, 0, 0u, m[0]);
        mx[1] = half_max<true>(s, 1, 0u, m[1]);
    } else {
        const int32_t kbase = k0 + 2 * tq;
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int32_t lo = R.vlo[h] - kbase, hi = R.vhi[h] - kbase;
#pragma unroll
            for (int n = 0; n < KW / 8; n++)
#pragma unroll
                for (int c = 0; c < 2; c++)
                    seen[h] |= (uint32_t)(n * 8 + c >= lo && n * 8 + c <= hi) << (2 * n + c);
        }
        if (B.mask) { /* the custom mask, read only inside the interval (which ends at the last key) */
#pragma unroll
            for (int h = 0; h < 2; h++)
#pragma unroll
                for (int n = 0; n < KW / 8; n++)
#pragma unroll
                    for (int c = 0; c < 2; c++)
                        if ((seen[h] >> (2 * n + c) & 1u) && R.mrow[h][kbase + n * 8 + c] == 0)
                            seen[h] &= ~(1u << (2 * n + c));
        }
        mx[0] = half_max<false>(s, 0, seen[0], m[0]);
        mx[1] = half_max<false>(s, 1, seen[1], m[1]);
    }
    pair_max<W>(mx, xmax, rb, hf, gq, tq);
    bool exact = false;
    if (all) {
        probabilities<true>(s, 0, 0u, mx[0], exact);
        probabilities<true>(s, 1, 0u, mx[1], exact);
    } else {
        probabilities<false>(s, 0, seen[0], mx[0], exact);
        probabilities<false>(s, 1, seen[1], mx[1], exact);
    }
    if (__any_sync(0xffffffffu, exact)) /* rare: near a bf16 midpoint, or far below */
        exact_probabilities(s);
    /* rescale_state: O and l by e^(m_old - m_new) where some row's max grew; m = the new max */
    rescale_state(o, l, m, mx, tq);

    pack_p(own, s);
}

/* Tile j from P on: (O, l) += P [V(j) | 1] over the tile's 64 keys for the warp's part of the value
 * columns, P in k-step order: the warp's own part from its registers, the others from shared
 * memory (xp, where the other warps published them; with W = 2, reading both back would save the
 * selects, but measured slower: kernels/README.md, "6: the tile loop's two shortcuts"). Vs: tile
 * j's V. */
template <int DV, int RB, int W>
__device__ __forceinline__ void accumulate_tile(const uint4 *xp, const uint4 (&own)[BN / W / 16], const uint16_t *Vs,
                                                float (&o)[DV / 8 / W][4], float (&l)[4])
{
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int rb = warp % RB, hf = warp / RB;
    uint32_t pf[BN / 16][4];
    if constexpr (W == 2) {
        uint4 other[HALF_KEYS / 16];
        partner_p(other, xp, rb, hf, lane);
        tile_p(pf, own, other, hf);
    } else {
        quarter_p(pf, own, xp, rb, hf, lane);
    }
    /* compute_pv for the warp's part of the value columns (every warp of the row block computes the same l) */
    compute_pv<DV>(o, l, pf, Vs, hf, lane);
}

/* Part `part` (of 4 / RB) of contract block x of request i and KV head g, x counted from the end
 * of the request; nothing where the request has no such block or part. STAGES: buffers of K and V
 * (the two schedules below). */
template <int DQK, int DV, int RB, int STAGES, int W>
__device__ __forceinline__ void compute_block(const ea_attn_args &a, int32_t i, int32_t g, int32_t x, int32_t part)
{
    using C = tc_cta<RB, W>;
    using L = tc_smem<DQK, DV, RB, STAGES, W>;
    constexpr int SD = L::SD, TPR = C::tpr;
    extern __shared__ __align__(16) uint16_t smem[];
    uint16_t *Qs = smem + L::q, *Ks = smem + L::k, *Vs = smem + L::v;
    float(*xmax)[C::pairs] = (float(*)[C::pairs])(smem + L::xmax); /* [part][pair of the CTA]: row max */
    uint4 *xp = (uint4 *)(smem + L::xp); /* P fragments: [row block][k-step of the tile][lane] */
    float *stage = (float *)(smem + L::end);            /* K's staging rows (and Q's, and V's with STAGES = 1) */
    float *stage_v = STAGES == 2 ? stage + L::stage_floats : stage;

    tc_block B;
    B.i = i;
    B.g = g;
    B.G = a.hq / a.hkv;
    const int32_t E = a.qo_indptr[i + 1] - a.qo_indptr[i];
    B.pairs = E * B.G;
    const int32_t blocks = (B.pairs + BLOCK_PAIRS - 1) / BLOCK_PAIRS; /* of this request */
    const int32_t blk0 = (blocks - 1 - x) * BLOCK_PAIRS;               /* the contract block's first pair */
    B.pair0 = blk0 + part * C::pairs;
    if (x >= blocks || B.pair0 >= B.pairs)
        return;
    B.P = a.prefix_lens[B.i];
    B.T = B.P + E;
    B.kv_base = a.unified_kv_indptr[B.i];
    B.mask = a.custom_mask ? a.custom_mask + a.mask_indptr[B.i] : nullptr;
    B.r_lo = pair_row(B, blk0);
    B.r_hi = pair_row(B, min(blk0 + BLOCK_PAIRS, B.pairs) - 1);

    /* The warp's row block and the lane's quad. (The tile loop takes the rest of the lane's place
     * from threadIdx where it uses it: kept in registers across the loop, they changed the
     * compiled code.) */
    const int rb = threadIdx.x / 32 % RB, gq = threadIdx.x % 32 / 4;
    const tc_path path = a.bf16 ? (a.dqk % 8 == 0 && a.dv % 8 == 0 ? TC_BF16 : TC_ELEMENTS)
                                : (a.dqk % 4 == 0 && a.dv % 4 == 0 ? TC_F32 : TC_ELEMENTS);

    /* Q of the CTA's pairs (q seen as [N * Hq, Dqk]), zeros past the last pair; landed before
     * K's copy can reuse the staging rows (where Q's rows are shared out among the threads
     * differently from K's, after a barrier). */
    {
        const int pair = B.pair0 + threadIdx.x / C::tpr_q;
        const int64_t qrow =
            pair < B.pairs ? (int64_t)(a.qo_indptr[B.i] + pair_row(B, pair)) * a.hq + B.g * B.G + pair_head(B, pair) : -1;
        produce_rows<DQK, SD, C::tpr_q>(a, path, a.q, a.dqk, qrow, Qs, stage);
        if (path == TC_F32) {
            cp_async_wait<0>();
            land_rows<DQK, SD, C::tpr_q>(path, Qs, stage);
            if (C::tpr_q != TPR)
                __syncthreads();
        }
    }

    /* The key tiles some pair of the block sees: [j_first, j_last], every one of them without a
     * mask (the union of the rows' visible ranges is one interval), the checked ones with it. */
    const int32_t t_lo = B.P + B.r_lo, t_hi = B.P + B.r_hi;
    const int32_t k_lo = a.sliding_window >= 0 ? max(0, t_lo - a.sliding_window) : 0;
    const int32_t k_hi = (B.mask || !a.causal) ? B.T - 1 : min(t_hi, B.T - 1);
    const int32_t j_last = k_lo <= k_hi ? k_hi / BN : -1;
    int32_t j = first_seen_tile<C>(a, B, k_lo / BN, j_last);
    int64_t slot = tile_slot<C>(a, B, j);
    if (j >= 0) {
        produce_rows<DQK, SD, TPR>(a, path, a.k_pool, a.dqk, kv_row(B, a, slot), Ks, stage);
        if (STAGES == 2)
            produce_rows<DV, SD, TPR>(a, path, a.v_pool, a.dv, kv_row(B, a, slot), Vs, stage_v);
    }

    /* This thread's two pair rows (gq and gq + 8 of the row block's 16) and the keys each sees
     * without a mask: the interval [vlo, vhi] (empty for a pair past the last). */
    tc_rows R;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int32_t pair = B.pair0 + rb * 16 + gq + 8 * h;
        const int32_t r = pair_row(B, pair), t = B.P + r;
        const bool ok = pair < B.pairs;
        R.vlo[h] = !ok ? 1 : a.sliding_window >= 0 ? max(0, t - a.sliding_window) : 0;
        R.vhi[h] = !ok ? 0 : (B.mask || !a.causal) ? B.T - 1 : t;
        R.mrow[h] = B.mask && ok ? B.mask + (int64_t)r * B.T : B.mask; /* never read for a pair past the last */
    }

    uint32_t qf[tc_q<DQK, RB, W>::regs][4]; /* Q's fragments where they stay in registers (tc_q) */
    float o[DV / 8 / W][4]; /* the warp's part of the value columns, from DV / W * hf */
    float l[4] = {0.f, 0.f, 0.f, 0.f}; /* the "ones" n-tile: every column holds the row's l */
    float m[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < DV / 8 / W; n++)
        o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;

    if (STAGES == 1) {
        /* One buffer each of K and V, each copy hidden behind the other's compute: V(j) is copied
         * while S = Q K(j)^T and the softmax run, K(j_next) while P V(j) runs. Three barriers a
         * tile. Where many CTAs share an SM, the others' compute hides what is left of the copies'
         * latency (the throughput shapes). */
        while (j >= 0) {
            /* K(j) was copied during the last P V. Staged f32 rows land before V's copy reuses the
             * staging rows; bf16 rows are waited for after V's copy is on its way. */
            if (path == TC_F32) {
                cp_async_wait<0>();
                land_rows<DQK, SD, TPR>(path, Ks, stage);
            }
            produce_rows<DV, SD, TPR>(a, path, a.v_pool, a.dv, kv_row(B, a, slot), Vs, stage);
            const int32_t j_next = j < j_last ? first_seen_tile<C>(a, B, j + 1, j_last) : -1;
            const int64_t slot_next = tile_slot<C>(a, B, j_next); /* in flight during this tile */
            cp_async_wait<1>();
            __syncthreads(); /* Q and K(j) are in shared memory */
            uint4 own[BN / W / 16];
            softmax_tile<DQK, DV, RB, W>(a, B, R, j, Qs, qf, Ks, xmax, o, l, m, own);
            publish_p(xp, own, threadIdx.x / 32 % RB, threadIdx.x / 32 / RB, threadIdx.x % 32);
            cp_async_wait<0>();
            land_rows<DV, SD, TPR>(path, Vs, stage);
            __syncthreads(); /* V(j) and the other half's P are in shared memory; every warp is done with K(j) */
            if (j_next >= 0)
                produce_rows<DQK, SD, TPR>(a, path, a.k_pool, a.dqk, kv_row(B, a, slot_next), Ks, stage);
            accumulate_tile<DV, RB, W>(xp, own, Vs, o, l);
            __syncthreads(); /* every warp is done with V(j) and P before the next tile writes them */
            j = j_next;
            slot = slot_next;
        }
    } else {
        /* Two buffers each of K and V: the next tile's K and V are copied during the whole of this
         * tile, so where a CTA is alone on its SM (few blocks walking many tiles) the walk waits
         * on its compute, not on the copies' latency. One barrier a tile; the P exchange needs
         * only the pair's two warps. Pool slots are read a tile before their copies start. */
        int32_t j1 = j >= 0 && j < j_last ? first_seen_tile<C>(a, B, j + 1, j_last) : -1;
        int64_t slot1 = tile_slot<C>(a, B, j1);
        if constexpr (tc_q<DQK, RB, W>::in_registers)
            if (j >= 0) { /* Q's fragments into registers, once every thread's rows of Q are in */
                cp_async_wait<0>();
                __syncthreads();
                load_q<DQK>(qf, Qs, rb, threadIdx.x % 32);
            }
        int b = 0; /* the buffers of tile j */
        while (j >= 0) {
            uint16_t *Kb = Ks + b * L::k_tile, *Vb = Vs + b * L::v_tile;
            cp_async_wait<0>(); /* this thread's copies of K(j) and V(j) */
            land_rows<DQK, SD, TPR>(path, Kb, stage);
            land_rows<DV, SD, TPR>(path, Vb, stage_v);
            __syncthreads(); /* K(j) and V(j) are in shared memory; every warp is done with tile j - 1 */
            if (j1 >= 0) {
                produce_rows<DQK, SD, TPR>(a, path, a.k_pool, a.dqk, kv_row(B, a, slot1), Ks + (1 - b) * L::k_tile, stage);
                produce_rows<DV, SD, TPR>(a, path, a.v_pool, a.dv, kv_row(B, a, slot1), Vs + (1 - b) * L::v_tile, stage_v);
            }
            const int32_t j2 = j1 >= 0 && j1 < j_last ? first_seen_tile<C>(a, B, j1 + 1, j_last) : -1;
            const int64_t slot2 = tile_slot<C>(a, B, j2); /* in flight during this tile */
            uint4 own[BN / W / 16];
            softmax_tile<DQK, DV, RB, W>(a, B, R, j, Qs, qf, Kb, xmax, o, l, m, own);
            publish_p(xp, own, threadIdx.x / 32 % RB, threadIdx.x / 32 / RB, threadIdx.x % 32);
            pair_sync<W>(rb); /* the other parts of P are in shared memory */
            accumulate_tile<DV, RB, W>(xp, own, Vb, o, l);
            j = j1, slot1 = slot2, j1 = j2;
            b ^= 1;
        }
    }
    write_rows(a, B, o, l, m, B.pair0 + rb * 16, DV / W * (threadIdx.x / 32 / RB));
}

/* grid = (4 / RB x Hkv, bs, blocks of the longest request): CTA (part + 4 / RB g, i, x) computes
 * part `part` of contract block x of request i and KV head g, x counted from the end of the
 * request: under a causal mask its last block sees the most keys. The hardware starts CTAs in
 * grid order in practice (CUDA does not promise it, and no bit depends on it), x slowest, so every
 * request's and every KV head's longest block starts first and the short ones fill the tail, and
 * an SM that takes an early (long) CTA later takes a short one beside it. Measured on an H200
 * against the earlier grid (blocks, Hkv, bs), which started all the blocks of one request and head
 * before the next (one run, medians of two): seed shape 144 -> 138 us, bs 1 / prefix 0 / extend
 * 2048 130 -> 107, bs 8 / prefix 0 / extend 256 26.0 -> 22.8 (kernels/README.md).
 * gridDim.z is at most 65535, so where a request has more blocks a CTA takes x, x + 65535, ...
 * That order still starts a short request's longest block beside a long request's, and leaves
 * the long request's short blocks for last: where the plan has listed the whole batch's blocks
 * longest first (a->block_order, kernels/block_order.cu), the grid is instead (4 / RB x Hkv, then
 * one CTA per listed block, y fastest, then z), and CTA f takes the f-th block of the list. Measured
 * on an H200 (kernels/README.md, "6: the longest blocks of the batch first"; together with the
 * revert of two loop shortcuts, 1-2% of it): seed shape 138 -> 122 us, 32 requests of 256 new
 * tokens with prefixes of 0 to 1024 keys 194 -> 161, 8 of 512 with 0 to 2048 216 -> 162; batches of
 * equal requests, where both orders are about the same, unchanged.
 * The register budget is the same for every RB (4 / RB times as many CTAs of 1 / (4 / RB) the size). */
template <int DQK, int DV, int RB, int STAGES, int W>
__global__ void __launch_bounds__(tc_cta<RB, W>::threads, tc_ctas_per_sm(DQK, DV, RB, W))
    ea_attention_tc_kernel(const ea_attn_args a)
{
    constexpr int PER_BLOCK = BLOCK_PAIRS / tc_cta<RB, W>::pairs;
    if (a.block_order) { /* the plan's schedule: CTA f (y fastest, then z) takes its f-th block */
        const int64_t f = blockIdx.y + (int64_t)gridDim.y * blockIdx.z;
        if (f >= a.block_order[0])
            return;
        const int32_t i = a.block_order[1 + 2 * f], x = a.block_order[2 + 2 * f];
        if ((uint32_t)i < (uint32_t)a.bs) /* (a plan listed for a larger batch reads no request past this one's) */
            compute_block<DQK, DV, RB, STAGES, W>(a, i, blockIdx.x / PER_BLOCK, x, blockIdx.x % PER_BLOCK);
        return;
    }
    const int32_t blocks = (int32_t)(((int64_t)a.max_extend_len * (a.hq / a.hkv) + BLOCK_PAIRS - 1) / BLOCK_PAIRS);
    for (int32_t x = blockIdx.z; x < blocks; x += gridDim.z) {
        compute_block<DQK, DV, RB, STAGES, W>(a, blockIdx.y, blockIdx.x / PER_BLOCK, x, blockIdx.x % PER_BLOCK);
        __syncthreads(); /* the next block's copies must not overwrite tiles a warp still reads */
    }
}

/* Without a schedule, the grid (4 / RB x Hkv, bs, grid_z): grid_z CTAs along a request's blocks, at
 * most 65535 (the most gridDim.z may be) and at most `blocks`. With the plan's schedule
 * (a->block_order), a CTA for each of the at most `listed` blocks of the list (its length is known
 * on the device only; CTAs past it return at once), numbered y fastest, then z; where even that
 * grid cannot hold the list, the grid's own order. */
template <int DQK, int DV, int RB, int STAGES, int W>
static cudaError_t launch_rb(const ea_attn_args *a, cudaStream_t s, int64_t grid_z, int64_t listed)
{
    const size_t smem = tc_smem<DQK, DV, RB, STAGES, W>::bytes(!a->bf16);
    cudaError_t e = cudaFuncSetAttribute(ea_attention_tc_kernel<DQK, DV, RB, STAGES, W>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess)
        return e;
    ea_attn_args args = *a;
    dim3 grid((unsigned)(4 / RB * a->hkv), (unsigned)a->bs, (unsigned)grid_z);
    if (a->block_order && listed <= (int64_t)65535 * 65535) {
        const int64_t y = listed < 65535 ? listed : 65535;
        grid.y = (unsigned)y;
        grid.z = (unsigned)((listed + y - 1) / y);
    } else {
        args.block_order = NULL;
    }
    ea_attention_tc_kernel<DQK, DV, RB, STAGES, W><<<grid, tc_cta<RB, W>::threads, smem, s>>>(args);
    return cudaGetLastError();
}

/* Two buffers of K and V, or one? Two where `want` asks for them (0: the choice below) and they fit
 * in the shared memory a CTA may have (not for f32 inputs of head dims over 128, whose staging rows
 * would then need more than the 227 KB of an H100 or H200). The choice: two where the SM still
 * holds as many CTAs as the registers allow (bf16: their f32 staging rows, twice over, would halve
 * that for f32 inputs), or where there are fewer CTAs than SMs anyway. Measured on an H200
 * (kernels/README.md, "6: K and V a tile ahead"). */
template <int DQK, int DV, int RB, int W>
static cudaError_t stages_for(const ea_attn_args *a, int device, int want, bool few, int *stages)
{
    int per_cta = 0, per_sm = 0;
    cudaError_t e = cudaDeviceGetAttribute(&per_cta, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    if (e == cudaSuccess)
        e = cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device);
    if (e != cudaSuccess)
        return e;
    const size_t two = tc_smem<DQK, DV, RB, 2, W>::bytes(!a->bf16);
    const size_t reserved = 1024; /* per CTA, by the driver */
    const int ctas_per_sm = tc_ctas_per_sm(DQK, DV, RB, W); /* as __launch_bounds__ sizes the registers */
    const bool keeps_occupancy = (two + reserved) * ctas_per_sm <= (size_t)per_sm;
    if (!want)
        want = few || keeps_occupancy ? 2 : 1;
    *stages = want == 2 && two <= (size_t)per_cta ? 2 : 1;
    return cudaSuccess;
}

/* Four warps to a row block run only with two buffers (where those do not fit, two warps with one). */
template <int DQK, int DV, int RB>
static cudaError_t launch_stages(const ea_attn_args *a, cudaStream_t s, int device, int row_warps, int want, bool few,
                                 int64_t grid_z, int64_t listed)
{
    int stages = 1;
    const cudaError_t e = row_warps == 4 ? stages_for<DQK, DV, RB, 4>(a, device, 2, few, &stages)
                                         : stages_for<DQK, DV, RB, 2>(a, device, want, few, &stages);
    if (e != cudaSuccess)
        return e;
    if (stages == 2)
        return row_warps == 4 ? launch_rb<DQK, DV, RB, 2, 4>(a, s, grid_z, listed)
                              : launch_rb<DQK, DV, RB, 2, 2>(a, s, grid_z, listed);
    return launch_rb<DQK, DV, RB, 1, 2>(a, s, grid_z, listed);
}

/* ctas_per_block: 1 (RB = 4) or 2 (RB = 2), stages: 1 or 2 buffers of K and V (2 where the shared
 * memory allows it), each 0 for the choice below; max_grid_z: as ea_launch_attention_6_split. */
template <int DQK, int DV>
static cudaError_t launch(const ea_attn_args *a, cudaStream_t s, int row_warps, int ctas_per_block, int stages,
                          int max_grid_z)
{
    const int G = a->hq / a->hkv;
    const int64_t blocks = ((int64_t)a->max_extend_len * G + BLOCK_PAIRS - 1) / BLOCK_PAIRS; /* per request and KV head */
    if (blocks == 0)
        return cudaSuccess; /* no query at all */
    const int64_t z = max_grid_z ? max_grid_z : 65535, grid_z = blocks < z ? blocks : z;
    const int64_t listed = blocks * a->bs; /* bounds the schedule's length: no request has more blocks */
    int device = 0, sms = 0;
    cudaError_t e = cudaGetDevice(&device);
    if (e == cudaSuccess)
        e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
    if (e != cudaSuccess)
        return e;
    /* Where the batch has fewer contract blocks than the card has SMs, each CTA is alone on its SM
     * and its walk over the tiles sets the time: each row block gets four warps (a quarter of the
     * tile each, where two buffers fit), and each block two CTAs. Not f32 blocks where four warps
     * cannot run: the f32 path's staging and rounding of K and V is per CTA, and with half the
     * threads it costs more than the extra SMs give back; with four warps a half block's CTA has
     * the threads of a whole one (measured, H200: kernels/README.md, "6: four warps to a row
     * block"). */
    const int64_t ctas = blocks * a->hkv * a->bs; /* CTAs of whole contract blocks (some return at once) */
    const bool few = ctas < sms;
    if (!row_warps)
        row_warps = few ? 4 : 2;
    if (!ctas_per_block) {
        ctas_per_block = few && a->bf16 ? 2 : 1;
        if (few && !a->bf16 && row_warps == 4) { /* the driver is asked only where the answer matters */
            int per_cta = 0;
            e = cudaDeviceGetAttribute(&per_cta, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
            if (e != cudaSuccess)
                return e;
            if (tc_smem<DQK, DV, 2, 2, 4>::bytes(true) <= (size_t)per_cta)
                ctas_per_block = 2;
        }
    }
    return ctas_per_block == 2 ? launch_stages<DQK, DV, 2>(a, s, device, row_warps, stages, few, grid_z, listed)
                               : launch_stages<DQK, DV, 4>(a, s, device, row_warps, stages, few, grid_z, listed);
}

/* Head dimensions are padded up to 64, 128 or 256: padding with zeros changes no bit (a chain
 * step whose 16 products are all zero returns its accumulator unchanged). */
static int padded(int d)
{
    return d <= 64 ? 64 : d <= 128 ? 128 : 256;
}

extern "C" cudaError_t ea_launch_attention_6_split(const ea_attn_args *a, cudaStream_t s, int row_warps,
                                                   int ctas_per_block, int stages, int max_grid_z)
{
    if (a->dqk > 256 || a->dv > 256 || (row_warps != 0 && row_warps != 2 && row_warps != 4) ||
        ctas_per_block < 0 || ctas_per_block > 2 || stages < 0 || stages > 2 || max_grid_z < 0 || max_grid_z > 65535)
        return cudaErrorInvalidValue;
    const int q = padded(a->dqk), v = padded(a->dv);
#define EA_TC_CASE(Q, V)                                                                            \
    if (q == Q && v == V)                                                                           \
        return launch<Q, V>(a, s, row_warps, ctas_per_block, stages, max_grid_z);
    EA_TC_CASE(64, 64) EA_TC_CASE(64, 128) EA_TC_CASE(64, 256)
    EA_TC_CASE(128, 64) EA_TC_CASE(128, 128) EA_TC_CASE(128, 256)
    EA_TC_CASE(256, 64) EA_TC_CASE(256, 128) EA_TC_CASE(256, 256)
#undef EA_TC_CASE
    return cudaErrorInvalidValue;
}

extern "C" cudaError_t ea_launch_attention_6(const ea_attn_args *a, cudaStream_t s)
{
    return ea_launch_attention_6_split(a, s, 0, 0, 0, 0);
}
