/**
 * @file ea_mma.h
 * @brief An exact CPU model of one tensor-core instruction: `mma.m16n8k16` with bf16 inputs and
 *        fp32 accumulation.
 *
 * @defgroup ea_mma Tensor-core arithmetic (ea_mma.h)
 * @brief What `mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32` computes, bit for bit.
 *
 * A tensor core does not add like IEEE-754 hardware. For one output element
 * `D[m][n] = C[m][n] + sum_k A[m][k] * B[k][n]` it adds the 16 products and the
 * accumulator as ONE fused operation, which this model reproduces in integer arithmetic
 * (docs/DESIGN.md section 6, "The tensor-core order"):
 *
 *  1. Every product `a_k * b_k` is exact (8-bit times 8-bit significands). Its *alignment
 *     exponent* is `exp(a_k) + exp(b_k)`, the sum of the stored exponents
 *     (`exp(x) = floor(log2 |x|)`, and -126 for a subnormal), not the exponent of the product's
 *     leading bit. The accumulator's is `exp(c)`. Zero terms take no part.
 *  2. With `emax` the largest alignment exponent of the 17 terms, every term is truncated toward
 *     zero to a multiple of `2^(emax - 25)`, or of `2^-158` when that is coarser.
 *  3. The truncated terms are added exactly, and the sum is rounded toward zero to fp32
 *     (subnormal results included).
 *
 * Special values: NaN in, `inf * 0` or `inf - inf` give the canonical NaN `0x7fffffff`; otherwise
 * an infinite term gives that infinity; a sum of `2^128` or more gives infinity although the
 * rounding is toward zero; every zero result is +0 (also `-0 + -0`). See
 * ea_mma_m16n8k16_elem().
 *
 * Verified on: NVIDIA H200 (sm_90), driver 580.159.04, by `ea-mma-probe`: 120 million outputs
 * of 12 distributions, every one bit for bit. The committed vectors in `tests/vectors/` were
 * captured there and `tests/test_mma.c` replays them. Other architectures (sm_80, sm_89, sm_100,
 * ...) may truncate or round differently: the probe reports, per card, whether the model holds;
 * nothing here assumes it.
 *
 * Plain C11, integer arithmetic only: the same bits on any host.
 * @{
 */
#ifndef EA_MMA_H
#define EA_MMA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Rows of A and D in one `mma.m16n8k16`. */
#define EA_MMA_M 16
/** Columns of B and D. */
#define EA_MMA_N 8
/** The reduction length: products per output element. */
#define EA_MMA_K 16

/**
 * @brief The knobs of the fused addition. The hardware is ::EA_MMA_SM90; the others exist so that
 *        tests and the workshop can show that a nearly-right model is caught by the vectors.
 */
typedef struct ea_mma_rules {
    /** Terms are truncated to multiples of `2^(emax - kept_bits)`: 25 on sm_90. */
    int kept_bits;
    /** 0: the sum is rounded toward zero (sm_90); 1: to nearest, ties to even. */
    int round_nearest;
    /** 0: a product aligns on `exp(a) + exp(b)` (sm_90); 1: on the exponent of its leading bit. */
    int align_on_leading_bit;
    /** The grid is never finer than `2^lowest_grid_exp`: -158 on sm_90 (measured). */
    int lowest_grid_exp;
} ea_mma_rules;

/** The rules an sm_90 tensor core follows (verified on an H200). */
extern const ea_mma_rules EA_MMA_SM90;

/**
 * @brief Whether the model was verified on GPUs of compute capability `major.minor`
 *        (by ea-mma-probe: every output of every distribution bit for bit). Only 9.0 so far.
 * @param major e.g. 9
 * @param minor e.g. 0
 * @return 1 when verified, 0 otherwise
 */
int ea_mma_verified_cc(int major, int minor);

/**
 * @brief One output element of `mma.m16n8k16.row.col.f32.bf16.bf16.f32`, as an sm_90 tensor core
 *        computes it.
 *
 * Special values, as measured on the H200:
 * - any NaN among the inputs, `inf * 0`, or infinities of both signs give the canonical NaN
 *   `0x7fffffff`; otherwise an infinite product or accumulator gives that infinity;
 * - a finite sum of magnitude `2^128` or more gives infinity (the rounding toward zero stops at
 *   the largest float only below that);
 * - results below the normal range are subnormals, truncated like the rest, never flushed;
 * - every zero result is +0: a cancellation, an underflow, and a sum of zeros only, even when all
 *   17 of them are -0 (where IEEE addition would give -0).
 *
 * @param a row m of A: 16 bf16 bit patterns, `a[k] = A[m][k]`
 * @param b column n of B: 16 bf16 bit patterns, `b[k] = B[k][n]`
 * @param c the accumulator `C[m][n]`
 * @return `D[m][n]`
 */
float ea_mma_m16n8k16_elem(const uint16_t a[EA_MMA_K], const uint16_t b[EA_MMA_K], float c);

/**
 * @brief ea_mma_m16n8k16_elem() under other rules (for tests and the workshop).
 * @param a row of A, as for ea_mma_m16n8k16_elem()
 * @param b column of B
 * @param c the accumulator
 * @param rules the rules; ::EA_MMA_SM90 gives ea_mma_m16n8k16_elem()
 * @return the output element under those rules
 */
float ea_mma_elem_with(const uint16_t a[EA_MMA_K], const uint16_t b[EA_MMA_K], float c,
                       const ea_mma_rules *rules);

/**
 * @brief A whole tile: `D = A * B + C` for one `mma.m16n8k16`.
 *
 * @code
 *   uint16_t A[16 * 16], Bt[8 * 16];  // bf16 bits: A[m*16 + k], Bt[n*16 + k] = B[k][n]
 *   float C[16 * 8], D[16 * 8];       // C[m*8 + n]
 *   ea_mma_m16n8k16(A, Bt, C, D);
 * @endcode
 * B is passed transposed (`Bt[n][k]`), which is what `.col` means for the instruction: each column
 * of B is 16 consecutive values. `D` may alias `C`.
 *
 * @param A  [16, 16] bf16 bits, row-major
 * @param Bt [8, 16] bf16 bits: B transposed
 * @param C  [16, 8] fp32 accumulators, row-major
 * @param D  [16, 8] fp32 results, row-major
 */
void ea_mma_m16n8k16(const uint16_t A[EA_MMA_M * EA_MMA_K], const uint16_t Bt[EA_MMA_N * EA_MMA_K],
                     const float C[EA_MMA_M * EA_MMA_N], float D[EA_MMA_M * EA_MMA_N]);

/**
 * @brief Sixteen bf16 values taken apart once, one array per field, for callers that feed the same
 *        values to many mma elements (the tensor-core reference): the model then neither decodes
 *        them again nor branches per value, and its loops run as SIMD.
 */
typedef struct ea_bf16x16 {
    int32_t exp[EA_MMA_K];  /**< floor(log2 |x|), -126 for a subnormal (the alignment exponent's share) */
    int32_t sig[EA_MMA_K];  /**< significand with its leading 1 (none for a subnormal), 0 for a zero */
    int32_t neg[EA_MMA_K];  /**< 1 for a negative sign, else 0 */
    int32_t zero[EA_MMA_K]; /**< 1 for +0 or -0, else 0 */
    int32_t special;        /**< 1 when one of the values is an infinity or a NaN */
    uint16_t bits[EA_MMA_K]; /**< the bit patterns themselves */
} ea_bf16x16;

/**
 * @brief Takes 16 bf16 values apart for ea_mma_dot16x16().
 * @param x   16 bit patterns
 * @param out receives them taken apart
 */
void ea_mma_bf16x16(const uint16_t x[EA_MMA_K], ea_bf16x16 *out);

/**
 * @brief ea_mma_m16n8k16_elem() on taken-apart operands: the same bits, faster.
 * @param a row of A, taken apart
 * @param b column of B, taken apart
 * @param c the accumulator
 * @return the output element, bit for bit ea_mma_m16n8k16_elem() of the same values
 */
float ea_mma_dot16x16(const ea_bf16x16 *a, const ea_bf16x16 *b, float c);

#ifdef __cplusplus
}
#endif

/** @} */
#endif /* EA_MMA_H */
