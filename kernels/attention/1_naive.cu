/* Kernel 1, naive: one thread per row of the group's query matrix (one query row, one query head).
 *
 * Adds: the GPU at all. Each thread walks its request's unified keys in tiles of 64, exactly as
 * reference/canonical.c does for one row: pass 1 scores the tile's visible keys (each a
 * sequential fmaf chain over d, q and k read straight from global memory), pass 2 rescales the
 * state and adds p and p*v key by key. Nothing is shared between threads, so the kernel is short
 * and, because the order is the canonical one, already bitwise equal to the CPU.
 * Costs: every thread reads every key it sees from the pool itself (G*E times per key), and
 * acc[256] and the tile's logits live in local memory. kernels/README.md has its time. */
#include "common.cuh"

#define THREADS 128

__global__ void __launch_bounds__(THREADS) attention_naive(const ea_attn_args args)
{
    const int i = blockIdx.z, g = blockIdx.y, G = args.hq / args.hkv;
    const request req = request_of(args, i);
    const int row = blockIdx.x * THREADS + threadIdx.x;
    if (row >= req.E * G)
        return;
    const int r = row / G, h = g * G + row % G, t = req.P + r;
    const uint8_t *mask_row = mask_row_of(args, i, req, r);
    const int64_t q0 = ((int64_t)(req.row0 + r) * args.hq + h) * args.dqk;

    float m = -INFINITY, l = 0.0f, acc[EA_MAX_HEAD_DIM];
    for (int d = 0; d < args.dv; d++)
        acc[d] = 0.0f;

    for (int tile = 0; tile < req.T; tile += EA_TILE) {
        const int n = min(EA_TILE, req.T - tile);
        /* pass 1: the logits of the visible keys and their max */
        float x[EA_TILE];
        bool vis[EA_TILE], any = false;
        float m_new = m;
        for (int j = 0; j < n; j++) {
            vis[j] = visible(args, mask_row, t, tile + j);
            if (!vis[j])
                continue;
            const int64_t k0 = (req.slots[tile + j] * args.hkv + g) * args.dqk;
            float s = 0.0f;
            for (int d = 0; d < args.dqk; d++)
                s = __fmaf_rn(ea_load_elem(args.q, args.bf16, q0 + d), ea_load_elem(args.k_pool, args.bf16, k0 + d), s);
            x[j] = logit(args, s);
            m_new = fmaxf(m_new, x[j]);
            any = true;
        }
        if (!any)
            continue; /* a tile with no visible key leaves the state untouched */

        /* pass 2: rescale what was summed under the old max, then add the tile's keys in increasing u */
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
            const int64_t v0 = (req.slots[tile + j] * args.hkv + g) * args.dv;
            l = l + p;
            for (int d = 0; d < args.dv; d++)
                acc[d] = __fmaf_rn(p, ea_load_elem(args.v_pool, args.bf16, v0 + d), acc[d]);
        }
        m = m_new;
    }

    /* epilogue: sink, normalise, round to the storage type */
    const float den = denominator(args, h, m, l);
    const int64_t o0 = ((int64_t)(req.row0 + r) * args.hq + h) * args.dv;
    for (int d = 0; d < args.dv; d++)
        store_output(args, o0 + d, acc[d], den, m == -INFINITY);
}

extern "C" cudaError_t ea_launch_attention_1(const ea_attn_args *args, cudaStream_t stream)
{
    attention_naive<<<group_grid(*args, THREADS), THREADS, 0, stream>>>(*args);
    return cudaGetLastError();
}
