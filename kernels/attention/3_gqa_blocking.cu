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
 * Measured (H200, seed shape, kernels/README.md): 7.72 ms, 3.30x kernel 2. */
#include "common.cuh"

#define WARPS 8
#define ROWS_PER_WARP 4
#define ROWS (WARPS * ROWS_PER_WARP) /* rows per block: 32 */
#define DV_PER_LANE (EA_MAX_HEAD_DIM / WARP)

/* Shared memory: K, V, Q, then each warp's probabilities p[j][wr] and visibility (byte offsets). */
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

/* A warp's 4 rows (row0 .. row0+3 of the group's query matrix) and their online-softmax state;
 * lane l holds dimensions l, l+32, ... of each acc. */
struct warp_rows {
    int row0;
    float m[ROWS_PER_WARP], l[ROWS_PER_WARP], acc[ROWS_PER_WARP][DV_PER_LANE];
};

/* Load: the block's queries (once), zero past the last row. */
static __device__ void load_queries(const ea_attn_args &args, const request &req, int g, int block_row0, float *q)
{
    const int G = args.hq / args.hkv;
    for (int idx = threadIdx.x; idx < ROWS * args.dqk; idx += WARPS * WARP) {
        const int row = block_row0 + idx / args.dqk, d = idx % args.dqk;
        q[idx] = row < req.E * G
                     ? ea_load_elem(args.q, args.bf16, ((int64_t)(req.row0 + row / G) * args.hq + g * G + row % G) * args.dqk + d)
                     : 0.0f;
    }
}

/* Load: the tile's K and V rows, one element per thread and step, zero rows past n. */
static __device__ void load_tile(const ea_attn_args &args, const request &req, int g, int tile, int n, float *keys, float *values)
{
    for (int idx = threadIdx.x; idx < EA_TILE * args.dqk; idx += WARPS * WARP) {
        const int j = idx / args.dqk;
        keys[idx] = j < n ? ea_load_elem(args.k_pool, args.bf16, (req.slots[tile + j] * args.hkv + g) * args.dqk + idx % args.dqk)
                       : 0.0f;
    }
    for (int idx = threadIdx.x; idx < EA_TILE * args.dv; idx += WARPS * WARP) {
        const int j = idx / args.dv;
        values[idx] = j < n ? ea_load_elem(args.v_pool, args.bf16, (req.slots[tile + j] * args.hkv + g) * args.dv + idx % args.dv)
                       : 0.0f;
    }
}

/* Pass 1 (score): s[wr][half] = q_wr . k_(lane + 32*half), each one sequential fmaf chain over d. */
static __device__ __forceinline__ void score_tile(const ea_attn_args &args, const float *q, const float *keys, int lane,
                                           float (&s)[ROWS_PER_WARP][2])
{
#pragma unroll
    for (int wr = 0; wr < ROWS_PER_WARP; wr++)
        s[wr][0] = s[wr][1] = 0.0f;
    for (int d = 0; d < args.dqk; d++)
#pragma unroll
        for (int wr = 0; wr < ROWS_PER_WARP; wr++)
#pragma unroll
            for (int half = 0; half < 2; half++)
                s[wr][half] = __fmaf_rn(q[wr * args.dqk + d], keys[(lane + half * WARP) * args.dqk + d], s[wr][half]);
}

/* Pass 1, end: logits, visibility, the tile max (warp_max) and the probabilities p[j][wr] with
 * their visibility, for pass 2. any[wr]: row wr sees a key of the tile. */
static __device__ __forceinline__ void probabilities(const ea_attn_args &args, int i, const request &req, const warp_rows &w,
                                              int tile, int n, int lane, const float (&s)[ROWS_PER_WARP][2],
                                              float (&m_new)[ROWS_PER_WARP], bool (&any)[ROWS_PER_WARP], float *p,
                                              uint8_t *vis_of)
{
    const int G = args.hq / args.hkv;
#pragma unroll
    for (int wr = 0; wr < ROWS_PER_WARP; wr++) {
        const int row = w.row0 + wr, r = row / G;
        const uint8_t *mask_row = row < req.E * G ? mask_row_of(args, i, req, r) : nullptr;
        float x[2], mx = -INFINITY;
        bool vis[2];
#pragma unroll
        for (int half = 0; half < 2; half++) {
            const int j = lane + half * WARP;
            vis[half] = row < req.E * G && j < n && visible(args, mask_row, req.P + r, tile + j);
            x[half] = logit(args, s[wr][half]);
            if (vis[half])
                mx = fmaxf(mx, x[half]);
        }
        m_new[wr] = fmaxf(w.m[wr], warp_max(mx));
        any[wr] = __any_sync(FULL_MASK, vis[0] || vis[1]);
#pragma unroll
        for (int half = 0; half < 2; half++) {
            const int j = lane + half * WARP;
            p[j * ROWS_PER_WARP + wr] = vis[half] ? ea_expf(x[half] - m_new[wr]) : 0.0f;
            vis_of[j * ROWS_PER_WARP + wr] = vis[half];
        }
    }
}

/* Pass 2, first (softmax update): each row that sees the tile rescales to its new max. */
static __device__ __forceinline__ void rescale_state(warp_rows &w, const float (&m_new)[ROWS_PER_WARP],
                                              const bool (&any)[ROWS_PER_WARP])
{
#pragma unroll
    for (int wr = 0; wr < ROWS_PER_WARP; wr++) {
        if (!any[wr])
            continue; /* a tile with no visible key leaves the state untouched */
        if (w.m[wr] != -INFINITY) {
            const float a = ea_expf(w.m[wr] - m_new[wr]);
            w.l[wr] = w.l[wr] * a;
#pragma unroll
            for (int c = 0; c < DV_PER_LANE; c++)
                w.acc[wr][c] = w.acc[wr][c] * a;
        }
        w.m[wr] = m_new[wr];
    }
}

/* Pass 2, then (accumulate): lanes own d = lane + 32c; every key of the tile in increasing u,
 * added to the rows that see it. */
static __device__ __forceinline__ void accumulate_tile(warp_rows &w, const float *v, int dv, int n, int lane, const float *p,
                                                const uint8_t *vis_of)
{
    for (int j = 0; j < n; j++)
#pragma unroll
        for (int wr = 0; wr < ROWS_PER_WARP; wr++) {
            if (!vis_of[j * ROWS_PER_WARP + wr])
                continue;
            const float p_row = p[j * ROWS_PER_WARP + wr];
            w.l[wr] = w.l[wr] + p_row;
#pragma unroll
            for (int c = 0; c < DV_PER_LANE; c++)
                if (lane + WARP * c < dv)
                    w.acc[wr][c] = __fmaf_rn(p_row, v[j * dv + lane + WARP * c], w.acc[wr][c]);
        }
}

/* Epilogue (write): sink, normalise, round to the storage type. */
static __device__ __forceinline__ void write_rows(const ea_attn_args &args, const request &req, int g, const warp_rows &w,
                                           int lane)
{
    const int G = args.hq / args.hkv;
#pragma unroll
    for (int wr = 0; wr < ROWS_PER_WARP; wr++) {
        const int row = w.row0 + wr, h = g * G + row % G;
        if (row >= req.E * G)
            continue;
        const float den = denominator(args, h, w.m[wr], w.l[wr]);
        const int64_t o0 = ((int64_t)(req.row0 + row / G) * args.hq + h) * args.dv;
#pragma unroll
        for (int c = 0; c < DV_PER_LANE; c++)
            if (lane + WARP * c < args.dv)
                store_output(args, o0 + lane + WARP * c, w.acc[wr][c], den, w.m[wr] == -INFINITY);
    }
}

__global__ void __launch_bounds__(WARPS *WARP) attention_gqa_blocking(const ea_attn_args args)
{
    extern __shared__ __align__(16) unsigned char smem[];
    const gqa_layout L = layout_of(args.dqk, args.dv);
    float *sk = (float *)(smem + L.k), *sv = (float *)(smem + L.v), *sq = (float *)(smem + L.q);
    const int warp = threadIdx.x / WARP, lane = threadIdx.x % WARP;
    float *sp = (float *)(smem + L.p) + warp * EA_TILE * ROWS_PER_WARP;
    uint8_t *svis = smem + L.vis + warp * EA_TILE * ROWS_PER_WARP;

    const int i = blockIdx.z, g = blockIdx.y, G = args.hq / args.hkv;
    const request req = request_of(args, i);
    const int block_row0 = blockIdx.x * ROWS;
    if (block_row0 >= req.E * G)
        return; /* a uniform exit */
    load_queries(args, req, g, block_row0, sq);

    warp_rows w;
    w.row0 = block_row0 + warp * ROWS_PER_WARP;
#pragma unroll
    for (int wr = 0; wr < ROWS_PER_WARP; wr++) {
        w.m[wr] = -INFINITY, w.l[wr] = 0.0f;
#pragma unroll
        for (int c = 0; c < DV_PER_LANE; c++)
            w.acc[wr][c] = 0.0f;
    }

    int u_first, u_last;
    visible_keys(args, req, block_row0 / G, min(req.E * G - 1, block_row0 + ROWS - 1) / G, &u_first, &u_last);
    for (int tile = u_first / EA_TILE * EA_TILE; tile <= u_last; tile += EA_TILE) {
        const int n = min(EA_TILE, req.T - tile);
        __syncthreads(); /* the previous tile is no longer read */
        load_tile(args, req, g, tile, n, sk, sv);
        __syncthreads();
        float s[ROWS_PER_WARP][2], m_new[ROWS_PER_WARP];
        bool any[ROWS_PER_WARP];
        score_tile(args, sq + warp * ROWS_PER_WARP * args.dqk, sk, lane, s);
        probabilities(args, i, req, w, tile, n, lane, s, m_new, any, sp, svis);
        __syncwarp();
        rescale_state(w, m_new, any);
        accumulate_tile(w, sv, args.dv, n, lane, sp, svis);
        /* sp and svis are rewritten by the next tile's pass 1, after that tile's first barrier */
    }
    write_rows(args, req, g, w, lane);
}

extern "C" cudaError_t ea_launch_attention_3(const ea_attn_args *args, cudaStream_t stream)
{
    return launch_with_smem(attention_gqa_blocking, group_grid(*args, ROWS), WARPS * WARP,
                            layout_of(args->dqk, args->dv).bytes, *args, stream);
}
