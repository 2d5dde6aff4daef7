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
 * and the G query heads of a KV head load the same tiles G times.
 * Measured (H200, seed shape, kernels/README.md): 25.5 ms, 1.08x kernel 1: the tile removed the
 * pool traffic, but each fmaf still comes with a q load and an acc load and store, and those set
 * the pace. */
#include "row_state.cuh"

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

/* Load: the tile's K and V rows, keys [tile, tile + n), into k[j][d] and v[j][d], consecutive
 * threads on consecutive d. */
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

/* Pass 1 (score): kernel 1's score_tile with k from the shared tile (every thread reads the same
 * element at once: a broadcast). */
__device__ static bool score_tile(const ea_attn_args &args, const row_state &st, const float *k, int tile, int n,
                                  float *x, bool *vis, float *m_new)
{
    bool any = false;
    *m_new = st.m;
    for (int j = 0; j < n; j++) {
        vis[j] = visible(args, st.mask, st.t, tile + j);
        if (!vis[j])
            continue;
        float s = 0.0f;
        for (int d = 0; d < args.dqk; d++)
            s = __fmaf_rn(ea_load_elem(args.q, args.bf16, st.q0 + d), k[j * args.dqk + d], s);
        x[j] = logit(args, s);
        *m_new = fmaxf(*m_new, x[j]);
        any = true;
    }
    return any;
}

/* Pass 2, then (accumulate): kernel 1's accumulate_tile with v from the shared tile. */
__device__ static void accumulate_tile(const ea_attn_args &args, row_state &st, const float *v, int n, const float *x,
                                       const bool *vis)
{
    for (int j = 0; j < n; j++) {
        if (!vis[j])
            continue;
        const float p = ea_expf(x[j] - st.m);
        st.l = st.l + p;
        for (int d = 0; d < args.dv; d++)
            st.acc[d] = __fmaf_rn(p, v[j * args.dv + d], st.acc[d]);
    }
}

__global__ void __launch_bounds__(THREADS) attention_smem_tiles(const ea_attn_args args)
{
    extern __shared__ __align__(16) unsigned char smem[];
    const tile_layout L = layout_of(args.dqk, args.dv);
    float *sk = (float *)(smem + L.k), *sv = (float *)(smem + L.v);

    const int i = blockIdx.z, h = blockIdx.y, g = h / (args.hq / args.hkv);
    const request req = request_of(args, i);
    const int r0 = blockIdx.x * THREADS, r = r0 + threadIdx.x;
    if (r0 >= req.E)
        return; /* the whole block is past the request's rows: a uniform exit */
    const bool mine = r < req.E; /* rows past E still help load tiles */
    row_state st;
    begin_row(st, args, i, req, h, r);

    int u_first, u_last;
    visible_keys(args, req, r0, min(req.E - 1, r0 + THREADS - 1), &u_first, &u_last);
    for (int tile = u_first / EA_TILE * EA_TILE; tile <= u_last; tile += EA_TILE) {
        const int n = min(EA_TILE, req.T - tile);
        __syncthreads(); /* every thread is done with the previous tile */
        load_tile(args, req, g, tile, n, sk, sv);
        __syncthreads();
        float x[EA_TILE], m_new;
        bool vis[EA_TILE];
        if (!mine || !score_tile(args, st, sk, tile, n, x, vis, &m_new))
            continue; /* a tile with no visible key leaves the state untouched */
        rescale_state(st, m_new, args.dv);
        accumulate_tile(args, st, sv, n, x, vis);
    }
    if (mine)
        write_row(args, req, st);
}

extern "C" cudaError_t ea_launch_attention_2(const ea_attn_args *args, cudaStream_t stream)
{
    const unsigned blocks = (unsigned)(((args->max_extend_len > 0 ? args->max_extend_len : 1) + THREADS - 1) / THREADS);
    return launch_with_smem(attention_smem_tiles, dim3(blocks, (unsigned)args->hq, (unsigned)args->bs), THREADS,
                            layout_of(args->dqk, args->dv).bytes, *args, stream);
}
