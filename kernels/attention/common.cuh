/* What the numbered attention kernels 1-5 share: the request a block works on, the rules of the
 * contract (ea_rules.h, the same functions the CPU reference calls), the logit, and the epilogue.
 *
 * One vocabulary with reference/canonical.c:
 *   i    request (blockIdx.z)              g   KV head (blockIdx.y)       G = Hq / Hkv
 *   hh   query head within the group       h = g*G + hh, the query head
 *   r    query row of the request, 0..E-1  t = P + r, its absolute position
 *   row  = r*G + hh: a row of the group's query matrix (E*G rows; "pair" in older texts)
 *   wr   a warp's own row index, 0..3, when a warp owns 4 rows (kernels 3-5)
 *   u    unified key, 0..P+E-1             tile = the first u of a 64-key tile, j = u - tile
 *   s    score q.k   x  logit (scaled, capped)   m  running max   l  running sum   acc  sum p*v
 *   a    rescale factor ea_expf(m - m_new)       p  probability ea_expf(x - m_new)
 * Every kernel computes DESIGN.md section 2's canonical order (the tensor-core one, section
 * 6.2's); they differ only in how the work is spread over threads and memory. */
#ifndef EA_ATTENTION_COMMON_CUH
#define EA_ATTENTION_COMMON_CUH

#include "ea_kernels.h"
#include "ea_math.h"
#include "ea_rules.h"

#define WARP 32
#define FULL_MASK 0xffffffffu

/* The part of the batch one block needs about its request. */
struct request {
    int row0;             /* first row of q and o */
    int E, P, T;          /* new tokens, cached prefix, unified keys (P + E) */
    const int64_t *slots; /* its unified key sequence: pool slot of key u */
};

__device__ inline request request_of(const ea_attn_args &args, int i)
{
    request req;
    req.row0 = args.qo_indptr[i];
    req.E = args.qo_indptr[i + 1] - req.row0;
    req.P = args.prefix_lens[i];
    req.T = args.unified_kv_indptr[i + 1] - args.unified_kv_indptr[i];
    req.slots = args.unified_kv_indices + args.unified_kv_indptr[i];
    return req;
}

/* Query row r's custom mask (T bytes), or NULL. */
__device__ inline const uint8_t *mask_row_of(const ea_attn_args &args, int i, const request &req, int r)
{
    return args.custom_mask ? args.custom_mask + args.mask_indptr[i] + (int64_t)r * req.T : nullptr;
}

/* DESIGN.md section 1, the same function as the CPU's. */
__device__ inline bool visible(const ea_attn_args &args, const uint8_t *mask_row, int t, int u)
{
    return ea_visible_rule(args.causal, args.sliding_window, mask_row, t, u);
}

/* The score's logit: scaled, then capped (DESIGN.md section 2). */
__device__ inline float logit(const ea_attn_args &args, float s)
{
    float x = s * args.sm_scale;
    if (args.logit_cap > 0.0f)
        x = args.logit_cap * ea_tanhf(x / args.logit_cap);
    return x;
}

/* The keys query rows [r_min, r_max] can see at most, [*u_first, *u_last]: without a custom
 * mask, causality ends them and the window starts them. A block skips the tiles outside. */
__device__ inline void visible_keys(const ea_attn_args &args, const request &req, int r_min, int r_max, int *u_first,
                                    int *u_last)
{
    *u_first = 0, *u_last = req.T - 1;
    if (!args.custom_mask) {
        if (args.causal)
            *u_last = min(*u_last, req.P + r_max);
        if (args.sliding_window >= 0)
            *u_first = max(0, req.P + r_min - args.sliding_window);
    }
}

/* The epilogue's denominator: l, plus the sink's share when the row saw a key. */
__device__ inline float denominator(const ea_attn_args &args, int h, float m, float l)
{
    return args.sinks && m != -INFINITY ? l + ea_expf(args.sinks[h] - m) : l;
}

/* Output element idx: acc / den rounded to the storage type, or 0 for a row that saw no key. */
__device__ inline void store_output(const ea_attn_args &args, int64_t idx, float acc, float den, bool empty)
{
    ea_store_elem(args.o, args.bf16, idx, empty ? 0.0f : acc / den);
}

/* The largest of every lane's x: max is exact, so the butterfly's order cannot change it
 * (fmaxf ignores a NaN operand on either side). */
__device__ inline float warp_max(float x)
{
#pragma unroll
    for (int off = WARP / 2; off > 0; off /= 2)
        x = fmaxf(x, __shfl_xor_sync(FULL_MASK, x, off));
    return x;
}

/* Opts in to more than 48 KB of dynamic shared memory, then launches. */
template <typename Kernel>
static cudaError_t launch_with_smem(Kernel kernel, dim3 grid, int threads, size_t smem, const ea_attn_args &args,
                                    cudaStream_t stream)
{
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess)
        return e;
    kernel<<<grid, threads, smem, stream>>>(args);
    return cudaGetLastError();
}

/* Blocks of `rows_per_block` rows of the group's query matrix: (blocks, Hkv, bs). */
static inline dim3 group_grid(const ea_attn_args &args, int rows_per_block)
{
    const long long rows = (long long)(args.max_extend_len > 0 ? args.max_extend_len : 1) * (args.hq / args.hkv);
    return dim3((unsigned)((rows + rows_per_block - 1) / rows_per_block), (unsigned)args.hkv, (unsigned)args.bs);
}

#endif
