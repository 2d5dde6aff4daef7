/* Kernel 3, GQA blocking and the warp max: a block of 32 rows spanning the G query heads of one
 * KV head; warps split the work of a row two ways.
 *
 * Adds, over kernel 2:
 *  - GQA blocking. The block owns 32 consecutive rows of the group's query matrix (row = r*G+hh),
 *    so one loaded tile serves every query head that shares the KV head: G times less traffic.
 *    The block's queries are staged in shared memory once.
 *  - Warps share a row's work. 8 warps own 4 rows each. In pass 1 lane l scores keys l and l+32
 *    for the warp's 4 rows (each score still ONE sequential fmaf chain over d: the contract
 *    forbids splitting a dot product), and the tile max is a warp reduction (warp_max: max is
 *    exact, so its order is free). In pass 2 lanes own output dimensions (d = lane + 32c) and
 *    walk the tile's keys in increasing u: the canonical order of l and acc, now in registers.
 * The probabilities and their visibility go from pass 1 to pass 2 through shared memory.
 * Costs left: lanes read K rows dqk floats apart (same bank: a 32-way conflict when dqk is a
 * multiple of 32), loads are one element each, and pass 2 tests every key for every row.
 * kernels/README.md has its time. */
#include "common.cuh"

#define WARPS 8
#define ROWS_PER_WARP 4
#define ROWS (WARPS * ROWS_PER_WARP) /* rows per block: 32 */
#define DV_PER_LANE (EA_MAX_HEAD_DIM / WARP)

/* Shared memory: K, V, Q, then each warp's probabilities p[j][k] and visibility (byte offsets). */
struct gqa_layout {
    size_t k, v, q, p, vis, bytes;
};
__host__ __device__ static inline gqa_layout layout_of(int dqk, int dv)
{
    gqa_layout L;
    L.k = 0;
    L.v = L.k + sizeof(float) * EA_TILE * dqk;
    L.q = L.v + sizeof(float) * EA_TILE * dv;
    L.p = L.q + sizeof(float) * ROWS * dqk;
    L.vis = L.p + sizeof(float) * WARPS * EA_TILE * ROWS_PER_WARP;
    L.bytes = L.vis + WARPS * EA_TILE * ROWS_PER_WARP;
    return L;
}

__global__ void __launch_bounds__(WARPS *WARP) attention_gqa_blocking(const ea_attn_args args)
{
    extern __shared__ __align__(16) unsigned char smem[];
    const int dqk = args.dqk, dv = args.dv;
    const gqa_layout L = layout_of(dqk, dv);
    float *sk = (float *)(smem + L.k), *sv = (float *)(smem + L.v), *sq = (float *)(smem + L.q);
    const int tid = threadIdx.x, warp = tid / WARP, lane = tid % WARP;
    float *sp = (float *)(smem + L.p) + warp * EA_TILE * ROWS_PER_WARP;
    uint8_t *svis = smem + L.vis + warp * EA_TILE * ROWS_PER_WARP;

    const int i = blockIdx.z, g = blockIdx.y, G = args.hq / args.hkv;
    const request req = request_of(args, i);
    const int block_row0 = blockIdx.x * ROWS;
    if (block_row0 >= req.E * G)
        return; /* a uniform exit */

    /* the block's queries, zero past the last row */
    for (int idx = tid; idx < ROWS * dqk; idx += WARPS * WARP) {
        const int row = block_row0 + idx / dqk, d = idx % dqk;
        sq[idx] = row < req.E * G ? ea_load_elem(args.q, args.bf16,
                                                 ((int64_t)(req.row0 + row / G) * args.hq + g * G + row % G) * dqk + d)
                                  : 0.0f;
    }

    const int row0 = block_row0 + warp * ROWS_PER_WARP; /* this warp's rows: row0 .. row0+3 */
    float m[ROWS_PER_WARP], l[ROWS_PER_WARP], acc[ROWS_PER_WARP][DV_PER_LANE];
#pragma unroll
    for (int k = 0; k < ROWS_PER_WARP; k++) {
        m[k] = -INFINITY, l[k] = 0.0f;
#pragma unroll
        for (int c = 0; c < DV_PER_LANE; c++)
            acc[k][c] = 0.0f;
    }

    int u_first, u_last;
    visible_keys(args, req, block_row0 / G, min(req.E * G - 1, block_row0 + ROWS - 1) / G, &u_first, &u_last);
    for (int tile = u_first / EA_TILE * EA_TILE; tile <= u_last; tile += EA_TILE) {
        const int n = min(EA_TILE, req.T - tile);
        __syncthreads(); /* the previous tile is no longer read */
        /* load: the tile's K and V rows, zero rows past n */
        for (int idx = tid; idx < EA_TILE * dqk; idx += WARPS * WARP) {
            const int j = idx / dqk;
            sk[idx] = j < n ? ea_load_elem(args.k_pool, args.bf16, (req.slots[tile + j] * args.hkv + g) * dqk + idx % dqk)
                            : 0.0f;
        }
        for (int idx = tid; idx < EA_TILE * dv; idx += WARPS * WARP) {
            const int j = idx / dv;
            sv[idx] = j < n ? ea_load_elem(args.v_pool, args.bf16, (req.slots[tile + j] * args.hkv + g) * dv + idx % dv)
                            : 0.0f;
        }
        __syncthreads();

        /* pass 1: lane scores keys lane and lane+32 for the warp's 4 rows */
        float s[ROWS_PER_WARP][2] = {};
        for (int d = 0; d < dqk; d++)
#pragma unroll
            for (int k = 0; k < ROWS_PER_WARP; k++)
#pragma unroll
                for (int half = 0; half < 2; half++)
                    s[k][half] = __fmaf_rn(sq[(warp * ROWS_PER_WARP + k) * dqk + d], sk[(lane + half * WARP) * dqk + d],
                                           s[k][half]);

        /* logits, visibility, the tile max, probabilities */
        bool any[ROWS_PER_WARP];
        float m_new[ROWS_PER_WARP];
#pragma unroll
        for (int k = 0; k < ROWS_PER_WARP; k++) {
            const int row = row0 + k, r = row / G;
            const uint8_t *mask_row = row < req.E * G ? mask_row_of(args, i, req, r) : nullptr;
            float x[2], mx = -INFINITY;
            bool vis[2];
#pragma unroll
            for (int half = 0; half < 2; half++) {
                const int j = lane + half * WARP;
                vis[half] = row < req.E * G && j < n && visible(args, mask_row, req.P + r, tile + j);
                x[half] = logit(args, s[k][half]);
                if (vis[half])
                    mx = fmaxf(mx, x[half]);
            }
            m_new[k] = fmaxf(m[k], warp_max(mx));
            any[k] = __any_sync(FULL_MASK, vis[0] || vis[1]);
#pragma unroll
            for (int half = 0; half < 2; half++) {
                const int j = lane + half * WARP;
                sp[j * ROWS_PER_WARP + k] = vis[half] ? ea_expf(x[half] - m_new[k]) : 0.0f;
                svis[j * ROWS_PER_WARP + k] = vis[half];
            }
        }
        __syncwarp();

        /* pass 2: lanes own d = lane + 32c; rescale each row that sees the tile, then add keys in increasing u */
#pragma unroll
        for (int k = 0; k < ROWS_PER_WARP; k++) {
            if (!any[k])
                continue; /* a tile with no visible key leaves the state untouched */
            if (m[k] != -INFINITY) {
                const float a = ea_expf(m[k] - m_new[k]);
                l[k] = l[k] * a;
#pragma unroll
                for (int c = 0; c < DV_PER_LANE; c++)
                    acc[k][c] = acc[k][c] * a;
            }
            m[k] = m_new[k];
        }
        for (int j = 0; j < n; j++)
#pragma unroll
            for (int k = 0; k < ROWS_PER_WARP; k++) {
                if (!svis[j * ROWS_PER_WARP + k])
                    continue;
                const float p = sp[j * ROWS_PER_WARP + k];
                l[k] = l[k] + p;
#pragma unroll
                for (int c = 0; c < DV_PER_LANE; c++)
                    if (lane + WARP * c < dv)
                        acc[k][c] = __fmaf_rn(p, sv[j * dv + lane + WARP * c], acc[k][c]);
            }
        __syncwarp(); /* sp and svis are rewritten by the next tile's pass 1 */
    }

    /* epilogue: sink, normalise, round to the storage type */
#pragma unroll
    for (int k = 0; k < ROWS_PER_WARP; k++) {
        const int row = row0 + k, h = g * G + row % G;
        if (row >= req.E * G)
            continue;
        const float den = denominator(args, h, m[k], l[k]);
        const int64_t o0 = ((int64_t)(req.row0 + row / G) * args.hq + h) * dv;
#pragma unroll
        for (int c = 0; c < DV_PER_LANE; c++)
            if (lane + WARP * c < dv)
                store_output(args, o0 + lane + WARP * c, acc[k][c], den, m[k] == -INFINITY);
    }
}

extern "C" cudaError_t ea_launch_attention_3(const ea_attn_args *args, cudaStream_t stream)
{
    return launch_with_smem(attention_gqa_blocking, group_grid(*args, ROWS), WARPS * WARP,
                            layout_of(args->dqk, args->dv).bytes, *args, stream);
}
