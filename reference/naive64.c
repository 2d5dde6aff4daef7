/* The accuracy yardstick: one query row and head at a time, in double, with
 * libm's exp and tanh and a two-pass softmax. Slow and obviously right; both
 * fp32 references are measured against it.
 *
 * Next to each output it can give the magnitude that produced it,
 * sum_u p_u |v_u[d]| / l: the size of the terms whose sum is the output. An
 * fp32 result's rounding error is proportional to it, whereas the output
 * itself can cancel to nearly zero, so it is the scale a tolerance needs. */
#include "ea_internal.h"

#include <math.h>
#include <stdlib.h>

/* o and, when mag is not NULL, the magnitude of each output. */
static ea_status attention_f64(const ea_batch *b, const ea_params *p, const ea_inputs *in, double *o, double *mag)
{
    ea_status st = ea_check_call(b, p, in, o);
    if (st != EA_OK)
        return st;
    int32_t max_t = 1;
    for (int32_t i = 0; i < b->bs; i++) {
        int32_t T = b->prefix_kv_indptr[i + 1] - b->prefix_kv_indptr[i] + b->qo_indptr[i + 1] - b->qo_indptr[i];
        max_t = T > max_t ? T : max_t;
    }
    double *s = malloc(sizeof(double) * (size_t)max_t);
    if (!s)
        return ea_fail(EA_ERR_NOMEM, "cannot allocate %d scores", max_t);

    const int32_t G = p->hq / p->hkv;
    for (int32_t i = 0; i < b->bs; i++) {
        const int32_t P = b->prefix_kv_indptr[i + 1] - b->prefix_kv_indptr[i];
        const int32_t E = b->qo_indptr[i + 1] - b->qo_indptr[i];
        for (int32_t r = 0; r < E; r++) {
            const uint8_t *mask_row = ea_mask_row(b, i, r, P, E);
            const int64_t row = b->qo_indptr[i] + r;
            for (int32_t h = 0; h < p->hq; h++) {
                const int32_t g = h / G;
                double mx = -INFINITY;
                for (int32_t u = 0; u < P + E; u++) {
                    s[u] = -INFINITY;
                    if (!ea_visible(p, mask_row, P + r, u))
                        continue;
                    const int64_t kb = (ea_key_slot(b, i, P, u) * p->hkv + g) * p->dqk;
                    double x = 0.0;
                    for (int32_t d = 0; d < p->dqk; d++)
                        x += (double)ea_load(in->q, p->dtype, (row * p->hq + h) * p->dqk + d) *
                             (double)ea_load(in->k_pool, p->dtype, kb + d);
                    x *= (double)p->sm_scale;
                    if (p->logit_cap > 0.0f)
                        x = p->logit_cap * tanh(x / p->logit_cap);
                    s[u] = x;
                    mx = x > mx ? x : mx;
                }
                double sum = 0.0;
                for (int32_t u = 0; u < P + E; u++) {
                    s[u] = s[u] == -INFINITY ? 0.0 : exp(s[u] - mx);
                    sum += s[u];
                }
                if (mx != -INFINITY && p->sinks)
                    sum += exp((double)p->sinks[h] - mx);
                double *out = o + (row * p->hq + h) * p->dv;
                double *size = mag ? mag + (row * p->hq + h) * p->dv : NULL;
                for (int32_t d = 0; d < p->dv; d++) {
                    out[d] = 0.0;
                    if (size)
                        size[d] = 0.0;
                }
                for (int32_t u = 0; u < P + E && mx != -INFINITY; u++) {
                    if (s[u] == 0.0)
                        continue;
                    const int64_t vb = (ea_key_slot(b, i, P, u) * p->hkv + g) * p->dv;
                    for (int32_t d = 0; d < p->dv; d++) {
                        const double term = s[u] / sum * (double)ea_load(in->v_pool, p->dtype, vb + d);
                        out[d] += term;
                        if (size)
                            size[d] += fabs(term);
                    }
                }
            }
        }
    }
    free(s);
    return EA_OK;
}

ea_status ea_reference_f64(const ea_batch *b, const ea_params *p, const ea_inputs *in, double *o)
{
    return attention_f64(b, p, in, o, NULL);
}

ea_status ea_reference_f64_mag(const ea_batch *b, const ea_params *p, const ea_inputs *in, double *o, double *mag)
{
    if (!mag)
        return ea_fail(EA_ERR_NULL, "mag is NULL");
    return attention_f64(b, p, in, o, mag);
}
