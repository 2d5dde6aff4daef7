/* Kernel 4, vector gathers: the loads and shared-memory reads of kernel 3, made wide and
 * conflict-free.
 *
 * Adds, over kernel 3:
 *  - 16-byte gathers with 8 in flight per thread (gather.cuh): a load from the paged pool waits
 *    about a microsecond, so a thread issues 8 independent loads before it uses the first. The
 *    tile's pool rows are looked up once into shared memory (key_rows) for all of them.
 *  - Stride padding: K rows are k_stride(dqk) floats apart, chosen so that the 8 lanes of each
 *    float4 phase hit 8 different bank groups; kernel 3's 32-way conflict is gone.
 *  - float4 reads of q and k in pass 1 (still one sequential fmaf chain per score) and of v in
 *    pass 2, where a lane now owns 4 consecutive d in each 128-wide chunk.
 * Pass 2 still tests every key of the tile for every row.
 * Measured (H200, seed shape, kernels/README.md): 1.32 ms, 5.85x kernel 3. */
#include "float4_rows.cuh"

struct gather_layout {
    size_t key_rows, q_rows, k, v, q, p, vis, bytes; /* byte offsets, total */
};
__host__ __device__ static inline gather_layout layout_of(int dqk, int dv)
{
    gather_layout L;
    L.key_rows = 0;                                    /* int64 [64]: row of key j in k_pool / v_pool */
    L.q_rows = L.key_rows + sizeof(int64_t) * EA_TILE; /* int64 [32]: row of each block row in q */
    L.k = L.q_rows + sizeof(int64_t) * ROWS;
    L.v = L.k + sizeof(float) * EA_TILE * k_stride(dqk);
    L.q = L.v + sizeof(float) * EA_TILE * round4(dv);
    L.p = L.q + sizeof(float) * ROWS * round4(dqk);
    L.vis = L.p + sizeof(float) * WARPS * EA_TILE * ROWS_PER_WARP;
    L.bytes = L.vis + WARPS * EA_TILE * ROWS_PER_WARP;
    return L;
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
        float x[2], mx = -INFINITY;
        bool vis[2];
        const int row = w.row0 + wr, r = row / G;
        const uint8_t *mask_row = row < req.E * G ? mask_row_of(args, i, req, r) : nullptr;
#pragma unroll
        for (int half = 0; half < 2; half++) {
            const int j = lane + half * WARP;
            vis[half] = row < req.E * G && j < n && visible(args, mask_row, req.P + r, tile + j);
            x[half] = vis[half] ? logit(args, s[wr][half]) : -INFINITY;
            if (vis[half])
                mx = fmaxf(mx, x[half]);
        }
        m_new[wr] = fmaxf(w.m[wr], warp_max(mx));
        any[wr] = __any_sync(FULL_MASK, vis[0] || vis[1]);
#pragma unroll
        for (int half = 0; half < 2; half++) {
            const int at = (lane + half * WARP) * ROWS_PER_WARP + wr;
            p[at] = vis[half] ? ea_expf(x[half] - m_new[wr]) : 0.0f;
            vis_of[at] = vis[half];
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
            for (int c = 0; c < DV_CHUNKS; c++)
#pragma unroll
                for (int e = 0; e < 4; e++)
                    w.acc[wr][c][e] = w.acc[wr][c][e] * a;
        }
        w.m[wr] = m_new[wr];
    }
}

/* Pass 2, then (accumulate): every key of the tile in increasing u, added to the rows that see it. */
static __device__ __forceinline__ void accumulate_tile(warp_rows &w, const float *v, int vs, int n, int lane, const float *p,
                                                const uint8_t *vis_of)
{
    for (int j = 0; j < n; j++) {
#pragma unroll
        for (int c = 0; c < DV_CHUNKS; c++) {
            if (128 * c >= vs)
                break; /* dv <= 128: one chunk (a uniform branch) */
            const float4 vj = value_chunk(v, vs, j, c, lane);
#pragma unroll
            for (int wr = 0; wr < ROWS_PER_WARP; wr++)
                if (vis_of[j * ROWS_PER_WARP + wr])
                    add_scaled(w.acc[wr][c], p[j * ROWS_PER_WARP + wr], vj);
        }
#pragma unroll
        for (int wr = 0; wr < ROWS_PER_WARP; wr++)
            if (vis_of[j * ROWS_PER_WARP + wr])
                w.l[wr] = w.l[wr] + p[j * ROWS_PER_WARP + wr];
    }
}

__global__ void __launch_bounds__(WARPS *WARP, 2) attention_vector_gathers(const ea_attn_args args)
{
    extern __shared__ __align__(16) unsigned char smem[];
    const gather_layout L = layout_of(args.dqk, args.dv);
    int64_t *key_rows = (int64_t *)(smem + L.key_rows), *q_rows = (int64_t *)(smem + L.q_rows);
    float *sk = (float *)(smem + L.k), *sv = (float *)(smem + L.v), *sq = (float *)(smem + L.q);
    const int warp = threadIdx.x / WARP, lane = threadIdx.x % WARP;
    float *sp = (float *)(smem + L.p) + warp * EA_TILE * ROWS_PER_WARP;
    uint8_t *svis = smem + L.vis + warp * EA_TILE * ROWS_PER_WARP;

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
        bool any[ROWS_PER_WARP];
        score_tile(args.dqk, sq + warp * ROWS_PER_WARP * round4(args.dqk), sk, lane, s);
        probabilities(args, i, req, w, tile, n, lane, s, m_new, any, sp, svis);
        __syncwarp();
        rescale_state(w, m_new, any);
        accumulate_tile(w, sv, round4(args.dv), n, lane, sp, svis);
        /* sp and svis are rewritten by the next tile's pass 1, after that tile's first barrier */
    }
    write_rows(args, req, g, w, lane);
}

extern "C" cudaError_t ea_launch_attention_4(const ea_attn_args *args, cudaStream_t stream)
{
    return launch_with_smem(attention_vector_gathers, group_grid(*args, ROWS), WARPS * WARP,
                            layout_of(args->dqk, args->dv).bytes, *args, stream);
}
