/* The textbook reference with OpenBLAS: for each request and KV head,
 *   gather K [T, Dqk] and V [T, Dv] (T = P + E) from the pool,
 *   stack the G query heads of the group:   Q [E*G, Dqk]
 *   S = sm_scale * Q K^T                    one cblas_sgemm, [E*G, T]
 *   cap, mask, softmax row by row (libm)    P [E*G, T]
 *   O = P V                                 one cblas_sgemm, [E*G, Dv]
 * Stacking the heads that share a KV head turns G thin GEMMs into one wider
 * GEMM (the GQA trick of real kernels). Rows are processed in chunks so S
 * stays small for long prefixes. BLAS chooses its own summation order (and
 * libm its own expf), so this matches the canonical order to a tolerance only. */
#include "ea_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#define ROW_CHUNK 256 /* stacked query rows per GEMM: bounds S at ROW_CHUNK x T floats */

/* The longest unified key sequence (P_i + E_i) of the batch, at least 1: the size of K and V. */
static int32_t longest_request(const ea_batch *b)
{
    int32_t max_t = 1;
    for (int32_t i = 0; i < b->bs; i++) {
        int32_t T = b->prefix_kv_indptr[i + 1] - b->prefix_kv_indptr[i] + b->qo_indptr[i + 1] - b->qo_indptr[i];
        if (T > max_t)
            max_t = T;
    }
    return max_t;
}

/* The gather of request i and KV head g: the pool is paged, GEMM wants contiguous rows. K [T, Dqk]
 * and V [T, Dv] in unified order; Q [E*G, Dqk], the G query heads of the group stacked per row. */
static void gather(const ea_batch *b, const ea_params *p, const ea_inputs *in, int32_t i, int32_t g, float *K,
                   float *V, float *Q)
{
    const int32_t G = p->hq / p->hkv, Dqk = p->dqk, Dv = p->dv;
    const int32_t P = b->prefix_kv_indptr[i + 1] - b->prefix_kv_indptr[i];
    const int32_t E = b->qo_indptr[i + 1] - b->qo_indptr[i];
    for (int32_t u = 0; u < P + E; u++) {
        const int64_t slot = ea_key_slot(b, i, P, u);
        for (int32_t d = 0; d < Dqk; d++)
            K[(size_t)u * Dqk + d] = ea_load(in->k_pool, p->dtype, (slot * p->hkv + g) * Dqk + d);
        for (int32_t d = 0; d < Dv; d++)
            V[(size_t)u * Dv + d] = ea_load(in->v_pool, p->dtype, (slot * p->hkv + g) * Dv + d);
    }
    for (int32_t r = 0; r < E; r++)
        for (int32_t hh = 0; hh < G; hh++)
            for (int32_t d = 0; d < Dqk; d++)
                Q[((size_t)r * G + hh) * Dqk + d] =
                    ea_load(in->q, p->dtype, ((int64_t)(b->qo_indptr[i] + r) * p->hq + g * G + hh) * Dqk + d);
}

/* Writes the rows row0 .. row0+rows-1 of O (stacked rows of request i, KV head g) to the output. */
static void store_rows(const ea_batch *b, const ea_params *p, int32_t i, int32_t g, int32_t row0, int32_t rows,
                       const float *O, void *o)
{
    const int32_t G = p->hq / p->hkv, Dv = p->dv;
    for (int32_t k = 0; k < rows; k++) {
        const int32_t r = (row0 + k) / G, h = g * G + (row0 + k) % G;
        const int64_t obase = ((int64_t)(b->qo_indptr[i] + r) * p->hq + h) * Dv;
        for (int32_t d = 0; d < Dv; d++)
            ea_store(o, p->dtype, obase + d, O[(size_t)k * Dv + d]);
    }
}

ea_status ea_reference_blas(const ea_batch *b, const ea_params *p, const ea_inputs *in, void *o)
{
    ea_status st = ea_check_call(b, p, in, o);
    if (st != EA_OK)
        return st;

    const int32_t G = p->hq / p->hkv, Dqk = p->dqk, Dv = p->dv;
    const int32_t max_t = longest_request(b);
    const size_t max_rows = (size_t)(b->max_extend_len > 0 ? b->max_extend_len : 1) * (size_t)G;
    float *K = malloc(sizeof(float) * (size_t)max_t * (size_t)Dqk);
    float *V = malloc(sizeof(float) * (size_t)max_t * (size_t)Dv);
    float *Q = malloc(sizeof(float) * max_rows * (size_t)Dqk);
    float *S = malloc(sizeof(float) * ROW_CHUNK * (size_t)max_t);
    float *O = malloc(sizeof(float) * ROW_CHUNK * (size_t)Dv);
    if (!K || !V || !Q || !S || !O) {
        free(K), free(V), free(Q), free(S), free(O);
        return ea_fail(EA_ERR_NOMEM, "cannot allocate the BLAS reference's buffers (T up to %d)", max_t);
    }

    for (int32_t i = 0; i < b->bs; i++) {
        const int32_t P = b->prefix_kv_indptr[i + 1] - b->prefix_kv_indptr[i];
        const int32_t E = b->qo_indptr[i + 1] - b->qo_indptr[i];
        const int32_t T = P + E;
        for (int32_t g = 0; g < p->hkv; g++) {
            gather(b, p, in, i, g, K, V, Q);
            for (int32_t row0 = 0; row0 < E * G; row0 += ROW_CHUNK) {
                const int32_t rows = E * G - row0 < ROW_CHUNK ? E * G - row0 : ROW_CHUNK;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, T, Dqk, p->sm_scale,
                            Q + (size_t)row0 * Dqk, Dqk, K, Dqk, 0.0f, S, T);
                for (int32_t k = 0; k < rows; k++) {
                    const int32_t r = (row0 + k) / G, h = g * G + (row0 + k) % G;
                    /* TODO (exercise 1): the masked softmax of row k of S: hide invisible keys, cap, subtract the max, exp, add the sink, normalise.
                       The page tutorials/01-extend-attention-cpu.md explains it; `make exercise 1` checks your code. */
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, Dv, T, 1.0f, S, T, V, Dv, 0.0f, O, Dv);
                store_rows(b, p, i, g, row0, rows, O, o);
            }
        }
    }
    free(K), free(V), free(Q), free(S), free(O);
    return EA_OK;
}
