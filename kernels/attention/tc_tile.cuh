/* One warp's arithmetic on one key tile in kernel 6's layout (DESIGN.md section 6.2), shared by the
 * kernel (kernels/attention/6_tensor_cores.cu) and by its floor (kernels/tc_floor.cu), which runs
 * these steps alone to measure what the order's arithmetic costs without the loads and barriers:
 *   compute_qk()   S = Q K^T for 16 rows and 32 keys: 4 chains of mma steps over d, from +0, with
 *                  Q's fragments from shared memory or from registers (load_q());
 *   half_max()     the running max of a row over the warp's keys;
 *   probabilities(), exact_probabilities()   P = bf16(e^(S - m)), fast where that is exact;
 *   pack_p(), tile_p()   P rounded to bf16 as mma A operands, the warp's half and the whole tile;
 *   pair_max(), publish_p(), partner_p()   the row max and P exchanged between the two warps of
 *                  a row block through shared memory;
 *   compute_pv()   (O, l) += P [V | 1] over the tile's 64 keys, for the warp's value columns;
 * with the PTX wrappers they are written in. A warp is 32 lanes in 8 quads: lane = 4 gq + tq holds
 * rows gq and gq + 8 of its 16, and the columns 2tq, 2tq + 1 of each n-tile of 8 (the C layout of
 * mma.m16n8k16). */
#ifndef EA_TC_TILE_CUH
#define EA_TC_TILE_CUH

#include "ea_math.h"
#include "ea_rules.h"
#include "tc_fast_math.cuh"

#include <stdint.h>

#define BN EA_TILE                    /* keys per tile */
#define HALF_KEYS (BN / 2)            /* the keys of a tile whose scores one warp of a pair computes */
#define PAD 8                         /* bf16 per smem row of padding: rows 16 B apart mod 128 B */
#define BF16X2_ONE 0x3f803f80u

/* ---- PTX wrappers ---- */

__device__ __forceinline__ uint32_t smem_addr(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

/* 16 bytes global -> shared, asynchronously; src_bytes 0 writes zeros. */
__device__ __forceinline__ void cp_async16(void *dst, const void *src, int src_bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(src_bytes)
                 : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }

__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const void *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(p)));
}

/* The W warps of row block rb (warps rb, rb + RB, ...) wait for each other: named barrier 1 + rb
 * of 32 W threads (barrier 0 is __syncthreads). */
template <int W = 2>
__device__ __forceinline__ void pair_sync(int rb)
{
    asm volatile("bar.sync %0, %1;\n" ::"r"(1 + rb), "n"(32 * W) : "memory");
}

/* d += a b: the one instruction include/ea_mma.h models. */
__device__ __forceinline__ void mma_bf16(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* Two floats to two bf16 (round to nearest even), the first in the low half. */
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi)
{
    uint32_t r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

/* ---- the two products ---- */

/* compute_qk: s = Q K^T over d for row block rb (rows 16 rb.. of Qs, [rows][DQK + PAD]) and the
 * 8 NT keys of part hf of the tile (Ks, [BN][DQK + PAD]; NT = 4: half of the tile, 2: a quarter):
 * s[n] holds keys 8 NT hf + 8n + 2tq, +1 of rows gq (s[n][0..1]) and gq + 8 (s[n][2..3]). Each
 * n-tile is one chain of mma steps over d, 16 at a time, in increasing order from +0 (the order's
 * scores); K's fragments come from shared memory by ldmatrix, Q's too, or from registers where the
 * warp keeps them across the tiles (load_q; the second form). q_fragment(ks, qf): Q's A operand of
 * k-step ks. */
template <int DQK, int NT, class QFragment>
__device__ __forceinline__ void qk_chains(float (&s)[NT][4], const QFragment &q_fragment, const uint16_t *Ks, int hf,
                                          int lane)
{
    static_assert(NT % 2 == 0, "one ldmatrix.x4 of K feeds two n-tiles");
#pragma unroll
    for (int n = 0; n < NT; n++)
        s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
    for (int ks = 0; ks < DQK / 16; ks++) {
        uint32_t qf[4];
        q_fragment(ks, qf);
        const int mi = lane / 8, ri = lane % 8;
#pragma unroll
        for (int n = 0; n < NT; n += 2) {
            uint32_t kf[4];
            ldmatrix_x4(kf, Ks + (8 * NT * hf + n * 8 + (mi >> 1) * 8 + ri) * (DQK + PAD) + ks * 16 + (mi & 1) * 8);
            mma_bf16(s[n], qf, kf[0], kf[1]);
            mma_bf16(s[n + 1], qf, kf[2], kf[3]);
        }
    }
}
/* Q's A operand of k-step ks for row block rb, from shared memory */
template <int DQK>
__device__ __forceinline__ void q_fragment(uint32_t (&qf)[4], const uint16_t *Qs, int rb, int ks, int lane)
{
    const int mi = lane / 8, ri = lane % 8;
    ldmatrix_x4(qf, Qs + (rb * 16 + (mi & 1) * 8 + ri) * (DQK + PAD) + ks * 16 + (mi >> 1) * 8);
}
template <int DQK, int NT>
__device__ __forceinline__ void compute_qk(float (&s)[NT][4], const uint16_t *Qs, const uint16_t *Ks, int rb, int hf,
                                           int lane)
{
    qk_chains<DQK>(s, [&](int ks, uint32_t(&qf)[4]) { q_fragment<DQK>(qf, Qs, rb, ks, lane); }, Ks, hf, lane);
}
template <int DQK, int NT>
__device__ __forceinline__ void compute_qk(float (&s)[NT][4], const uint32_t (&q)[DQK / 16][4], const uint16_t *Ks,
                                           int hf, int lane)
{
    qk_chains<DQK>(
        s, [&](int ks, uint32_t(&qf)[4]) { qf[0] = q[ks][0], qf[1] = q[ks][1], qf[2] = q[ks][2], qf[3] = q[ks][3]; },
        Ks, hf, lane);
}
/* load_q: every k-step's Q operand of row block rb into registers, for the second compute_qk */
template <int DQK>
__device__ __forceinline__ void load_q(uint32_t (&q)[DQK / 16][4], const uint16_t *Qs, int rb, int lane)
{
#pragma unroll
    for (int ks = 0; ks < DQK / 16; ks++)
        q_fragment<DQK>(q[ks], Qs, rb, ks, lane);
}

/* compute_pv: (O, l) += P [V | 1] for part hf of the value columns, the 8 NT columns from 8 NT hf
 * (NT = DV / 16: half of them, DV / 32: a quarter) (Vs: the tile, [BN][DV + PAD]). k-step kk covers
 * keys 16kk..16kk+15, in increasing order; V by ldmatrix.trans; l is the output of a constant
 * "ones" B operand, so the row sum is an mma chain too and needs no order of its own. pf: P of the
 * tile's 64 keys as 4 A operands (k-steps). */
template <int DV, int NT>
__device__ __forceinline__ void compute_pv(float (&o)[NT][4], float (&l)[4], const uint32_t (&pf)[BN / 16][4],
                                           const uint16_t *Vs, int hf, int lane)
{
    static_assert(NT % 2 == 0, "one ldmatrix.x4 of V feeds two n-tiles");
#pragma unroll
    for (int kk = 0; kk < BN / 16; kk++) {
#pragma unroll
        for (int n = 0; n < NT; n += 2) {
            uint32_t vf[4];
            const int mi = lane / 8, ri = lane % 8;
            ldmatrix_x4_trans(vf, Vs + (kk * 16 + (mi & 1) * 8 + ri) * (DV + PAD) + (NT * hf + n + (mi >> 1)) * 8);
            mma_bf16(o[n], pf[kk], vf[0], vf[1]);
            mma_bf16(o[n + 1], pf[kk], vf[2], vf[3]);
        }
        mma_bf16(l, pf[kk], BF16X2_ONE, BF16X2_ONE);
    }
}

/* pack_p: P of the warp's half of the tile rounded to bf16 (RNE), as the A operands of its two
 * k-steps: the C layout of two n-tiles of 8 keys is the A layout of one k-step of 16. */
template <int NT>
__device__ __forceinline__ void pack_p(uint4 (&own)[NT / 2], const float (&s)[NT][4])
{
#pragma unroll
    for (int kl = 0; kl < NT / 2; kl++)
        own[kl] = make_uint4(pack_bf16(s[2 * kl][0], s[2 * kl][1]), pack_bf16(s[2 * kl][2], s[2 * kl][3]),
                             pack_bf16(s[2 * kl + 1][0], s[2 * kl + 1][1]),
                             pack_bf16(s[2 * kl + 1][2], s[2 * kl + 1][3]));
}

/* tile_p: P of the whole tile in k-step order, for compute_pv(): the k-steps of half 0 of the keys,
 * then those of half 1; own holds this warp's half hf, other the partner's. */
__device__ __forceinline__ void tile_p(uint32_t (&pf)[BN / 16][4], const uint4 (&own)[HALF_KEYS / 16],
                                       const uint4 (&other)[HALF_KEYS / 16], int hf)
{
#pragma unroll
    for (int kl = 0; kl < HALF_KEYS / 16; kl++) {
        const uint4 first = hf == 0 ? own[kl] : other[kl], second = hf == 0 ? other[kl] : own[kl];
        pf[kl][0] = first.x, pf[kl][1] = first.y, pf[kl][2] = first.z, pf[kl][3] = first.w;
        pf[HALF_KEYS / 16 + kl][0] = second.x, pf[HALF_KEYS / 16 + kl][1] = second.y;
        pf[HALF_KEYS / 16 + kl][2] = second.z, pf[HALF_KEYS / 16 + kl][3] = second.w;
    }
}

/* ---- the exchanges between the two warps of a row block (rb), through shared memory ---- */

/* The row max of the whole tile: each warp's max over its part (mx, rows gq and gq + 8) against
 * the other W - 1 warps' of the row block, through xmax ([part][pair of the CTA]); waits for them
 * (pair_sync). The max is exact, so the order the parts are taken in does not matter. */
template <int W = 2, int PAIRS>
__device__ __forceinline__ void pair_max(float (&mx)[2], float (*xmax)[PAIRS], int rb, int hf, int gq, int tq)
{
    if (tq == 0) {
        xmax[hf][rb * 16 + gq] = mx[0];
        xmax[hf][rb * 16 + gq + 8] = mx[1];
    }
    pair_sync<W>(rb);
#pragma unroll
    for (int k = 1; k < W; k++) {
        const int other = W == 2 ? 1 - hf : (hf + k) % W;
        mx[0] = fmaxf(mx[0], xmax[other][rb * 16 + gq]);
        mx[1] = fmaxf(mx[1], xmax[other][rb * 16 + gq + 8]);
    }
}

/* P of the warp's part (its NK k-steps NK hf.. of the tile) into xp ([row block][k-step of the
 * tile][lane] uint4) for the other warps of the row block; partner_p() and quarter_p() read the
 * others' parts out of it (after a barrier between). */
template <int NK>
__device__ __forceinline__ void publish_p(uint4 *xp, const uint4 (&own)[NK], int rb, int hf, int lane)
{
#pragma unroll
    for (int kl = 0; kl < NK; kl++)
        xp[(rb * (BN / 16) + NK * hf + kl) * 32 + lane] = own[kl];
}
__device__ __forceinline__ void partner_p(uint4 (&other)[HALF_KEYS / 16], const uint4 *xp, int rb, int hf, int lane)
{
#pragma unroll
    for (int kl = 0; kl < HALF_KEYS / 16; kl++)
        other[kl] = xp[(rb * (BN / 16) + HALF_KEYS / 16 * (1 - hf) + kl) * 32 + lane];
}

/* Four warps to a row block: P of the whole tile in k-step order, k-step hf from the warp's own
 * registers, the other three from xp. */
__device__ __forceinline__ void quarter_p(uint32_t (&pf)[BN / 16][4], const uint4 (&own)[1], const uint4 *xp, int rb,
                                          int hf, int lane)
{
#pragma unroll
    for (int kk = 0; kk < BN / 16; kk++) {
        const uint4 v = kk == hf ? own[0] : xp[(rb * (BN / 16) + kk) * 32 + lane];
        pf[kk][0] = v.x, pf[kk][1] = v.y, pf[kk][2] = v.z, pf[kk][3] = v.w;
    }
}

/* ---- the softmax state ---- */

/* update_state, in two halves around the exchange of the row max between the two warps of a pair.
 * half_max: the running max of row h (gq or gq + 8) of the thread over the keys of the warp's half
 * of the tile that the row sees (exact, so any order; fmaxf ignores NaN). probabilities: then, with
 * the max of the whole tile, s = P = e^(S - m) where seen and 0 elsewhere, from tc_prob_fast(); the
 * scores that need the exact ea_expf() keep x = S - m and set exact, one flag for all of them, for
 * exact_probabilities(). ALL: the row sees every key of the warp's half (most
 * tiles), so no key needs a test: the same arithmetic with fewer instructions. */
#define SEES(n, c) (ALL || (seen >> (2 * (n) + (c)) & 1u))
template <bool ALL, int NT>
__device__ __forceinline__ float half_max(const float (&s)[NT][4], int h, uint32_t seen, float m)
{
    float mx = m;
#pragma unroll
    for (int n = 0; n < NT; n++)
#pragma unroll
        for (int c = 0; c < 2; c++)
            mx = SEES(n, c) ? fmaxf(mx, s[n][2 * h + c]) : mx;
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    return fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
}

template <bool ALL, int NT>
__device__ __forceinline__ void probabilities(float (&s)[NT][4], int h, uint32_t seen, float mx, bool &exact)
{
#pragma unroll
    for (int n = 0; n < NT; n++)
#pragma unroll
        for (int c = 0; c < 2; c++) {
            bool slow;
            const float x = s[n][2 * h + c] - mx;
            const float y = tc_prob_fast(x, slow);
            exact = exact || (slow && SEES(n, c));
            s[n][2 * h + c] = !SEES(n, c) ? 0.f : slow ? x : y;
        }
}
#undef SEES

/* The rare scores tc_prob_fast() could not settle: s = ea_expf(x) for each of them. probabilities()
 * left x = S - m in their place, which is negative or NaN, where every other entry holds a
 * probability or the 0 of a key not seen, never negative; so the signs say which they are, and the
 * common path needs only one flag for all of them. One compact loop over them (a thread has one or
 * two when it has any) instead of a branch per score, which keeps the tile loop small enough for
 * the instruction cache. */
template <int NT>
__device__ __forceinline__ void exact_probabilities(float (&s)[NT][4])
{
    static_assert(NT * 4 <= 32, "one bit per score");
    uint32_t exact = 0; /* bit e: s[e / 4][e % 4] is an x */
#pragma unroll
    for (int e = 0; e < NT * 4; e++)
        exact |= (uint32_t)!(s[e / 4][e % 4] >= 0.f) << e;
    while (exact) {
        const int b = __ffs(exact) - 1;
        exact &= exact - 1;
        float x = 0.f;
#pragma unroll
        for (int e = 0; e < NT * 4; e++)
            x = b == e ? s[e / 4][e % 4] : x;
        const float p = ea_expf(x);
#pragma unroll
        for (int e = 0; e < NT * 4; e++)
            s[e / 4][e % 4] = b == e ? p : s[e / 4][e % 4];
    }
}


/* rescale_state: O and l times alpha = e^(m_old - m_new) where the row's max grew, and times 1 where
 * it did not (which changes no number; a NaN stays a NaN), only where some row of the warp grew;
 * then m = mx. The four threads of a quad hold the same two rows: the even ones compute row gq's
 * alpha, the odd ones row gq + 8's, and they swap: one ea_expf per thread instead of two. alpha is
 * computed outside the branch: a straight line the scheduler can interleave with the probabilities
 * (measured: kernels/README.md, "6: the tile loop's two shortcuts"). */
template <int NT>
__device__ __forceinline__ void rescale_state(float (&o)[NT][4], float (&l)[4], float (&m)[2], const float (&mx)[2],
                                              int tq)
{
    const bool odd = tq & 1;
    const float m_old = odd ? m[1] : m[0], m_new = odd ? mx[1] : mx[0]; /* selects: no indexing */
    const float mine = ea_expf(m_new > m_old ? m_old - m_new : 0.f);     /* e^0 = 1 exactly */
    const float theirs = __shfl_xor_sync(0xffffffffu, mine, 1);
    const float alpha0 = odd ? theirs : mine, alpha1 = odd ? mine : theirs; /* rows gq, gq + 8 */
    if (__any_sync(0xffffffffu, mx[0] > m[0] || mx[1] > m[1])) {
#pragma unroll
        for (int n = 0; n < NT; n++) {
            o[n][0] = o[n][0] * alpha0;
            o[n][1] = o[n][1] * alpha0;
            o[n][2] = o[n][2] * alpha1;
            o[n][3] = o[n][3] * alpha1;
        }
        l[0] = l[0] * alpha0;
        l[1] = l[1] * alpha0;
        l[2] = l[2] * alpha1;
        l[3] = l[3] * alpha1;
    }
    m[0] = mx[0];
    m[1] = mx[1];
}

#endif /* EA_TC_TILE_CUH */
