/* Kernel 2, shared-memory tiles: a block of 64 query rows of one query head loads each tile of
 * keys once.
 *
 * Adds: the tile as a unit of memory traffic. Kernel 1 read every key from the pool once per
 * thread; here the block's threads copy the tile's 64 K and V rows into shared memory together
 * (consecutive threads, consecutive d: coalesced), wait at a barrier, and then every thread
 * scores and adds from shared memory, where all 64 threads read the same key element at once
 * (a broadcast). Tiles that no row of the block can see (causality, the window) are not loaded.
 * Each thread still owns one row and runs kernel 1's passes, so the order is unchanged.
 * Costs left: q is read from global memory inside the score loop, acc[256] is in local memory,
 * and the G query heads of a KV head load the same tiles G times. kernels/README.md has its time. */
#include "common.cuh"

#define THREADS EA_TILE /* one thread per query row, as many as keys per tile */

/* Shared memory: K then V of one tile, fp32. The launch's size and the kernel's pointers both
 * come from this one function. */
struct tile_layout {
    size_t k, v, bytes; /* byte offsets, total */
};
__host__ __device__ static inline tile_layout layout_of(int dqk, int dv)
{
    tile_layout L;
    L.k = 0;
    L.v = L.k + sizeof(float) * EA_TILE * dqk;
    L.bytes = L.v + sizeof(float) * EA_TILE * dv;
    return L;
}

/* The tile's K and V rows, keys [tile, tile + n), into k[j][d] and v[j][d]. */
__device__ static void load_tile(const ea_attn_args &args, const request &req, int g, int tile, int n, float *k,
                                 float *v)
{
    for (int idx = threadIdx.x; idx < n * args.dqk; idx += THREADS) {
        const int j = idx / args.dqk, d = idx % args.dqk;
        k[idx] = ea_load_elem(args.k_pool, args.bf16, (req.slots[tile + j] * args.hkv + g) * args.dqk + d);
    }
    for (int idx = threadIdx.x; idx < n * args.dv; idx += THREADS) {
        const int j = idx / args.dv, d = idx % args.dv;
        v[idx] = ea_load_elem(args.v_pool, args.bf16, (req.slots[tile + j] * args.hkv + g) * args.dv + d);
    }
}

__global__ void __launch_bounds__(THREADS) attention_smem_tiles(const ea_attn_args args)
{
    extern __shared__ __align__(16) unsigned char smem[];
    const tile_layout L = layout_of(args.dqk, args.dv);
    float *sk = (float *)(smem + L.k), *sv = (float *)(smem + L.v);

    const int i = blockIdx.z, h = blockIdx.y, g = h / (args.hq / args.hkv);
    const request req = request_of(args, i);
    const int r0 = blockIdx.x * THREADS, r = r0 + threadIdx.x, t = req.P + r;
    if (r0 >= req.E)
        return; /* the whole block is past the request's rows: a uniform exit */
    const bool mine = r < req.E; /* rows past E still help load tiles */
    const uint8_t *mask_row = mine ? mask_row_of(args, i, req, r) : nullptr;
    const int64_t q0 = ((int64_t)(req.row0 + r) * args.hq + h) * args.dqk;

    float m = -INFINITY, l = 0.0f, acc[EA_MAX_HEAD_DIM];
    for (int d = 0; d < args.dv; d++)
        acc[d] = 0.0f;

    int u_first, u_last;
    visible_keys(args, req, r0, min(req.E - 1, r0 + THREADS - 1), &u_first, &u_last);
    for (int tile = u_first / EA_TILE * EA_TILE; tile <= u_last; tile += EA_TILE) {
        const int n = min(EA_TILE, req.T - tile);
        __syncthreads(); /* every thread is done with the previous tile */
        load_tile(args, req, g, tile, n, sk, sv);
        __syncthreads();
        if (!mine)
            continue;

        /* pass 1: the logits of the visible keys and their max */
        float x[EA_TILE];
        bool vis[EA_TILE], any = false;
        float m_new = m;
        for (int j = 0; j < n; j++) {
            vis[j] = visible(args, mask_row, t, tile + j);
            if (!vis[j])
                continue;
            float s = 0.0f;
            for (int d = 0; d < args.dqk; d++)
                s = __fmaf_rn(ea_load_elem(args.q, args.bf16, q0 + d), sk[j * args.dqk + d], s);
            x[j] = logit(args, s);
            m_new = fmaxf(m_new, x[j]);
            any = true;
        }
        if (!any)
            continue;

        /* pass 2: rescale, then add the tile's keys in increasing u */
        if (m != -INFINITY) {
            const float a = ea_expf(m - m_new);
            l = l * a;
            for (int d = 0; d < args.dv; d++)
                acc[d] = acc[d] * a;
        }
        for (int j = 0; j < n; j++) {
            if (!vis[j])
                continue;
            const float p = ea_expf(x[j] - m_new);
            l = l + p;
            for (int d = 0; d < args.dv; d++)
                acc[d] = __fmaf_rn(p, sv[j * args.dv + d], acc[d]);
        }
        m = m_new;
    }
    if (!mine)
        return;

    const float den = denominator(args, h, m, l);
    const int64_t o0 = ((int64_t)(req.row0 + r) * args.hq + h) * args.dv;
    for (int d = 0; d < args.dv; d++)
        store_output(args, o0 + d, acc[d], den, m == -INFINITY);
}

extern "C" cudaError_t ea_launch_attention_2(const ea_attn_args *args, cudaStream_t stream)
{
    const unsigned blocks = (unsigned)(((args->max_extend_len > 0 ? args->max_extend_len : 1) + THREADS - 1) / THREADS);
    return launch_with_smem(attention_smem_tiles, dim3(blocks, (unsigned)args->hq, (unsigned)args->bs), THREADS,
                            layout_of(args->dqk, args->dv).bytes, *args, stream);
}
