/* The checks of the tensor-core kernel's fast arithmetic (kernels/attention/tc_fast_math.cuh), run by
 * the GPU suite (test_gpu: test_tc_fast_probabilities, test_tc_division) through
 * optimized/runner.c. Each compares the shortcut with the exact operation it stands for over every
 * input its bits can depend on. */
#include "ea_kernels.h"
#include "ea_math.h"
#include "attention/tc_fast_math.cuh"

#include <stdint.h>

/* The proof of tc_prob_fast, run by the GPU suite: every float x of its domain (x <= 0 or NaN;
 * all 2^32 bit patterns are visited, in chunks of 2^28 per launch, and positive ones skipped).
 * Counts inputs where the fast value is used (not exact) but rounds to another bf16 than
 * ea_expf(x), and how many take the exact path; and keeps the largest distance in ulps between
 * y and ea_expf(x) over [-80, 0], whatever the margin. */
__global__ void tc_prob_check_kernel(uint32_t first_hi, unsigned long long *bad, unsigned long long *slow,
                                     unsigned int *max_ulps)
{
    const uint32_t u = (first_hi << 28) | (blockIdx.x * blockDim.x + threadIdx.x);
    const float x = __uint_as_float(u);
    const bool domain = !(x > 0.f); /* x <= 0 or NaN */
    bool exact;
    const float y = tc_prob_fast(x, exact);
    const float e = ea_expf(x);
    if (domain && exact)
        atomicAdd(slow, 1ull);
    else if (domain && ea_f32_to_bf16(y) != ea_f32_to_bf16(e))
        atomicAdd(bad, 1ull);
    const int32_t dist = x >= -80.f && x <= 0.f ? abs((int32_t)(__float_as_uint(y) - __float_as_uint(e))) : 0;
    const uint32_t warp_max = __reduce_max_sync(0xffffffffu, (uint32_t)dist);
    if (threadIdx.x % 32 == 0 && warp_max > 0)
        atomicMax(max_ulps, warp_max);
}

extern "C" cudaError_t ea_launch_tc_prob_check(unsigned long long *bad, unsigned long long *slow,
                                               unsigned int *max_ulps, cudaStream_t s)
{
    for (uint32_t hi = 0; hi < 16; hi++) {
        tc_prob_check_kernel<<<(1u << 28) / 256, 256, 0, s>>>(hi, bad, slow, max_ulps);
        const cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess)
            return e;
    }
    return cudaSuccess;
}

/* The check of divide(), against the correctly rounded quotient: x / den in double rounded to
 * float (a double holds more than twice a float's bits, so that double rounding never differs from
 * rounding once). Scaling x or den by a power of two scales every step of divide() exactly while
 * the operands stay moderate, so the bits depend on the mantissas and signs alone: row 0 of the
 * grid takes 32,768 den mantissas (block d: the bits of d spread over the 23, the low ones all set
 * for odd d) in [1, 2) against every x mantissa of both signs in [1, 2), and x = +0; rows 1 to 4
 * the ends of the range, x and den at exponents -40 and 39 in the four combinations, for the first
 * 256 den mantissas. Counts quotients that differ. */
__global__ void tc_div_check_kernel(unsigned long long *bad)
{
    const int ends[5][2] = {{0, 0}, {-40, 39}, {39, -40}, {-40, -40}, {39, 39}}; /* x, den exponents */
    const uint32_t d = blockIdx.x, row = blockIdx.y;
    if (row > 0 && d >= 256)
        return;
    const uint32_t dm = d << 8 | (d & 1 ? 0xffu : (d * 0x9e3779b9u) >> 24);
    const float den = __uint_as_float((uint32_t)(ends[row][1] + 127) << 23 | dm);
    const float r = reciprocal(den);
    unsigned long long n = 0;
    for (uint32_t xm = threadIdx.x; xm < (1u << 23); xm += blockDim.x)
#pragma unroll
        for (uint32_t sign = 0; sign < 2; sign++) {
            const float x = __uint_as_float(sign << 31 | (uint32_t)(ends[row][0] + 127) << 23 | xm);
            n += __float_as_uint(divide(x, den, r)) != __float_as_uint(__double2float_rn(__ddiv_rn(x, den)));
        }
    n += threadIdx.x == 0 && row == 0 && __float_as_uint(divide(0.f, den, r)) != 0u; /* +0 / den = +0 */
    if (n)
        atomicAdd(bad, n);
}

extern "C" cudaError_t ea_launch_tc_div_check(unsigned long long *bad, cudaStream_t s)
{
    tc_div_check_kernel<<<dim3(32768, 5), 256, 0, s>>>(bad);
    return cudaGetLastError();
}
