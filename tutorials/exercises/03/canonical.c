/* The canonical reference: extend attention in the exact operation order of
 * DESIGN.md section 2, the contract the GPU kernel matches bit for bit.
 *
 * Readable C, no intrinsics. The loop nest mirrors the GPU kernel:
 *   for request i, KV head g:                  (one GPU block)
 *     for tile of 64 unified keys:              (staged once in shared memory)
 *       for query row r, query head h of g:     (the block's threads)
 *         pass 1: 64 scores q.k, then the tile max
 *         pass 2: rescale the state, add p and p*v for every visible key
 * Scores of a tile are computed side by side (a vector across keys, each one
 * still a sequential fmaf chain over d), which is canonical and lets the
 * compiler use SIMD. */
#include "ea_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ea_canon_free(ea_canon *c)
{
    free(c->q);
    free(c->kT);
    free(c->v);
    free(c->m);
    free(c->l);
    free(c->acc);
    memset(c, 0, sizeof *c);
}

ea_status ea_canon_init(ea_canon *c, const ea_batch *b, const ea_params *p, const ea_inputs *in)
{
    memset(c, 0, sizeof *c);
    c->b = b;
    c->p = p;
    c->in = in;
    c->G = p->hq / p->hkv;
    size_t rows = (size_t)(b->max_extend_len > 0 ? b->max_extend_len : 1) * (size_t)c->G;
    c->q = malloc(sizeof(float) * rows * (size_t)p->dqk);
    c->kT = calloc((size_t)p->dqk * EA_TILE, sizeof(float));
    c->v = calloc((size_t)EA_TILE * (size_t)p->dv, sizeof(float));
    c->m = malloc(sizeof(float) * rows);
    c->l = malloc(sizeof(float) * rows);
    c->acc = malloc(sizeof(float) * rows * (size_t)p->dv);
    if (!c->q || !c->kT || !c->v || !c->m || !c->l || !c->acc) {
        ea_canon_free(c);
        return ea_fail(EA_ERR_NOMEM, "cannot allocate the reference's scratch for %zu rows", rows);
    }
    return EA_OK;
}

void ea_canon_begin(ea_canon *c, int32_t i, int32_t g)
{
    const ea_params *p = c->p;
    const int32_t E = c->b->qo_indptr[i + 1] - c->b->qo_indptr[i];
    for (int32_t r = 0; r < E; r++)
        for (int32_t hh = 0; hh < c->G; hh++) {
            int64_t src = ((int64_t)(c->b->qo_indptr[i] + r) * p->hq + g * c->G + hh) * p->dqk;
            float *dst = c->q + ((int64_t)r * c->G + hh) * p->dqk;
            for (int32_t d = 0; d < p->dqk; d++)
                dst[d] = ea_load(c->in->q, p->dtype, src + d);
        }
    for (int64_t k = 0; k < (int64_t)E * c->G; k++) {
        c->m[k] = -INFINITY;
        c->l[k] = 0.0f;
    }
    memset(c->acc, 0, sizeof(float) * (size_t)E * (size_t)c->G * (size_t)p->dv);
}

/* Gathers keys [lo, lo+n) of request i, KV head g into kT (transposed) and v. */
static void load_tile(ea_canon *c, int32_t i, int32_t g, int32_t P, int32_t lo, int32_t n)
{
    const ea_params *p = c->p;
    for (int32_t j = 0; j < n; j++) {
        int64_t slot = ea_key_slot(c->b, i, P, lo + j);
        int64_t kbase = (slot * p->hkv + g) * p->dqk;
        int64_t vbase = (slot * p->hkv + g) * p->dv;
        for (int32_t d = 0; d < p->dqk; d++)
            c->kT[d * EA_TILE + j] = ea_load(c->in->k_pool, p->dtype, kbase + d);
        for (int32_t d = 0; d < p->dv; d++)
            c->v[j * p->dv + d] = ea_load(c->in->v_pool, p->dtype, vbase + d);
    }
}

void ea_canon_keys(ea_canon *c, int32_t i, int32_t g, int32_t u_begin, int32_t u_end, int32_t tile_origin)
{
    const ea_params *p = c->p;
    const int32_t P = c->b->prefix_kv_indptr[i + 1] - c->b->prefix_kv_indptr[i];
    const int32_t E = c->b->qo_indptr[i + 1] - c->b->qo_indptr[i];
    const int32_t Dqk = p->dqk, Dv = p->dv;

    for (int64_t tile = tile_origin; tile < u_end; tile += EA_TILE) { /* 64-bit: no wrap near INT32_MAX */
        const int32_t lo = (int32_t)(tile > u_begin ? tile : u_begin);
        const int32_t hi = (int32_t)(tile + EA_TILE < u_end ? tile + EA_TILE : u_end);
        if (lo >= hi)
            continue;
        const int32_t n = hi - lo;
        load_tile(c, i, g, P, lo, n);

        for (int32_t r = 0; r < E; r++) {
            const int32_t t = P + r; /* the query's absolute position */
            const uint8_t *mask_row = ea_mask_row(c->b, i, r, P, E);
            int32_t vis[EA_TILE], nv = 0; /* visible keys of the tile, increasing u */
            for (int32_t j = 0; j < n; j++)
                if (ea_visible(p, mask_row, t, lo + j))
                    vis[nv++] = j;
            if (nv == 0)
                continue; /* DESIGN: an empty tile is skipped, state untouched */

            for (int32_t hh = 0; hh < c->G; hh++) {
                const int64_t row = (int64_t)r * c->G + hh;
                const float *q = c->q + row * Dqk;
                float *acc = c->acc + row * Dv;

                /* pass 1: scores, each a fmaf chain over d, 64 chains side by side */
                float s[EA_TILE];
                for (int32_t j = 0; j < EA_TILE; j++)
                    s[j] = 0.0f;
                for (int32_t d = 0; d < Dqk; d++) {
                    const float qd = q[d];
                    const float *kd = c->kT + d * EA_TILE;
                    for (int32_t j = 0; j < EA_TILE; j++)
                        s[j] = fmaf(qd, kd[j], s[j]);
                }
                float m_new = c->m[row];
                for (int32_t k = 0; k < nv; k++) {
                    float x = s[vis[k]] * p->sm_scale;
                    if (p->logit_cap > 0.0f)
                        x = p->logit_cap * ea_tanhf(x / p->logit_cap);
                    s[vis[k]] = x;
                    m_new = fmaxf(m_new, x); /* NaN scores are ignored by the max */
                }

                /* pass 2: rescale what was accumulated under the old max, then add the tile */
                /* TODO (exercise 3): the online-softmax update in the canonical order: rescale (l, acc) by ea_expf(m - m_new) unless m is -inf, then add p and p*v for every visible key in increasing u.
                   The page tutorials/03-canonical-order.md explains it; `make exercise 3` checks your code. */
            }
        }
    }
}

ea_status ea_reference_canonical(const ea_batch *b, const ea_params *p, const ea_inputs *in, void *o)
{
    ea_status st = ea_check_call(b, p, in, o);
    if (st != EA_OK)
        return st;
    ea_canon c;
    if ((st = ea_canon_init(&c, b, p, in)) != EA_OK)
        return st;

    for (int32_t i = 0; i < b->bs; i++) {
        const int32_t P = b->prefix_kv_indptr[i + 1] - b->prefix_kv_indptr[i];
        const int32_t E = b->qo_indptr[i + 1] - b->qo_indptr[i];
        for (int32_t g = 0; g < p->hkv; g++) {
            ea_canon_begin(&c, i, g);
            ea_canon_keys(&c, i, g, 0, P + E, 0);
            /* epilogue: add the sink to the denominator, normalise, round to the storage type */
            for (int32_t r = 0; r < E; r++)
                for (int32_t hh = 0; hh < c.G; hh++) {
                    const int64_t row = (int64_t)r * c.G + hh;
                    const int32_t h = g * c.G + hh;
                    const int64_t obase = ((int64_t)(b->qo_indptr[i] + r) * p->hq + h) * p->dv;
                    float l = c.l[row];
                    const int empty = c.m[row] == -INFINITY; /* no visible key */
                    if (!empty && p->sinks)
                        l = l + ea_expf(p->sinks[h] - c.m[row]);
                    for (int32_t d = 0; d < p->dv; d++)
                        ea_store(o, p->dtype, obase + d, empty ? 0.0f : c.acc[row * p->dv + d] / l);
                }
        }
    }
    ea_canon_free(&c);
    return EA_OK;
}
