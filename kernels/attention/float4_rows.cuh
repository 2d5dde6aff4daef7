/* The stages kernels 4 and 5 share: a warp's 4 rows with their state in float4-wide registers, the
 * gathered loads, pass 1's float4 scores, and the epilogue. Kernel 4 adds these to kernel 3; kernel
 * 5 keeps them and changes only how pass 2 finds the visible keys. */
#ifndef EA_ATTENTION_FLOAT4_ROWS_CUH
#define EA_ATTENTION_FLOAT4_ROWS_CUH

#include "gather.cuh"

#define WARPS 8
#define ROWS_PER_WARP 4
#define ROWS (WARPS * ROWS_PER_WARP)     /* rows per block: 32 */
#define DV_CHUNKS (EA_MAX_HEAD_DIM / 128) /* 128-wide chunks of d; a lane owns 4 d of each: 2 */

/* A warp's rows row0 .. row0+3 of the group's query matrix (row wr is query row (row0+wr)/G) and
 * their online-softmax state; lane l holds dimensions 128c + 4l .. 128c + 4l + 3 of each acc. */
struct warp_rows {
    int row0;
    float m[ROWS_PER_WARP], l[ROWS_PER_WARP], acc[ROWS_PER_WARP][DV_CHUNKS][4];
};

static __device__ __forceinline__ void begin_rows(warp_rows &w, int row0)
{
    w.row0 = row0;
#pragma unroll
    for (int wr = 0; wr < ROWS_PER_WARP; wr++) {
        w.m[wr] = -INFINITY;
        w.l[wr] = 0.0f;
#pragma unroll
        for (int c = 0; c < DV_CHUNKS; c++)
#pragma unroll
            for (int e = 0; e < 4; e++)
                w.acc[wr][c][e] = 0.0f;
    }
}

/* Load: the block's queries, zero past the last row (q_rows: the row of q of each block row). */
static __device__ __forceinline__ void load_queries(const ea_attn_args &args, const request &req, int g, int block_row0,
                                             int64_t *q_rows, float *q)
{
    const int G = args.hq / args.hkv;
    if (threadIdx.x < ROWS) {
        const int row = block_row0 + threadIdx.x;
        q_rows[threadIdx.x] = row < req.E * G ? (int64_t)(req.row0 + row / G) * args.hq + g * G + row % G : -1;
    }
    __syncthreads();
    gather_rows(q, round4(args.dqk), round4(args.dqk), args.q, args.bf16, args.dqk, q_rows, ROWS);
}

/* Load: the tile's pool rows once (key_rows), then its K and V rows; rows past n are zero. */
static __device__ __forceinline__ void load_tile(const ea_attn_args &args, const request &req, int g, int tile, int n,
                                          int64_t *key_rows, float *keys, float *values)
{
    __syncthreads(); /* the previous tile is no longer read */
    if (threadIdx.x < EA_TILE)
        key_rows[threadIdx.x] = (int)threadIdx.x < n ? req.slots[tile + threadIdx.x] * args.hkv + g : -1;
    __syncthreads();
    gather_rows(keys, k_stride(args.dqk), round4(args.dqk), args.k_pool, args.bf16, args.dqk, key_rows, EA_TILE);
    gather_rows(values, round4(args.dv), round4(args.dv), args.v_pool, args.bf16, args.dv, key_rows, EA_TILE);
    __syncthreads();
}

/* Pass 1 (score): s[wr][half] = q_wr . k_(lane + 32*half), each one sequential fmaf chain over d,
 * read 4 d at a time (q: the warp's 4 query rows). */
static __device__ __forceinline__ void score_tile(int dqk, const float *q, const float *keys, int lane,
                                           float (&s)[ROWS_PER_WARP][2])
{
    const int ks = k_stride(dqk), qs = round4(dqk), d4 = dqk & ~3;
    const float *k0 = keys + lane * ks, *k1 = keys + (lane + WARP) * ks;
#pragma unroll
    for (int wr = 0; wr < ROWS_PER_WARP; wr++)
        s[wr][0] = s[wr][1] = 0.0f;
    for (int d = 0; d < d4; d += 4) {
        const float4 a0 = *(const float4 *)(k0 + d), a1 = *(const float4 *)(k1 + d);
#pragma unroll
        for (int wr = 0; wr < ROWS_PER_WARP; wr++) {
            const float4 qv = *(const float4 *)(q + wr * qs + d);
            s[wr][0] = __fmaf_rn(qv.x, a0.x, s[wr][0]);
            s[wr][1] = __fmaf_rn(qv.x, a1.x, s[wr][1]);
            s[wr][0] = __fmaf_rn(qv.y, a0.y, s[wr][0]);
            s[wr][1] = __fmaf_rn(qv.y, a1.y, s[wr][1]);
            s[wr][0] = __fmaf_rn(qv.z, a0.z, s[wr][0]);
            s[wr][1] = __fmaf_rn(qv.z, a1.z, s[wr][1]);
            s[wr][0] = __fmaf_rn(qv.w, a0.w, s[wr][0]);
            s[wr][1] = __fmaf_rn(qv.w, a1.w, s[wr][1]);
        }
    }
    for (int d = d4; d < dqk; d++) {
#pragma unroll
        for (int wr = 0; wr < ROWS_PER_WARP; wr++) {
            s[wr][0] = __fmaf_rn(q[wr * qs + d], k0[d], s[wr][0]);
            s[wr][1] = __fmaf_rn(q[wr * qs + d], k1[d], s[wr][1]);
        }
    }
}

/* Pass 2's operand: dimensions 128c + 4*lane .. +3 of value row j (zeros past dv). */
static __device__ __forceinline__ float4 value_chunk(const float *v, int vs, int j, int c, int lane)
{
    return 128 * c + 4 * lane < vs ? *(const float4 *)(v + j * vs + 128 * c + 4 * lane) : make_float4(0.f, 0.f, 0.f, 0.f);
}

/* acc[c][*] += p * v, one exactly rounded fmaf per dimension. */
static __device__ __forceinline__ void add_scaled(float (&acc)[4], float p, float4 v)
{
    acc[0] = __fmaf_rn(p, v.x, acc[0]);
    acc[1] = __fmaf_rn(p, v.y, acc[1]);
    acc[2] = __fmaf_rn(p, v.z, acc[2]);
    acc[3] = __fmaf_rn(p, v.w, acc[3]);
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
        const int64_t o0 = ((int64_t)(req.row0 + row / G) * args.hq + h) * args.dv;
        const float den = denominator(args, h, w.m[wr], w.l[wr]);
#pragma unroll
        for (int c = 0; c < DV_CHUNKS; c++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int d = 128 * c + 4 * lane + e;
                if (d < args.dv)
                    store_output(args, o0 + d, w.acc[wr][c][e], den, w.m[wr] == -INFINITY);
            }
    }
}

#endif
