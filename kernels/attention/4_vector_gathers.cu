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
 * Pass 2 still tests every key of the tile for every row. kernels/README.md has its time.
 *
 * Shared memory: key rows | query rows | K[64][k_stride] | V[64][dv4] | Q[32][dqk4] | p[8][64][4] | vis[8][64][4]. */
#include "gather.cuh"

#define WARPS 8
#define ROWS_PER_WARP 4
#define ROWS (WARPS * ROWS_PER_WARP)     /* 32 */
#define DV_CHUNKS (EA_MAX_HEAD_DIM / 128) /* 128-wide chunks of d a lane covers (4 d each): 2 */

struct gather_layout {
    size_t key_rows, q_rows, k, v, q, p, vis, bytes; /* byte offsets, total */
};
__host__ __device__ static inline gather_layout layout_of(int dqk, int dv)
{
    gather_layout L;
    L.key_rows = 0;                                   /* int64 [64]: row of key j in k_pool / v_pool */
    L.q_rows = L.key_rows + sizeof(int64_t) * EA_TILE; /* int64 [32]: row of each block row in q */
    L.k = L.q_rows + sizeof(int64_t) * ROWS;
    L.v = L.k + sizeof(float) * EA_TILE * k_stride(dqk);
    L.q = L.v + sizeof(float) * EA_TILE * round4(dv);
    L.p = L.q + sizeof(float) * ROWS * round4(dqk);
    L.vis = L.p + sizeof(float) * WARPS * EA_TILE * ROWS_PER_WARP;
    L.bytes = L.vis + WARPS * EA_TILE * ROWS_PER_WARP;
    return L;
}

__global__ void __launch_bounds__(WARPS *WARP, 2) attention_vector_gathers(const ea_attn_args args)
{
    extern __shared__ __align__(16) unsigned char smem[];
    const int dqk = args.dqk, dv = args.dv, ks = k_stride(dqk), qs = round4(dqk), vs = round4(dv);
    const gather_layout L = layout_of(dqk, dv);
    int64_t *key_rows = (int64_t *)(smem + L.key_rows), *q_rows = (int64_t *)(smem + L.q_rows);
    float *sk = (float *)(smem + L.k), *sv = (float *)(smem + L.v), *sq = (float *)(smem + L.q);
    float *sp = (float *)(smem + L.p);
    uint8_t *svis = smem + L.vis;

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

        /* logits, visibility, the tile max, and p = exp(x - m_new) for visible keys */
        bool any[ROWS_PER_WARP];
        float m_new[ROWS_PER_WARP];
#pragma unroll
        for (int k = 0; k < ROWS_PER_WARP; k++) {
            float x[2], mx = -INFINITY;
            bool vis[2];
            const int row = row0 + k, r = row / G;
            const uint8_t *mask_row = mask_row_of(args, i, req, r);
#pragma unroll
            for (int half = 0; half < 2; half++) {
                const int j = lane + half * WARP;
                vis[half] = row < req.E * G && j < n && visible(args, mask_row, req.P + r, tile + j);
                x[half] = vis[half] ? logit(args, s[k][half]) : -INFINITY;
                if (vis[half])
                    mx = fmaxf(mx, x[half]);
            }
            m_new[k] = fmaxf(m[k], warp_max(mx));
            any[k] = __any_sync(FULL_MASK, vis[0] || vis[1]);
#pragma unroll
            for (int half = 0; half < 2; half++) {
                const int at = (warp * EA_TILE + lane + half * WARP) * ROWS_PER_WARP + k;
                sp[at] = vis[half] ? ea_expf(x[half] - m_new[k]) : 0.0f;
                svis[at] = vis[half];
            }
        }
        __syncwarp();

        /* pass 2: rescale each row that sees the tile, then add keys in increasing u */
#pragma unroll
        for (int k = 0; k < ROWS_PER_WARP; k++) {
            if (!any[k])
                continue; /* a tile with no visible key leaves the state untouched */
            if (m[k] != -INFINITY) {
                const float a = ea_expf(m[k] - m_new[k]);
                l[k] = l[k] * a;
#pragma unroll
                for (int c = 0; c < DV_CHUNKS; c++)
#pragma unroll
                    for (int e = 0; e < 4; e++)
                        acc[k][c][e] = acc[k][c][e] * a;
            }
            m[k] = m_new[k];
        }
        for (int j = 0; j < n; j++) {
#pragma unroll
            for (int c = 0; c < DV_CHUNKS; c++) {
                if (128 * c >= vs)
                    break; /* dv <= 128: one chunk (a uniform branch) */
                const float4 v = 128 * c + 4 * lane < vs ? *(const float4 *)(sv + j * vs + 128 * c + 4 * lane)
                                                         : make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
                for (int k = 0; k < ROWS_PER_WARP; k++) {
                    const int at = (warp * EA_TILE + j) * ROWS_PER_WARP + k;
                    if (!svis[at])
                        continue;
                    acc[k][c][0] = __fmaf_rn(sp[at], v.x, acc[k][c][0]);
                    acc[k][c][1] = __fmaf_rn(sp[at], v.y, acc[k][c][1]);
                    acc[k][c][2] = __fmaf_rn(sp[at], v.z, acc[k][c][2]);
                    acc[k][c][3] = __fmaf_rn(sp[at], v.w, acc[k][c][3]);
                }
            }
#pragma unroll
            for (int k = 0; k < ROWS_PER_WARP; k++) {
                const int at = (warp * EA_TILE + j) * ROWS_PER_WARP + k;
                if (svis[at])
                    l[k] = l[k] + sp[at];
            }
        }
        __syncwarp(); /* sp and svis are rewritten by the next tile's pass 1 */
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

extern "C" cudaError_t ea_launch_attention_4(const ea_attn_args *args, cudaStream_t stream)
{
    return launch_with_smem(attention_vector_gathers, group_grid(*args, ROWS), WARPS * WARP,
                            layout_of(args->dqk, args->dv).bytes, *args, stream);
}
