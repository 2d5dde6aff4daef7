/* Kernel 5, bitmasks: pass 2 visits only the visible keys. The canonical kernel a context runs by
 * default (::EA_KERNEL_CANONICAL), DESIGN.md section 2's order on CUDA cores.
 *
 * Adds, over kernel 4:
 *  - Visibility as bitmasks. Pass 1 turns each row's per-lane visibility into two 32-bit masks
 *    with __ballot_sync (keys j and j+32); pass 2 walks the set bits in increasing u with __ffs
 *    instead of testing all 64 keys for every row, and a warp with no visible key in the tile
 *    skips pass 2 entirely.
 *  - The `same` fast path: when the warp's 4 rows see the same keys (whole prefix tiles, rows
 *    past the diagonal: the common case), the per-row test inside the key loop disappears.
 *  - The 4 rows' probabilities of a key are one float4 in shared memory: one load per key.
 * The order of every sum is still the canonical one.
 * Measured (H200, seed shape, kernels/README.md): 1.26 ms, 1.05x kernel 4: on this shape most
 * tiles are seen whole by every row, where kernel 4 lost little.
 *
 * Block (x, g, i): 8 warps x 4 rows = 32 rows of request i's group-g query matrix (row = r*G+hh);
 * its shared memory is bitmask_layout below. */
#include "float4_rows.cuh"

#ifndef EA_ATTN_MIN_BLOCKS
#define EA_ATTN_MIN_BLOCKS 2 /* two blocks per SM (when d <= 160 leaves room for two in shared memory): one
                             * loads its tile while the other computes */
#endif

static_assert(ROWS_PER_WARP == 4, "pass 2 reads the 4 rows' probabilities of a key as one float4");

struct bitmask_layout {
    size_t key_rows, q_rows, k, v, q, p, bytes; /* byte offsets, total */
};
__host__ __device__ static inline bitmask_layout layout_of(int dqk, int dv)
{
    bitmask_layout L;
    L.key_rows = 0;                                    /* int64 [64]: row of key j in k_pool / v_pool */
    L.q_rows = L.key_rows + sizeof(int64_t) * EA_TILE; /* int64 [32]: row of each block row in q */
    L.k = L.q_rows + sizeof(int64_t) * ROWS;
    L.v = L.k + sizeof(float) * EA_TILE * k_stride(dqk);
    L.q = L.v + sizeof(float) * EA_TILE * round4(dv);
    L.p = L.q + sizeof(float) * ROWS * round4(dqk);
    L.bytes = L.p + sizeof(float) * WARPS * EA_TILE * ROWS_PER_WARP;
    return L;
}

/* Pass 1, end: logits, visibility as two ballots per row (keys lane and lane+32), the tile max,
 * and p = exp(x - m_new) of the visible keys into p[j][wr] (zero for the others). Returns whether
 * any row of the warp sees a key of the tile (uniform across the warp). */
static __device__ __forceinline__ bool probabilities(const ea_attn_args &args, int i, const request &req, const warp_rows &w,
                                              int tile, int n, int lane, const float (&s)[ROWS_PER_WARP][2],
                                              float (&m_new)[ROWS_PER_WARP], unsigned (&vis_bits)[ROWS_PER_WARP][2],
                                              float *p)
{
    const int G = args.hq / args.hkv;
    unsigned any = 0;
#pragma unroll
    for (int wr = 0; wr < ROWS_PER_WARP; wr++) {
        float x[2], mx = -INFINITY;
        const int row = w.row0 + wr, r = row / G;
        const uint8_t *mask_row = row < req.E * G ? mask_row_of(args, i, req, r) : nullptr;
#pragma unroll
        for (int half = 0; half < 2; half++) {
            const int j = lane + half * WARP;
            const bool vis = row < req.E * G && j < n && visible(args, mask_row, req.P + r, tile + j);
            x[half] = vis ? logit(args, s[wr][half]) : -INFINITY;
            if (vis)
                mx = fmaxf(mx, x[half]);
            vis_bits[wr][half] = __ballot_sync(FULL_MASK, vis);
        }
        m_new[wr] = fmaxf(w.m[wr], warp_max(mx));
#pragma unroll
        for (int half = 0; half < 2; half++) {
            const bool vis = (vis_bits[wr][half] >> lane) & 1u;
            p[(lane + half * WARP) * ROWS_PER_WARP + wr] = vis ? ea_expf(x[half] - m_new[wr]) : 0.0f;
        }
        any |= vis_bits[wr][0] | vis_bits[wr][1];
    }
    return any != 0;
}

/* Pass 2, first (softmax update): each row that sees the tile rescales to its new max. */
static __device__ __forceinline__ void rescale_state(warp_rows &w, const float (&m_new)[ROWS_PER_WARP],
                                              const unsigned (&vis_bits)[ROWS_PER_WARP][2])
{
    float(&m)[ROWS_PER_WARP] = w.m, (&l)[ROWS_PER_WARP] = w.l;
    float(&acc)[ROWS_PER_WARP][DV_CHUNKS][4] = w.acc;
    /* TODO (exercise 4): for every row wr that sees a key of this tile: if m[wr] is finite, rescale l[wr] and acc[wr][*][*] by ea_expf(m[wr] - m_new[wr]); then m[wr] = m_new[wr].
       The page tutorials/04-gpu-kernel.md explains it; `make exercise 4` checks your code. */
}

/* Pass 2, then (accumulate): the visible keys only, in increasing u: the set bits of the rows'
 * ballots, lowest first (__ffs). */
static __device__ __forceinline__ void accumulate_tile(warp_rows &w, const float *v, int vs, int lane,
                                                const unsigned (&vis_bits)[ROWS_PER_WARP][2], const float *p)
{
#pragma unroll
    for (int half = 0; half < 2; half++) {
        unsigned bits = vis_bits[0][half] | vis_bits[1][half] | vis_bits[2][half] | vis_bits[3][half];
        /* the common case (whole prefix tiles, rows past the diagonal): all 4 rows see the
         * same keys, so no per-row test is needed inside the loop */
        const bool same = vis_bits[0][half] == bits && vis_bits[1][half] == bits && vis_bits[2][half] == bits &&
                          vis_bits[3][half] == bits;
        while (bits) {
            const int j = __ffs(bits) - 1 + half * WARP;
            bits &= bits - 1;
            const float4 p4 = *(const float4 *)(p + j * ROWS_PER_WARP);
            const float pj[ROWS_PER_WARP] = {p4.x, p4.y, p4.z, p4.w};
#pragma unroll
            for (int c = 0; c < DV_CHUNKS; c++) {
                if (128 * c >= vs)
                    break; /* dv <= 128: one chunk (a uniform branch) */
                const float4 vj = value_chunk(v, vs, j, c, lane);
#pragma unroll
                for (int wr = 0; wr < ROWS_PER_WARP; wr++)
                    if (same || ((vis_bits[wr][half] >> (j - half * WARP)) & 1u))
                        add_scaled(w.acc[wr][c], pj[wr], vj);
            }
#pragma unroll
            for (int wr = 0; wr < ROWS_PER_WARP; wr++)
                if (same || ((vis_bits[wr][half] >> (j - half * WARP)) & 1u))
                    w.l[wr] = w.l[wr] + pj[wr];
        }
    }
}

__global__ void __launch_bounds__(WARPS *WARP, EA_ATTN_MIN_BLOCKS) attention_bitmasks(const ea_attn_args args)
{
    extern __shared__ __align__(16) unsigned char smem[];
    const bitmask_layout L = layout_of(args.dqk, args.dv);
    int64_t *key_rows = (int64_t *)(smem + L.key_rows), *q_rows = (int64_t *)(smem + L.q_rows);
    float *sk = (float *)(smem + L.k), *sv = (float *)(smem + L.v), *sq = (float *)(smem + L.q);
    const int warp = threadIdx.x / WARP, lane = threadIdx.x % WARP;
    float *sp = (float *)(smem + L.p) + warp * EA_TILE * ROWS_PER_WARP;

    const int i = blockIdx.z, g = blockIdx.y, G = args.hq / args.hkv;
    const request req = request_of(args, i);
    const int block_row0 = blockIdx.x * ROWS;
    if (block_row0 >= req.E * G)
        return; /* the whole block is past this request's rows: a uniform exit */
    load_queries(args, req, g, block_row0, q_rows, sq);
    warp_rows w;
    begin_rows(w, block_row0 + warp * ROWS_PER_WARP);

    int u_first, u_last;
    visible_keys(args, req, block_row0 / G, min(req.E * G - 1, block_row0 + ROWS - 1) / G, &u_first, &u_last);
    for (int tile = u_first / EA_TILE * EA_TILE; tile <= u_last; tile += EA_TILE) {
        const int n = min(EA_TILE, req.T - tile);
        load_tile(args, req, g, tile, n, key_rows, sk, sv);
        float s[ROWS_PER_WARP][2], m_new[ROWS_PER_WARP];
        unsigned vis_bits[ROWS_PER_WARP][2];
        score_tile(args.dqk, sq + warp * ROWS_PER_WARP * round4(args.dqk), sk, lane, s);
        if (!probabilities(args, i, req, w, tile, n, lane, s, m_new, vis_bits, sp))
            continue; /* no row of this warp sees a key of this tile */
        __syncwarp();
        rescale_state(w, m_new, vis_bits);
        accumulate_tile(w, sv, round4(args.dv), lane, vis_bits, sp);
    }
    write_rows(args, req, g, w, lane);
}

extern "C" cudaError_t ea_launch_attention_5(const ea_attn_args *args, cudaStream_t stream)
{
    return launch_with_smem(attention_bitmasks, group_grid(*args, ROWS), WARPS * WARP,
                            layout_of(args->dqk, args->dv).bytes, *args, stream);
}

extern "C" cudaError_t ea_launch_attention_bad_smem(const ea_attn_args *args, cudaStream_t stream)
{
    /* 1 GB of shared memory exists on no GPU: the launch must fail cleanly */
    attention_bitmasks<<<group_grid(*args, ROWS), WARPS * WARP, (size_t)1 << 30, stream>>>(*args);
    return cudaGetLastError();
}
