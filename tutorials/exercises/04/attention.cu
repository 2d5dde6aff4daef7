/* The extend-attention kernel: DESIGN.md section 2's canonical order on the GPU.
 *
 * One launch for the whole batch. grid = (pair blocks, Hkv, bs); block (x, g, i)
 * owns EA_ATTN_PAIRS consecutive (query row, query head) pairs of request i
 * whose heads share KV head g (pair = r*G + hh). For each tile of 64 unified
 * keys of request i:
 *   load:   the block gathers the tile's K and V rows from the paged pool into
 *           shared memory once (coalesced along d); all 32 pairs, i.e. several
 *           rows and every query head of the group (GQA), reuse them.
 *   pass 1: each warp scores its 4 pairs x 64 keys: lane l owns keys l and
 *           l+32 and runs each score as ONE sequential fmaf chain over d, as
 *           the contract requires (no split of the dot product across lanes).
 *           The tile max is a warp reduction: max is exact, so any order gives
 *           the same value (fmaxf ignores NaN operands on both sides).
 *   pass 2: lanes own output dimensions (4 consecutive d per lane and 128-wide
 *           chunk); for each visible key, in increasing u, every lane adds
 *           p and p*v to its pairs' state -- the sequential order of l and acc
 *           that the CPU reference uses.
 * Tiles that no row of the block can see (causal / window) are not loaded.
 *
 * Shared memory (dynamic): row offsets[64+32] | K[64][ks] | V[64][dv4] | Q[32][dqk4] | p[8 warps][64][4 pairs]
 * Every arithmetic operation is an exactly rounded IEEE op or __fmaf_rn, built
 * with -fmad=false, so results equal the CPU's bit for bit. */
#include "ea_kernels.h"
#include "ea_math.h"

#define TILE EA_TILE
#define WARP 32
#define PPW (EA_ATTN_PAIRS / EA_ATTN_WARPS) /* pairs per warp: 4 */
#define DV_CHUNKS (EA_MAX_HEAD_DIM / 128)   /* 128-wide chunks of d a lane covers: 2 */
#define FULL 0xffffffffu
#ifndef EA_ATTN_MIN_BLOCKS
#define EA_ATTN_MIN_BLOCKS 2 /* two blocks per SM: one loads its tile while the other computes */
#endif

static_assert(PPW == 4, "pass 2 reads the 4 pairs' probabilities of a key as one float4");
static_assert(EA_ATTN_WARPS * WARP == 256, "the kernel is written for 256 threads");

/* Row strides in floats. Q and V rows are padded to a multiple of 4 for float4
 * access. K rows get 4 more floats when that makes the stride/4 odd: the 8 lanes
 * of each float4 phase then hit 8 different bank groups (conflict-free). */
__host__ __device__ static inline int round4(int x) { return (x + 3) & ~3; }
__host__ __device__ static inline int k_stride(int dqk) { return (round4(dqk) / 4) % 2 == 0 ? round4(dqk) + 4 : round4(dqk); }

extern "C" size_t ea_attn_smem_bytes(int32_t dqk, int32_t dv)
{
    return sizeof(int64_t) * (TILE + EA_ATTN_PAIRS) + sizeof(float) * ((size_t)TILE * k_stride(dqk) + (size_t)TILE * round4(dv) +
                                                     (size_t)EA_ATTN_PAIRS * round4(dqk) +
                                                     (size_t)EA_ATTN_WARPS * TILE * PPW);
}

__device__ static inline float load_elem(const void *t, int bf16, int64_t i)
{
    return bf16 ? ea_bf16_to_f32(((const uint16_t *)t)[i]) : ((const float *)t)[i];
}

/* Gathers `rows` rows of `dim` elements into dst[r * stride + d] (fp32), row r
 * being row row_idx[r] of src seen as [*, dim] (-1: a row of zeros), and zeroes the
 * padding columns [dim, width). Each thread first issues up to 8 independent
 * loads, then converts and stores them: a load from the pool costs ~1 us of
 * latency, so loads must be in flight together, not one after another. Rows
 * whose size is a multiple of 16 bytes are read 16 bytes at a time. */
#define GATHER_UNROLL 8
__device__ static void gather_rows(float *dst, int stride, int width, const void *src, int bf16, int dim,
                                   const int64_t *row_idx, int rows)
{
    const int tid = threadIdx.x, nthr = blockDim.x, es = bf16 ? 2 : 4;
    if ((dim * es) % 16 == 0) {
        const int per = 16 / es, vpr = dim / per, total = rows * vpr;
        for (int base = tid; base < total; base += nthr * GATHER_UNROLL) {
            uint4 r[GATHER_UNROLL];
#pragma unroll
            for (int u = 0; u < GATHER_UNROLL; u++) {
                const int idx = base + u * nthr, j = idx / vpr, c = idx % vpr;
                r[u] = make_uint4(0u, 0u, 0u, 0u);
                if (idx < total && row_idx[j] >= 0)
                    r[u] = __ldg((const uint4 *)((const char *)src + row_idx[j] * dim * es) + c);
            }
#pragma unroll
            for (int u = 0; u < GATHER_UNROLL; u++) {
                const int idx = base + u * nthr, j = idx / vpr, c = idx % vpr;
                if (idx >= total)
                    break;
                float *d = dst + j * stride + c * per;
                if (bf16) {
                    const uint32_t w[4] = {r[u].x, r[u].y, r[u].z, r[u].w};
                    *(float4 *)d = make_float4(ea_bf16_to_f32((uint16_t)w[0]), ea_bf16_to_f32((uint16_t)(w[0] >> 16)),
                                               ea_bf16_to_f32((uint16_t)w[1]), ea_bf16_to_f32((uint16_t)(w[1] >> 16)));
                    *(float4 *)(d + 4) =
                        make_float4(ea_bf16_to_f32((uint16_t)w[2]), ea_bf16_to_f32((uint16_t)(w[2] >> 16)),
                                    ea_bf16_to_f32((uint16_t)w[3]), ea_bf16_to_f32((uint16_t)(w[3] >> 16)));
                } else {
                    *(float4 *)d = make_float4(__uint_as_float(r[u].x), __uint_as_float(r[u].y),
                                               __uint_as_float(r[u].z), __uint_as_float(r[u].w));
                }
            }
        }
    } else {
        const int total = rows * dim;
        for (int base = tid; base < total; base += nthr * GATHER_UNROLL) {
            float r[GATHER_UNROLL];
#pragma unroll
            for (int u = 0; u < GATHER_UNROLL; u++) {
                const int idx = base + u * nthr, j = idx / dim;
                r[u] = idx < total && row_idx[j] >= 0 ? load_elem(src, bf16, row_idx[j] * dim + idx % dim) : 0.0f;
            }
#pragma unroll
            for (int u = 0; u < GATHER_UNROLL; u++) {
                const int idx = base + u * nthr;
                if (idx < total)
                    dst[(idx / dim) * stride + idx % dim] = r[u];
            }
        }
    }
    const int pad = width - dim;
    for (int idx = tid; idx < rows * pad; idx += nthr)
        dst[(idx / pad) * stride + dim + idx % pad] = 0.0f;
}

/* DESIGN.md section 1's visibility rule for query position t and key u. */
__device__ static inline bool visible(const ea_attn_args &a, const uint8_t *mask_row, int t, int u)
{
    bool v = mask_row ? mask_row[u] != 0 : (!a.causal || u <= t);
    if (a.sliding_window >= 0 && t - u > a.sliding_window)
        v = false;
    return v;
}

__global__ void __launch_bounds__(256, EA_ATTN_MIN_BLOCKS) ea_attention_kernel(const ea_attn_args a)
{
    extern __shared__ __align__(16) unsigned char smem[];
    const int dqk = a.dqk, dv = a.dv, ks = k_stride(dqk), qs = round4(dqk), vs = round4(dv);
    int64_t *s_krow = (int64_t *)smem;        /* row of each key in k_pool / v_pool: slot * Hkv + g */
    int64_t *s_qrow = s_krow + TILE;          /* row of each pair's query in q: token * Hq + head */
    float *sk = (float *)(s_qrow + EA_ATTN_PAIRS);
    float *sv = sk + TILE * ks;
    float *sq = sv + TILE * vs;
    float *sp = sq + EA_ATTN_PAIRS * qs;

    const int i = blockIdx.z, g = blockIdx.y, tid = threadIdx.x, warp = tid / WARP, lane = tid % WARP;
    const int G = a.hq / a.hkv;
    const int row0 = a.qo_indptr[i];
    const int E = a.qo_indptr[i + 1] - row0;
    const int pair0 = blockIdx.x * EA_ATTN_PAIRS;
    if (pair0 >= E * G)
        return; /* the whole block is past this request's rows: a uniform exit */
    const int P = a.prefix_lens[i];
    const int T = a.unified_kv_indptr[i + 1] - a.unified_kv_indptr[i];
    const int64_t *slots = a.unified_kv_indices + a.unified_kv_indptr[i];
    const int bf16 = a.bf16;

    /* the block's queries, zero past the last pair */
    if (tid < EA_ATTN_PAIRS) {
        const int pair = pair0 + tid;
        s_qrow[tid] = pair < E * G ? (int64_t)(row0 + pair / G) * a.hq + g * G + pair % G : -1;
    }
    __syncthreads();
    gather_rows(sq, qs, qs, a.q, bf16, dqk, s_qrow, EA_ATTN_PAIRS);

    /* this warp's 4 pairs and their online-softmax state */
    const int my_pair0 = pair0 + warp * PPW; /* pairs my_pair0 .. +3; pair k is row (my_pair0+k)/G */
    float m[PPW], l[PPW], acc[PPW][DV_CHUNKS][4];
#pragma unroll
    for (int k = 0; k < PPW; k++) {
        m[k] = -INFINITY;
        l[k] = 0.0f;
#pragma unroll
        for (int c = 0; c < DV_CHUNKS; c++)
#pragma unroll
            for (int e = 0; e < 4; e++)
                acc[k][c][e] = 0.0f;
    }

    /* tiles some row of the block can see: [u_first, u_last] */
    const int r_min = pair0 / G, r_max = min(E * G - 1, pair0 + EA_ATTN_PAIRS - 1) / G;
    int u_first = 0, u_last = T - 1;
    if (!a.custom_mask) {
        if (a.causal)
            u_last = min(u_last, P + r_max);
        if (a.sliding_window >= 0)
            u_first = max(0, P + r_min - a.sliding_window);
    }

    for (int tile = u_first / TILE * TILE; tile <= u_last; tile += TILE) {
        const int n = min(TILE, T - tile);
        __syncthreads(); /* the previous tile is no longer read */
        if (tid < TILE)
            s_krow[tid] = tid < n ? slots[tile + tid] * a.hkv + g : -1;
        __syncthreads();
        /* gather K and V rows from the paged pool; rows past n are zero */
        gather_rows(sk, ks, qs, a.k_pool, bf16, dqk, s_krow, TILE);
        gather_rows(sv, vs, vs, a.v_pool, bf16, dv, s_krow, TILE);
        __syncthreads();

        /* pass 1: s[k][h] = q_k . k_{lane + 32h}, each a sequential fmaf chain over d */
        float s[PPW][2];
#pragma unroll
        for (int k = 0; k < PPW; k++)
            s[k][0] = s[k][1] = 0.0f;
        const float *k0 = sk + lane * ks, *k1 = sk + (lane + WARP) * ks;
        const float *qw = sq + warp * PPW * qs;
        const int d4 = dqk & ~3;
        for (int d = 0; d < d4; d += 4) {
            const float4 a0 = *(const float4 *)(k0 + d), a1 = *(const float4 *)(k1 + d);
#pragma unroll
            for (int k = 0; k < PPW; k++) {
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
            for (int k = 0; k < PPW; k++) {
                s[k][0] = __fmaf_rn(qw[k * qs + d], k0[d], s[k][0]);
                s[k][1] = __fmaf_rn(qw[k * qs + d], k1[d], s[k][1]);
            }
        }

        /* scale, cap, visibility, tile max, and p = exp(s - m_new) for visible keys */
        unsigned vis_bits[PPW][2], any = 0;
        float m_new[PPW];
#pragma unroll
        for (int k = 0; k < PPW; k++) {
            float x[2], mx = -INFINITY;
            const int pair = my_pair0 + k, r = pair / G;
            const uint8_t *mask_row = a.custom_mask ? a.custom_mask + a.mask_indptr[i] + (int64_t)r * T : 0;
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int j = lane + h * WARP;
                const bool vis = pair < E * G && j < n && visible(a, mask_row, P + r, tile + j);
                x[h] = s[k][h] * a.sm_scale;
                if (vis && a.logit_cap > 0.0f)
                    x[h] = a.logit_cap * ea_tanhf(x[h] / a.logit_cap);
                if (vis)
                    mx = fmaxf(mx, x[h]);
                vis_bits[k][h] = __ballot_sync(FULL, vis);
                if (!vis)
                    x[h] = -INFINITY;
            }
#pragma unroll
            for (int off = 16; off > 0; off /= 2)
                mx = fmaxf(mx, __shfl_xor_sync(FULL, mx, off));
            m_new[k] = fmaxf(m[k], mx);
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const bool vis = (vis_bits[k][h] >> lane) & 1u;
                sp[(warp * TILE + lane + h * WARP) * PPW + k] = vis ? ea_expf(x[h] - m_new[k]) : 0.0f;
            }
            any |= vis_bits[k][0] | vis_bits[k][1];
        }
        if (!any)
            continue; /* no pair of this warp sees a key of this tile (uniform per warp) */
        __syncwarp();

        /* pass 2: rescale the state of every pair that sees this tile, then add keys in increasing u */
        /* TODO (exercise 4): for every pair k that sees a key of this tile: if m[k] is finite, rescale l[k] and acc[k][*][*] by ea_expf(m[k] - m_new[k]); then m[k] = m_new[k].
           The page tutorials/04-gpu-kernel.md explains it; `make exercise 4` checks your code. */
#pragma unroll
        for (int h = 0; h < 2; h++) {
            unsigned bits = vis_bits[0][h] | vis_bits[1][h] | vis_bits[2][h] | vis_bits[3][h];
            /* common case (whole prefix tiles, rows past the diagonal): all 4 pairs see the
             * same keys, so no per-pair test is needed inside the loop */
            const bool same = vis_bits[0][h] == bits && vis_bits[1][h] == bits && vis_bits[2][h] == bits &&
                              vis_bits[3][h] == bits;
            while (bits) {
                const int j = __ffs(bits) - 1 + h * WARP;
                bits &= bits - 1;
                const float4 pk = *(const float4 *)(sp + (warp * TILE + j) * PPW);
                const float pv[PPW] = {pk.x, pk.y, pk.z, pk.w};
#pragma unroll
                for (int c = 0; c < DV_CHUNKS; c++) {
                    if (128 * c >= vs)
                        break; /* dv <= 128: one chunk (a uniform branch) */
                    const float4 v = 128 * c + 4 * lane < vs ? *(const float4 *)(sv + j * vs + 128 * c + 4 * lane)
                                                             : make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
                    for (int k = 0; k < PPW; k++) {
                        if (!same && !((vis_bits[k][h] >> (j - h * WARP)) & 1u))
                            continue;
                        acc[k][c][0] = __fmaf_rn(pv[k], v.x, acc[k][c][0]);
                        acc[k][c][1] = __fmaf_rn(pv[k], v.y, acc[k][c][1]);
                        acc[k][c][2] = __fmaf_rn(pv[k], v.z, acc[k][c][2]);
                        acc[k][c][3] = __fmaf_rn(pv[k], v.w, acc[k][c][3]);
                    }
                }
#pragma unroll
                for (int k = 0; k < PPW; k++)
                    if (same || ((vis_bits[k][h] >> (j - h * WARP)) & 1u))
                        l[k] = l[k] + pv[k];
            }
        }
    }

    /* epilogue: sink, normalise, round to the storage type */
#pragma unroll
    for (int k = 0; k < PPW; k++) {
        const int pair = my_pair0 + k, h = g * G + pair % G;
        if (pair >= E * G)
            continue;
        const int64_t obase = ((int64_t)(row0 + pair / G) * a.hq + h) * dv;
        const bool empty = m[k] == -INFINITY; /* no visible key */
        float lk = l[k];
        if (!empty && a.sinks)
            lk = lk + ea_expf(a.sinks[h] - m[k]);
#pragma unroll
        for (int c = 0; c < DV_CHUNKS; c++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int d = 128 * c + 4 * lane + e;
                if (d >= dv)
                    continue;
                const float x = empty ? 0.0f : acc[k][c][e] / lk;
                if (bf16)
                    ((uint16_t *)a.o)[obase + d] = ea_f32_to_bf16(x);
                else
                    ((float *)a.o)[obase + d] = x;
            }
    }
}

static dim3 attention_grid(const ea_attn_args *a)
{
    const int G = a->hq / a->hkv;
    const long long pairs = (long long)(a->max_extend_len > 0 ? a->max_extend_len : 1) * G;
    return dim3((unsigned)((pairs + EA_ATTN_PAIRS - 1) / EA_ATTN_PAIRS), (unsigned)a->hkv, (unsigned)a->bs);
}

extern "C" cudaError_t ea_launch_attention(const ea_attn_args *a, cudaStream_t s)
{
    const size_t smem = ea_attn_smem_bytes(a->dqk, a->dv);
    /* above 48 KB a kernel must opt in to more dynamic shared memory */
    cudaError_t e = cudaFuncSetAttribute(ea_attention_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess)
        return e;
    ea_attention_kernel<<<attention_grid(a), EA_ATTN_WARPS * WARP, smem, s>>>(*a);
    return cudaGetLastError();
}

extern "C" cudaError_t ea_launch_attention_bad_smem(const ea_attn_args *a, cudaStream_t s)
{
    /* 1 GB of shared memory exists on no GPU: the launch must fail cleanly */
    ea_attention_kernel<<<attention_grid(a), EA_ATTN_WARPS * WARP, (size_t)1 << 30, s>>>(*a);
    return cudaGetLastError();
}
