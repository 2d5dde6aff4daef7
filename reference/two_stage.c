/* The two-stage design (prefix pass, extend pass, merge by log-sum-exp) that
 * servers without a deterministic mode use. Each pass is exact canonical
 * arithmetic over its own keys; the extend pass restarts its tiles at the
 * first new token, and the merge adds two separately rounded partial results.
 * Both depend on where the cached prefix ends, so moving that boundary
 * changes the last bits of the output: this variant is NOT prefix-split
 * invariant. It exists only to demonstrate that (tests and ea-compare). */
#include "ea_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Normalised output and log-sum-exp of one pass (lse = -inf: no visible key). */
static float pass_lse(float m, float l) { return m == -INFINITY ? -INFINITY : m + logf(l); }

ea_status ea_reference_two_stage(const ea_batch *b, const ea_params *p, const ea_inputs *in, void *o)
{
    ea_status st = ea_check_call(b, p, in, o);
    if (st != EA_OK)
        return st;
    ea_canon c;
    if ((st = ea_canon_init(&c, b, p, in)) != EA_OK)
        return st;
    const size_t rows = (size_t)(b->max_extend_len > 0 ? b->max_extend_len : 1) * (size_t)c.G;
    float *m1 = malloc(sizeof(float) * rows), *l1 = malloc(sizeof(float) * rows);
    float *acc1 = malloc(sizeof(float) * rows * (size_t)p->dv);
    if (!m1 || !l1 || !acc1) {
        free(m1), free(l1), free(acc1);
        ea_canon_free(&c);
        return ea_fail(EA_ERR_NOMEM, "cannot allocate the two-stage scratch");
    }

    for (int32_t i = 0; i < b->bs; i++) {
        const int32_t P = b->prefix_kv_indptr[i + 1] - b->prefix_kv_indptr[i];
        const int32_t E = b->qo_indptr[i + 1] - b->qo_indptr[i];
        const size_t n = (size_t)E * (size_t)c.G;
        for (int32_t g = 0; g < p->hkv; g++) {
            /* stage 1: the cached prefix */
            ea_canon_begin(&c, i, g);
            ea_canon_keys(&c, i, g, 0, P, 0);
            memcpy(m1, c.m, sizeof(float) * n);
            memcpy(l1, c.l, sizeof(float) * n);
            memcpy(acc1, c.acc, sizeof(float) * n * (size_t)p->dv);
            /* stage 2: the new tokens, tiles counted from the first of them */
            ea_canon_begin(&c, i, g);
            ea_canon_keys(&c, i, g, P, P + E, P);
            /* merge: o = sum_k o_k * exp(lse_k - lse), the sink as a third term of value 0 */
            for (int32_t r = 0; r < E; r++)
                for (int32_t hh = 0; hh < c.G; hh++) {
                    const size_t row = (size_t)r * (size_t)c.G + (size_t)hh;
                    const int32_t h = g * c.G + hh;
                    const float lse1 = pass_lse(m1[row], l1[row]), lse2 = pass_lse(c.m[row], c.l[row]);
                    float mx = fmaxf(lse1, lse2);
                    if (p->sinks)
                        mx = fmaxf(mx, p->sinks[h]);
                    float w1 = 0.0f, w2 = 0.0f, sum = 0.0f;
                    if (mx != -INFINITY) {
                        w1 = expf(lse1 - mx);
                        w2 = expf(lse2 - mx);
                        sum = w1 + w2 + (p->sinks ? expf(p->sinks[h] - mx) : 0.0f);
                    }
                    const int64_t obase = ((int64_t)(b->qo_indptr[i] + r) * p->hq + h) * p->dv;
                    for (int32_t d = 0; d < p->dv; d++) {
                        float x = 0.0f;
                        if (lse1 != -INFINITY)
                            x += acc1[row * (size_t)p->dv + (size_t)d] / l1[row] * (w1 / sum);
                        if (lse2 != -INFINITY)
                            x += c.acc[row * (size_t)p->dv + (size_t)d] / c.l[row] * (w2 / sum);
                        ea_store(o, p->dtype, obase + d, x);
                    }
                }
        }
    }
    free(m1), free(l1), free(acc1);
    ea_canon_free(&c);
    return EA_OK;
}
