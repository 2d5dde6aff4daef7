/* The device code's C interface: argument structs and launchers. The
 * kernels are CUDA C in kernels/ (.cu files); the host orchestration in optimized/
 * is plain C and reaches them only through these functions (C cannot write
 * <<<grid, block>>>). Every launcher returns the launch's cudaError_t. */
#ifndef EA_KERNELS_H
#define EA_KERNELS_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#include "ea.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Everything the attention kernel reads, all device pointers.
 * Shapes use the legend of ea.h. */
typedef struct {
    const void *q;                    /* [N, Hq, Dqk] */
    const void *k_pool;               /* [pool, Hkv, Dqk] */
    const void *v_pool;               /* [pool, Hkv, Dv] */
    void *o;                          /* [N, Hq, Dv] */
    const int32_t *qo_indptr;         /* [bs+1] */
    const int32_t *unified_kv_indptr; /* [bs+1] */
    const int64_t *unified_kv_indices;/* [unified_kv_indptr[bs]] */
    const int32_t *prefix_lens;       /* [bs] */
    const uint8_t *custom_mask;       /* NULL or the masks of ea_batch */
    const int32_t *mask_indptr;       /* [bs+1] with custom_mask */
    const float *sinks;               /* [Hq] or NULL */
    const int32_t *block_order;       /* kernel 6 only: the plan's block schedule (ea_launch_block_order), or NULL */
    int32_t bs, hq, hkv, dqk, dv;
    int32_t max_extend_len;
    int32_t causal, sliding_window, bf16;
    float sm_scale, logit_cap;
} ea_attn_args;

/* The numbered attention kernels (kernels/attention/N_*.cu, kernels/README.md): one launch for
 * the whole batch each, every one bitwise equal to its CPU reference. 1..5 compute the canonical
 * order of DESIGN.md section 2 (== ea_reference_canonical), 6 the tensor-core order of section
 * 6.2 (== ea_reference_tc). optimized/strategies.c picks one by ea_kernel. */
cudaError_t ea_launch_attention_1(const ea_attn_args *a, cudaStream_t s); /* naive: a thread per row */
cudaError_t ea_launch_attention_2(const ea_attn_args *a, cudaStream_t s); /* shared-memory tiles */
cudaError_t ea_launch_attention_3(const ea_attn_args *a, cudaStream_t s); /* GQA blocking, warp max */
cudaError_t ea_launch_attention_4(const ea_attn_args *a, cudaStream_t s); /* vector gathers */
cudaError_t ea_launch_attention_5(const ea_attn_args *a, cudaStream_t s); /* bitmasks */
cudaError_t ea_launch_attention_6(const ea_attn_args *a, cudaStream_t s); /* tensor cores */
/* Kernel 6 with `row_warps` warps to each row block of 16 pairs (2 or 4, each with 1 / row_warps of
 * the tile's keys and of O's columns; 4 only with two buffers, else 2), each 64-pair block computed
 * by `ctas_per_block` CTAs (1 or 2), `stages` buffers of K and V (1: each copy behind the other's
 * compute; 2: the next tile's copies during the whole of this one, where the shared memory allows,
 * else 1), each 0 for the kernel's own choice (as ea_launch_attention_6), and at most `max_grid_z`
 * CTAs along a request's blocks, each then computing every max_grid_z-th block (1..65535; 0:
 * 65535, as ea_launch_attention_6). The bits must not depend on any of them (tests/test_gpu.c). */
cudaError_t ea_launch_attention_6_split(const ea_attn_args *a, cudaStream_t s, int row_warps, int ctas_per_block,
                                        int stages, int max_grid_z);

/* The proof of the tc kernel's fast probabilities: over every float x <= 0 and every NaN, counts
 * into *bad the inputs whose fast value rounds to another bf16 than ea_expf(x) (must stay 0), and
 * into *slow those that take the exact path; *max_ulps gets the largest distance between the fast value and
 * ea_expf(x) in fp32 ulps over [-80, 0]. Device counters, zeroed by the caller. */
cudaError_t ea_launch_tc_prob_check(unsigned long long *bad, unsigned long long *slow, unsigned int *max_ulps,
                                    cudaStream_t s);

/* The check of the tc kernel's epilogue division (a reciprocal per row, then three instructions per
 * element): counts into *bad the quotients that differ from the correctly rounded one, over every x
 * mantissa against 32,768 divisor mantissas, and at the ends of the range the kernel uses it in
 * (must stay 0). A device counter, zeroed by the caller. */
cudaError_t ea_launch_tc_div_check(unsigned long long *bad, cudaStream_t s);

/* Kernel 5 with an impossible shared-memory request (for the launch-failure test). */
cudaError_t ea_launch_attention_bad_smem(const ea_attn_args *a, cudaStream_t s);

/* The scalars a host strategy reads per request: prefix start and end, extend start and length
 * (the pack kernel writes them side by side; optimized/cuda_internal.h sizes the scratch with it). */
#define EA_SCALARS_PER_REQUEST 4

/* batched strategy: packed[EA_SCALARS_PER_REQUEST*i + 0..3] = prefix start, prefix end, extend start,
 * extend len of request i. */
cudaError_t ea_launch_pack_scalars(const int32_t *prefix_kv_indptr, const int32_t *extend_start_loc,
                                   const int32_t *extend_seq_lens, int32_t bs, int32_t *packed, cudaStream_t s);

/* device strategy, step 1: unified_kv_indptr = exclusive scan of P_i + E_i, prefix_lens = P_i (one block). */
cudaError_t ea_launch_unified_scan(const int32_t *prefix_kv_indptr, const int32_t *extend_seq_lens, int32_t bs,
                                   int32_t *unified_kv_indptr, int32_t *prefix_lens, cudaStream_t s);

/* device strategy, step 2: every request's prefix slots then new slots into unified_kv_indices. */
cudaError_t ea_launch_unified_copy(const int32_t *prefix_kv_indptr, const int64_t *prefix_kv_indices,
                                   const int32_t *extend_start_loc, const int64_t *extend_kv_indices,
                                   const int32_t *unified_kv_indptr, const int32_t *prefix_lens, int32_t bs,
                                   int64_t *unified_kv_indices, cudaStream_t s);

/* Every plan of more than one request, last step: kernel 6's block schedule. order[0] = n, then n
 * pairs (request i, block x counted from the end of the request), the blocks that walk the most key
 * tiles first (an estimate that only decides which CTA starts when, never a bit). order holds
 * 1 + 2 capacity int32; n = sum over requests of ceil(E_i G / EA_TC_BLOCK_PAIRS), or capacity where
 * that is more (one block of 1024 threads). */
cudaError_t ea_launch_block_order(const int32_t *qo_indptr, const int32_t *prefix_lens, int32_t bs, int32_t G,
                                  int32_t causal, int32_t window, int32_t masked, int32_t *order, int64_t capacity,
                                  cudaStream_t s);

/* Fills n elements of 4 (or 2) bytes with a pattern (output poisoning). */
cudaError_t ea_launch_fill(void *dst, int64_t n, int elem_bytes, uint32_t pattern, cudaStream_t s);

/* A kernel that spins for about `ns` nanoseconds: queued GPU work for tests and benchmarks. */
cudaError_t ea_launch_spin(int64_t ns, cudaStream_t s);

/* The tensor-core probe (kernels/mma_probe.cu): D = A B + C for `tiles` mma.m16n8k16 tiles, one
 * real mma.sync each. A [tiles, 16, 16] and Bt [tiles, 8, 16] bf16 bits, C and D [tiles, 16, 8]. */
cudaError_t ea_launch_mma_probe(const uint16_t *A, const uint16_t *Bt, const float *C, float *D, int64_t tiles,
                                cudaStream_t s);

/* The same tiles through wgmma.mma_async.m64n64k16 (kernels/wgmma_probe.cu), four tiles per
 * instruction, with the operands fed one of three ways. Built for sm_90a only: on any other card
 * it returns cudaErrorNotSupported and writes nothing; an unknown variant, cudaErrorInvalidValue. */
enum ea_wgmma_variant {
    EA_WGMMA_A_REGS = 0,     /* A in registers, B K-major in shared memory */
    EA_WGMMA_A_SHARED = 1,   /* A and B K-major in shared memory */
    EA_WGMMA_B_MN_MAJOR = 2, /* A in registers, B MN-major (transposed) in shared memory */
};
cudaError_t ea_launch_wgmma_probe(const uint16_t *A, const uint16_t *Bt, const float *C, float *D, int64_t tiles,
                                  int variant, cudaStream_t s);

/* The card's bf16 tensor-core rate, measured (ea-bench-kernel): `blocks` blocks run `iters` rounds
 * of independent mma.sync.m16n8k16 steps on registers (kernels/mma_rate.cu; operands: 6 words of
 * bf16 pairs) or of wgmma.m64n128k16 on shared memory (kernels/wgmma_rate.cu, sm_90a only, else
 * cudaErrorNotSupported); *flop is the work launched, out receives one float per thread. */
cudaError_t ea_launch_mma_rate(const uint32_t *operands, float *out, int blocks, int iters, double *flop,
                               cudaStream_t s);
cudaError_t ea_launch_wgmma_rate(float *out, int blocks, int iters, double *flop, cudaStream_t s);

/* Kernel 6's floor (kernels/tc_floor.cu): `warp_tiles` warp-tiles of kernel 6's tile arithmetic over
 * `ctas` CTAs of 8 warps (EA_FLOOR_WIDE, EA_FLOOR_WIDE_AHEAD: half as many of 16), on one Q, K and V tile read from kv
 * (3 x 64 rows of 128 bf16) into shared memory: its two products alone (EA_FLOOR_PRODUCTS), all of
 * it (EA_FLOOR_ALL), plus kernel 6's barriers and exchanges (EA_FLOOR_SYNCED), plus K and V copied
 * every tile from k_pool and v_pool (EA_FLOOR_FED: pool_rows rows of 128 bf16 each; NULL and 0 do
 * for the versions before), and four variations of those copies (a tile ahead, half the rows,
 * twice the warps per copy, both the first and the last: tc_floor.cu says which); out receives one float per thread. Head dim
 * 128 only. */
enum { EA_FLOOR_PRODUCTS = 0, EA_FLOOR_ALL = 1, EA_FLOOR_SYNCED = 2, EA_FLOOR_FED = 3, EA_FLOOR_AHEAD = 4, EA_FLOOR_HALF = 5,
       EA_FLOOR_WIDE = 6, EA_FLOOR_WIDE_AHEAD = 7 };
cudaError_t ea_launch_tc_floor(int64_t warp_tiles, int parts, int ctas, float sm_scale, const uint16_t *kv,
                               const uint16_t *k_pool, const uint16_t *v_pool, int64_t pool_rows, float *out,
                               cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
