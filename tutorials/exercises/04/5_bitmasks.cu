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
 * The order of every sum is still the canonical one. kernels/README.md has its time.
 *
 * Block (x, g, i): 8 warps x 4 rows = 32 rows of request i's group-g query matrix (row = r*G+hh).
 * Shared memory: key rows | query rows | K[64][k_stride] | V[64][dv4] | Q[32][dqk4] | p[8 warps][64][4]. */
#include "gather.cuh"

#define WARPS 8
#define ROWS_PER_WARP 4
#define ROWS (WARPS * ROWS_PER_WARP)     /* 32 */
#define DV_CHUNKS (EA_MAX_HEAD_DIM / 128) /* 128-wide chunks of d a lane covers (4 d each): 2 */
#ifndef EA_ATTN_MIN_BLOCKS
#define EA_ATTN_MIN_BLOCKS 2 /* two blocks per SM: one loads its tile while the other computes */
#endif

static_assert(ROWS_PER_WARP == 4, "pass 2 reads the 4 rows' probabilities of a key as one float4");

struct bitmask_layout {
    size_t key_rows, q_rows, k, v, q, p, bytes; /* byte offsets, total */
};
__host__ __device__ static inline bitmask_layout layout_of(int dqk, int dv)
{
    bitmask_layout L;
    L.key_rows = 0;                                   /* int64 [64]: row of key j in k_pool / v_pool */
    L.q_rows = L.key_rows + sizeof(int64_t) * EA_TILE; /* int64 [32]: row of each block row in q */
    L.k = L.q_rows + sizeof(int64_t) * ROWS;
    L.v = L.k + sizeof(float) * EA_TILE * k_stride(dqk);
    L.q = L.v + sizeof(float) * EA_TILE * round4(dv);
    L.p = L.q + sizeof(float) * ROWS * round4(dqk);
    L.bytes = L.p + sizeof(float) * WARPS * EA_TILE * ROWS_PER_WARP;
    return L;
}

__global__ void __launch_bounds__(WARPS *WARP, EA_ATTN_MIN_BLOCKS) attention_bitmasks(const ea_attn_args args)
{
    extern __shared__ __align__(16) unsigned char smem[];
    const int dqk = args.dqk, dv = args.dv, ks = k_stride(dqk), qs = round4(dqk), vs = round4(dv);
    const bitmask_layout L = layout_of(dqk, dv);
    int64_t *key_rows = (int64_t *)(smem + L.key_rows), *q_rows = (int64_t *)(smem + L.q_rows);
    float *sk = (float *)(smem + L.k), *sv = (float *)(smem + L.v), *sq = (float *)(smem + L.q);
    float *sp = (float *)(smem + L.p);

    const int i = blockIdx.z, g = blockIdx.y, tid = threadIdx.x, warp = tid / WARP, lane = tid % WARP;
    const int G = args.hq / args.hkv;
    const request req = request_of(args, i);
    const int block_row0 = blockIdx.x * ROWS;
    if (block_row0 >= req.E * G)
        return; /* the whole block is past this request's rows: a uniform exit */

    /* the block's queries, zero past the last row */
    if (tid < ROWS) {
        const int row = block_row0 + tid;
        q_rows[tid] = row < req.E * G ? (int64_t)(req.row0 + row / G) * args.hq + g * G + row % G : -1;
    }
    __syncthreads();
    gather_rows(sq, qs, qs, args.q, args.bf16, dqk, q_rows, ROWS);

    /* this warp's 4 rows and their online-softmax state */
    const int row0 = block_row0 + warp * ROWS_PER_WARP; /* rows row0 .. row0+3; row k is query row (row0+k)/G */
    float m[ROWS_PER_WARP], l[ROWS_PER_WARP], acc[ROWS_PER_WARP][DV_CHUNKS][4];
#pragma unroll
    for (int k = 0; k < ROWS_PER_WARP; k++) {
        m[k] = -INFINITY;
        l[k] = 0.0f;
#pragma unroll
        for (int c = 0; c < DV_CHUNKS; c++)
#pragma unroll
            for (int e = 0; e < 4; e++)
                acc[k][c][e] = 0.0f;
    }

    int u_first, u_last;
    visible_keys(args, req, block_row0 / G, min(req.E * G - 1, block_row0 + ROWS - 1) / G, &u_first, &u_last);
    for (int tile = u_first / EA_TILE * EA_TILE; tile <= u_last; tile += EA_TILE) {
        const int n = min(EA_TILE, req.T - tile);
        __syncthreads(); /* the previous tile is no longer read */
        if (tid < EA_TILE)
            key_rows[tid] = tid < n ? req.slots[tile + tid] * args.hkv + g : -1;
        __syncthreads();
        /* load: K and V rows from the paged pool; rows past n are zero */
        gather_rows(sk, ks, qs, args.k_pool, args.bf16, dqk, key_rows, EA_TILE);
        gather_rows(sv, vs, vs, args.v_pool, args.bf16, dv, key_rows, EA_TILE);
        __syncthreads();

        /* pass 1: s[k][half] = q_k . k_{lane + 32*half}, each a sequential fmaf chain over d */
        float s[ROWS_PER_WARP][2];
#pragma unroll
        for (int k = 0; k < ROWS_PER_WARP; k++)
            s[k][0] = s[k][1] = 0.0f;
        const float *k0 = sk + lane * ks, *k1 = sk + (lane + WARP) * ks;
        const float *qw = sq + warp * ROWS_PER_WARP * qs;
        const int d4 = dqk & ~3;
        for (int d = 0; d < d4; d += 4) {
            const float4 a0 = *(const float4 *)(k0 + d), a1 = *(const float4 *)(k1 + d);
#pragma unroll
            for (int k = 0; k < ROWS_PER_WARP; k++) {
                const float4 qv = *(const float4 *)(qw + k * qs + d);
                s[k][0] = __fmaf_rn(qv.x, a0.x, s[k][0]);
                s[k][1] = __fmaf_rn(qv.x, a1.x, s[k][1]);
                s[k][0] = __fmaf_rn(qv.y, a0.y, s[k][0]);
                s[k][1] = __fmaf_rn(qv.y, a1.y, s[k][1]);
                s[k][0] = __fmaf_rn(qv.z, a0.z, s[k][0]);
                s[k][1] = __fmaf_rn(qv.z, a1.z, s[k][1]);
                s[k][0] = __fmaf_rn(qv.w, a0.w, s[k][0]);
                s[k][1] = __fmaf_rn(qv.w, a1.w, s[k][1]);
            }
        }
        for (int d = d4; d < dqk; d++) {
#pragma unroll
            for (int k = 0; k < ROWS_PER_WARP; k++) {
                s[k][0] = __fmaf_rn(qw[k * qs + d], k0[d], s[k][0]);
                s[k][1] = __fmaf_rn(qw[k * qs + d], k1[d], s[k][1]);
            }
        }

        /* logits, visibility as bitmasks, the tile max, and p = exp(x - m_new) for visible keys */
        unsigned vis_bits[ROWS_PER_WARP][2], any = 0;
        float m_new[ROWS_PER_WARP];
#pragma unroll
        for (int k = 0; k < ROWS_PER_WARP; k++) {
            float x[2], mx = -INFINITY;
            const int row = row0 + k, r = row / G;
            const uint8_t *mask_row = mask_row_of(args, i, req, r);
#pragma unroll
            for (int half = 0; half < 2; half++) {
                const int j = lane + half * WARP;
                const bool vis = row < req.E * G && j < n && visible(args, mask_row, req.P + r, tile + j);
                x[half] = vis ? logit(args, s[k][half]) : -INFINITY;
                if (vis)
                    mx = fmaxf(mx, x[half]);
                vis_bits[k][half] = __ballot_sync(FULL_MASK, vis);
            }
            m_new[k] = fmaxf(m[k], warp_max(mx));
#pragma unroll
            for (int half = 0; half < 2; half++) {
                const bool vis = (vis_bits[k][half] >> lane) & 1u;
                sp[(warp * EA_TILE + lane + half * WARP) * ROWS_PER_WARP + k] = vis ? ea_expf(x[half] - m_new[k]) : 0.0f;
            }
            any |= vis_bits[k][0] | vis_bits[k][1];
        }
        if (!any)
            continue; /* no row of this warp sees a key of this tile (uniform per warp) */
        __syncwarp();

        /* pass 2: rescale the state of every row that sees this tile, then add keys in increasing u */
        /* TODO (exercise 4): for every row k that sees a key of this tile: if m[k] is finite, rescale l[k] and acc[k][*][*] by ea_expf(m[k] - m_new[k]); then m[k] = m_new[k].
           The page tutorials/04-gpu-kernel.md explains it; `make exercise 4` checks your code. */
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
                const float4 pk = *(const float4 *)(sp + (warp * EA_TILE + j) * ROWS_PER_WARP);
                const float p[ROWS_PER_WARP] = {pk.x, pk.y, pk.z, pk.w};
#pragma unroll
                for (int c = 0; c < DV_CHUNKS; c++) {
                    if (128 * c >= vs)
                        break; /* dv <= 128: one chunk (a uniform branch) */
                    const float4 v = 128 * c + 4 * lane < vs ? *(const float4 *)(sv + j * vs + 128 * c + 4 * lane)
                                                             : make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
                    for (int k = 0; k < ROWS_PER_WARP; k++) {
                        if (!same && !((vis_bits[k][half] >> (j - half * WARP)) & 1u))
                            continue;
                        acc[k][c][0] = __fmaf_rn(p[k], v.x, acc[k][c][0]);
                        acc[k][c][1] = __fmaf_rn(p[k], v.y, acc[k][c][1]);
                        acc[k][c][2] = __fmaf_rn(p[k], v.z, acc[k][c][2]);
                        acc[k][c][3] = __fmaf_rn(p[k], v.w, acc[k][c][3]);
                    }
                }
#pragma unroll
                for (int k = 0; k < ROWS_PER_WARP; k++)
                    if (same || ((vis_bits[k][half] >> (j - half * WARP)) & 1u))
                        l[k] = l[k] + p[k];
            }
        }
    }

    /* epilogue: sink, normalise, round to the storage type */
#pragma unroll
    for (int k = 0; k < ROWS_PER_WARP; k++) {
        const int row = row0 + k, h = g * G + row % G;
        if (row >= req.E * G)
            continue;
        const int64_t o0 = ((int64_t)(req.row0 + row / G) * args.hq + h) * dv;
        const float den = denominator(args, h, m[k], l[k]);
#pragma unroll
        for (int c = 0; c < DV_CHUNKS; c++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int d = 128 * c + 4 * lane + e;
                if (d < dv)
                    store_output(args, o0 + d, acc[k][c][e], den, m[k] == -INFINITY);
            }
    }
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
