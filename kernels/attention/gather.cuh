/* Vector gathers from the paged pool into shared memory, for kernels 4 and 5 (and the strides
 * that keep their shared-memory reads free of bank conflicts). */
#ifndef EA_ATTENTION_GATHER_CUH
#define EA_ATTENTION_GATHER_CUH

#include "common.cuh"

/* Row strides in floats. Q and V rows are padded to a multiple of 4 for float4
 * access. K rows get 4 more floats when that makes the stride/4 odd: the 8 lanes
 * of each float4 phase then hit 8 different bank groups (conflict-free). */
__host__ __device__ static inline int round4(int x) { return (x + 3) & ~3; }
__host__ __device__ static inline int k_stride(int dqk) { return (round4(dqk) / 4) % 2 == 0 ? round4(dqk) + 4 : round4(dqk); }

/* Gathers `rows` rows of `dim` elements into dst[j * stride + d] (fp32), row j
 * being row row_idx[j] of src seen as [*, dim] (-1: a row of zeros), and zeroes the
 * padding columns [dim, width). Each thread first issues up to 8 independent
 * loads, then converts and stores them: a load from the pool costs ~1 us of
 * latency, so loads must be in flight together, not one after another. Rows
 * whose size is a multiple of 16 bytes are read 16 bytes at a time. */
#define GATHER_UNROLL 8
__device__ static inline void gather_rows(float *dst, int stride, int width, const void *src, int bf16, int dim,
                                   const int64_t *row_idx, int rows)
{
    const int tid = threadIdx.x, nthr = blockDim.x, es = bf16 ? 2 : 4;
    if ((dim * es) % 16 == 0) {
        const int per = 16 / es, vpr = dim / per, total = rows * vpr;
        for (int base = tid; base < total; base += nthr * GATHER_UNROLL) {
            uint4 got[GATHER_UNROLL];
#pragma unroll
            for (int b = 0; b < GATHER_UNROLL; b++) {
                const int idx = base + b * nthr, j = idx / vpr, c = idx % vpr;
                got[b] = make_uint4(0u, 0u, 0u, 0u);
                if (idx < total && row_idx[j] >= 0)
                    got[b] = __ldg((const uint4 *)((const char *)src + row_idx[j] * dim * es) + c);
            }
#pragma unroll
            for (int b = 0; b < GATHER_UNROLL; b++) {
                const int idx = base + b * nthr, j = idx / vpr, c = idx % vpr;
                if (idx >= total)
                    break;
                float *d = dst + j * stride + c * per;
                if (bf16) {
                    const uint32_t w[4] = {got[b].x, got[b].y, got[b].z, got[b].w};
                    *(float4 *)d = make_float4(ea_bf16_to_f32((uint16_t)w[0]), ea_bf16_to_f32((uint16_t)(w[0] >> 16)),
                                               ea_bf16_to_f32((uint16_t)w[1]), ea_bf16_to_f32((uint16_t)(w[1] >> 16)));
                    *(float4 *)(d + 4) =
                        make_float4(ea_bf16_to_f32((uint16_t)w[2]), ea_bf16_to_f32((uint16_t)(w[2] >> 16)),
                                    ea_bf16_to_f32((uint16_t)w[3]), ea_bf16_to_f32((uint16_t)(w[3] >> 16)));
                } else {
                    *(float4 *)d = make_float4(__uint_as_float(got[b].x), __uint_as_float(got[b].y),
                                               __uint_as_float(got[b].z), __uint_as_float(got[b].w));
                }
            }
        }
    } else {
        const int total = rows * dim;
        for (int base = tid; base < total; base += nthr * GATHER_UNROLL) {
            float got[GATHER_UNROLL];
#pragma unroll
            for (int b = 0; b < GATHER_UNROLL; b++) {
                const int idx = base + b * nthr, j = idx / dim;
                got[b] = idx < total && row_idx[j] >= 0 ? ea_load_elem(src, bf16, row_idx[j] * dim + idx % dim) : 0.0f;
            }
#pragma unroll
            for (int b = 0; b < GATHER_UNROLL; b++) {
                const int idx = base + b * nthr;
                if (idx < total)
                    dst[(idx / dim) * stride + idx % dim] = got[b];
            }
        }
    }
    const int pad = width - dim;
    for (int idx = tid; idx < rows * pad; idx += nthr)
        dst[(idx / pad) * stride + dim + idx % pad] = 0.0f;
}

#endif
