/* Kernel 1, naive: one thread per row of the group's query matrix (one query row, one query head).
 *
 * Adds: the GPU at all. Each thread walks its request's unified keys in tiles of 64, exactly as
 * reference/canonical.c does for one row, in the stages every later kernel keeps: score_tile
 * (pass 1: the visible keys' logits, each score a sequential fmaf chain over d, q and k read
 * straight from global memory), rescale_state and accumulate_tile (pass 2: the softmax update,
 * then p and p*v key by key) and write_row (the epilogue). Nothing is shared between threads, so
 * the kernel is short and, because the order is the canonical one, already bitwise equal to the CPU.
 * Costs: every thread reads every key it sees from the pool itself (G*E times per key), and
 * acc[256] and the tile's logits live in local memory.
 * Measured (H200, seed shape, kernels/README.md): 27.6 ms, 0.48 TFLOP/s. */
#include "row_state.cuh"

#define THREADS 128

/* Pass 1 (score): the logits x[j] of the tile's visible keys, each score one sequential fmaf chain
 * over d with q and k read from global memory, and the new max; false when no key is visible. */
__device__ static bool score_tile(const ea_attn_args &args, const request &req, int g, const row_state &st, int tile,
                                  int n, float *x, bool *vis, float *m_new)
{
    bool any = false;
    *m_new = st.m;
    for (int j = 0; j < n; j++) {
        vis[j] = visible(args, st.mask, st.t, tile + j);
        if (!vis[j])
            continue;
        const int64_t k0 = (req.slots[tile + j] * args.hkv + g) * args.dqk;
        float s = 0.0f;
        for (int d = 0; d < args.dqk; d++)
            s = __fmaf_rn(ea_load_elem(args.q, args.bf16, st.q0 + d), ea_load_elem(args.k_pool, args.bf16, k0 + d), s);
        x[j] = logit(args, s);
        *m_new = fmaxf(*m_new, x[j]);
        any = true;
    }
    return any;
}

/* Pass 2, then (accumulate): p and p*v of every visible key, in increasing u. */
__device__ static void accumulate_tile(const ea_attn_args &args, const request &req, int g, row_state &st, int tile,
                                       int n, const float *x, const bool *vis)
{
    for (int j = 0; j < n; j++) {
        if (!vis[j])
            continue;
        const float p = ea_expf(x[j] - st.m);
        const int64_t v0 = (req.slots[tile + j] * args.hkv + g) * args.dv;
        st.l = st.l + p;
        for (int d = 0; d < args.dv; d++)
            st.acc[d] = __fmaf_rn(p, ea_load_elem(args.v_pool, args.bf16, v0 + d), st.acc[d]);
    }
}

__global__ void __launch_bounds__(THREADS) attention_naive(const ea_attn_args args)
{
    const int i = blockIdx.z, g = blockIdx.y, G = args.hq / args.hkv;
    const request req = request_of(args, i);
    const int64_t row = (int64_t)blockIdx.x * THREADS + threadIdx.x;
    if (row >= (int64_t)req.E * G)
        return;
    row_state st;
    begin_row(st, args, i, req, g * G + (int)(row % G), (int)(row / G));

    for (int tile = 0; tile < req.T; tile += EA_TILE) {
        const int n = min(EA_TILE, req.T - tile);
        float x[EA_TILE], m_new;
        bool vis[EA_TILE];
        if (!score_tile(args, req, g, st, tile, n, x, vis, &m_new))
            continue; /* a tile with no visible key leaves the state untouched */
        rescale_state(st, m_new, args.dv);
        accumulate_tile(args, req, g, st, tile, n, x, vis);
    }
    write_row(args, req, st);
}

extern "C" cudaError_t ea_launch_attention_1(const ea_attn_args *args, cudaStream_t stream)
{
    attention_naive<<<group_grid(*args, THREADS), THREADS, 0, stream>>>(*args);
    return cudaGetLastError();
}
