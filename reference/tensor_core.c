#define _POSIX_C_SOURCE 200809L /* sysconf */
/* The tensor-core reference: extend attention in the order of DESIGN.md section 6.2, every
 * product-sum through the model of one mma instruction (include/ea_mma.h), so that the
 * tensor-core kernel (kernels/attention/6_tensor_cores.cu) can be checked against it bit for bit.
 *
 * The loop nest is the kernel's:
 *   for request i, KV head g, block of 64 (query row, query head) pairs:   (one GPU block)
 *     for key tile j of 64 unified keys that some pair of the block sees:
 *       S = Q K^T        chains of mma steps over d (16 at a time), from +0
 *       scale, cap, mask; the running max; rescale (O, l) when it grows
 *       P = e^(S - m) rounded to bf16
 *       (O, l) += P [V | 1]   chains of mma steps over the tile's keys (16 at a time)
 *   o = O / (l + e^(sink - m))
 * Work items (i, g, block) are independent, so they are spread over threads; the bits do not
 * depend on how many. */
#include "ea_internal.h"
#include "ea_mma.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BF16_ONE 0x3f80u

/* What every thread shares: the call's arguments and its shape. */
typedef struct {
    const ea_batch *b;
    const ea_params *p;
    const ea_inputs *in;
    void *o;
    int32_t G, dqk16; /* query heads per KV head; Dqk padded with zeros to a multiple of 16 */
    ea_bf16x16 ones;  /* 16 bf16 ones: the column that makes l */
} tc_call;

/* One thread's scratch, for one block of pairs and one key tile. Operands are kept taken apart in
 * groups of 16 (ea_bf16x16: the k-step of one mma), so each is decoded once, not once per mma
 * element it feeds. */
typedef struct {
    ea_bf16x16 *q;  /* [64 pairs][dqk16 / 16] */
    ea_bf16x16 *k;  /* [64 keys][dqk16 / 16] */
    ea_bf16x16 *vT; /* [Dv][64 keys / 16]: V transposed, a column of V per output dimension */
    ea_bf16x16 *pb; /* [64 keys / 16]: one pair's probabilities */
    float *acc;     /* [64 pairs][Dv] */
    float *m, *l;   /* [64 pairs] */
} tc_scratch;

/* Loads element i of a tensor as bf16 bits: bf16 as it is, f32 rounded to nearest even. */
static uint16_t load_bf16(const void *t, ea_dtype dt, int64_t i)
{
    return dt == EA_BF16 ? ((const uint16_t *)t)[i] : ea_f32_to_bf16(((const float *)t)[i]);
}

/* Row `row` of a [*, dim] tensor (-1: a row of zeros) as bf16, padded with zeros to `steps` groups
 * of 16 and taken apart: one A or B operand per k-step of the mma chain over d. */
static void load_row16(const void *t, ea_dtype dt, int64_t row, int32_t dim, int32_t steps, ea_bf16x16 *out)
{
    for (int32_t st = 0; st < steps; st++) {
        uint16_t x[EA_MMA_K];
        for (int32_t d = 0; d < EA_MMA_K; d++) {
            const int32_t dd = st * EA_MMA_K + d;
            x[d] = row >= 0 && dd < dim ? load_bf16(t, dt, row * dim + dd) : 0;
        }
        ea_mma_bf16x16(x, &out[st]);
    }
}

/* Does pair row r (a query token of request i) see some key of [lo, hi)? */
static int row_sees_any(const tc_call *c, int32_t i, int32_t r, int32_t P, int32_t E, int32_t lo, int32_t hi)
{
    const uint8_t *mask_row = ea_mask_row(c->b, i, r, P, E);
    for (int32_t u = lo; u < hi; u++)
        if (ea_visible(c->p, mask_row, P + r, u))
            return 1;
    return 0;
}

/* One block: pairs [p0, p1) of request i, KV head g. Pair p is token r = p / G, head g*G + p % G. */
static void tc_block(const tc_call *c, tc_scratch *w, int32_t i, int32_t g, int32_t p0, int32_t p1)
{
    const ea_batch *b = c->b;
    const ea_params *p = c->p;
    const int32_t P = b->prefix_kv_indptr[i + 1] - b->prefix_kv_indptr[i];
    const int32_t E = b->qo_indptr[i + 1] - b->qo_indptr[i];
    const int32_t G = c->G, D16 = c->dqk16, Dv = p->dv, n_pairs = p1 - p0;
    const int32_t r_first = p0 / G, r_last = (p1 - 1) / G;

    const int32_t S16 = D16 / EA_MMA_K; /* k-steps of 16 over d */
    for (int32_t k = 0; k < n_pairs; k++) {
        const int32_t r = (p0 + k) / G, h = g * G + (p0 + k) % G;
        load_row16(c->in->q, p->dtype, (int64_t)(b->qo_indptr[i] + r) * p->hq + h, p->dqk, S16, &w->q[k * S16]);
        w->m[k] = -INFINITY;
        w->l[k] = 0.0f;
    }
    memset(w->acc, 0, sizeof(float) * (size_t)n_pairs * (size_t)Dv);

    for (int64_t lo = 0; lo < P + E; lo += EA_TILE) { /* 64-bit: no wrap near INT32_MAX */
        const int32_t hi = (int32_t)(lo + EA_TILE < P + E ? lo + EA_TILE : P + E);
        /* A tile no pair of the block sees is skipped; any other is computed for every pair. */
        int seen = 0;
        for (int32_t r = r_first; r <= r_last && !seen; r++)
            seen = row_sees_any(c, i, r, P, E, lo, hi);
        if (!seen)
            continue;

        /* Gather the tile: K rows and V columns as bf16, zeros past the last key. */
        int64_t slot[EA_TILE];
        for (int32_t j = 0; j < EA_TILE; j++)
            slot[j] = lo + j < hi ? ea_key_slot(b, i, P, lo + j) : -1;
        for (int32_t j = 0; j < EA_TILE; j++)
            load_row16(c->in->k_pool, p->dtype, slot[j] >= 0 ? slot[j] * p->hkv + g : -1, p->dqk, S16, &w->k[j * S16]);
        for (int32_t d = 0; d < Dv; d++)
            for (int32_t st = 0; st < EA_TILE / EA_MMA_K; st++) {
                uint16_t x[EA_MMA_K];
                for (int32_t jj = 0; jj < EA_MMA_K; jj++) {
                    const int64_t sl = slot[st * EA_MMA_K + jj];
                    x[jj] = sl >= 0 ? load_bf16(c->in->v_pool, p->dtype, (sl * p->hkv + g) * p->dv + d) : 0;
                }
                ea_mma_bf16x16(x, &w->vT[d * (EA_TILE / EA_MMA_K) + st]);
            }

        for (int32_t k = 0; k < n_pairs; k++) {
            const int32_t r = (p0 + k) / G, t = P + r;
            const uint8_t *mask_row = ea_mask_row(b, i, r, P, E);
            const ea_bf16x16 *q = w->q + k * S16;
            float s[EA_TILE];
            int vis[EA_TILE];
            float m_new = w->m[k];

            /* S = Q K^T: each score a chain of mma steps over d, 16 products a step, from +0. */
            for (int32_t j = 0; j < EA_TILE; j++) {
                float x = 0.0f;
                for (int32_t st = 0; st < S16; st++)
                    x = ea_mma_dot16x16(&q[st], &w->k[j * S16 + st], x);
                x = x * p->sm_scale;
                if (p->logit_cap > 0.0f)
                    x = p->logit_cap * ea_tanhf(x / p->logit_cap);
                vis[j] = lo + j < hi && ea_visible(p, mask_row, t, lo + j);
                s[j] = x;
                if (vis[j])
                    m_new = fmaxf(m_new, x); /* NaN scores are ignored by the max */
            }

            /* Rescale what was accumulated under a smaller max (l is O's extra column). */
            float *acc = w->acc + (int64_t)k * Dv;
            float l = w->l[k];
            if (m_new > w->m[k]) {
                const float a = ea_expf(w->m[k] - m_new);
                l = l * a;
                for (int32_t d = 0; d < Dv; d++)
                    acc[d] = acc[d] * a;
            }

            /* P = e^(S - m) as bf16, +0 for keys the pair does not see. */
            for (int32_t st = 0; st < EA_TILE / EA_MMA_K; st++) {
                uint16_t x[EA_MMA_K];
                for (int32_t jj = 0; jj < EA_MMA_K; jj++) {
                    const int32_t j = st * EA_MMA_K + jj;
                    x[jj] = vis[j] ? ea_f32_to_bf16(ea_expf(s[j] - m_new)) : 0;
                }
                ea_mma_bf16x16(x, &w->pb[st]);
            }

            /* (O, l) += P [V | 1]: chains of mma steps over the tile's keys, 16 a step. */
            for (int32_t st = 0; st < EA_TILE / EA_MMA_K; st++) {
                for (int32_t d = 0; d < Dv; d++)
                    acc[d] = ea_mma_dot16x16(&w->pb[st], &w->vT[d * (EA_TILE / EA_MMA_K) + st], acc[d]);
                l = ea_mma_dot16x16(&w->pb[st], &c->ones, l);
            }
            w->l[k] = l;
            w->m[k] = m_new;
        }
    }

    /* Epilogue: the sink joins the denominator; no visible key gives zeros. */
    for (int32_t k = 0; k < n_pairs; k++) {
        const int32_t r = (p0 + k) / G, h = g * G + (p0 + k) % G;
        const int64_t obase = ((int64_t)(b->qo_indptr[i] + r) * p->hq + h) * Dv;
        const int empty = w->m[k] == -INFINITY;
        float l = w->l[k];
        if (!empty && p->sinks)
            l = l + ea_expf(p->sinks[h] - w->m[k]);
        for (int32_t d = 0; d < Dv; d++)
            ea_store(c->o, p->dtype, obase + d, empty ? 0.0f : w->acc[(int64_t)k * Dv + d] / l);
    }
}

/* The work list: every (request, KV head, block) once; threads take items by a shared counter. */
typedef struct {
    const tc_call *c;
    tc_scratch w;
    int64_t *next, total;
    pthread_mutex_t *lock;
} tc_worker;

static void item(const tc_call *c, int64_t n, int32_t *i, int32_t *g, int32_t *blk)
{
    /* blocks per (i, g): ceil(E_i * G / 64); walk requests in order */
    for (int32_t r = 0; r < c->b->bs; r++) {
        const int64_t pairs = (int64_t)(c->b->qo_indptr[r + 1] - c->b->qo_indptr[r]) * c->G;
        const int64_t blocks = (pairs + EA_TC_BLOCK_PAIRS - 1) / EA_TC_BLOCK_PAIRS * c->p->hkv;
        if (n < blocks) {
            *i = r;
            *g = (int32_t)(n % c->p->hkv);
            *blk = (int32_t)(n / c->p->hkv);
            return;
        }
        n -= blocks;
    }
}

static void *tc_work(void *arg)
{
    tc_worker *wk = arg;
    for (;;) {
        pthread_mutex_lock(wk->lock);
        const int64_t n = (*wk->next)++;
        pthread_mutex_unlock(wk->lock);
        if (n >= wk->total)
            return NULL;
        int32_t i = 0, g = 0, blk = 0;
        item(wk->c, n, &i, &g, &blk);
        const int32_t pairs = (wk->c->b->qo_indptr[i + 1] - wk->c->b->qo_indptr[i]) * wk->c->G;
        const int32_t p0 = blk * EA_TC_BLOCK_PAIRS;
        tc_block(wk->c, &wk->w, i, g, p0, p0 + EA_TC_BLOCK_PAIRS < pairs ? p0 + EA_TC_BLOCK_PAIRS : pairs);
    }
}

static void scratch_free(tc_scratch *w)
{
    free(w->q), free(w->k), free(w->vT), free(w->pb), free(w->acc), free(w->m), free(w->l);
}

static int scratch_alloc(tc_scratch *w, const tc_call *c)
{
    const size_t np = EA_TC_BLOCK_PAIRS, dv = (size_t)c->p->dv;
    w->q = malloc(sizeof *w->q * np * (size_t)c->dqk16 / EA_MMA_K);
    w->k = malloc(sizeof *w->k * EA_TILE * (size_t)c->dqk16 / EA_MMA_K);
    w->vT = malloc(sizeof *w->vT * EA_TILE * dv / EA_MMA_K);
    w->pb = malloc(sizeof *w->pb * EA_TILE / EA_MMA_K);
    w->acc = malloc(sizeof(float) * np * dv);
    w->m = malloc(sizeof(float) * np);
    w->l = malloc(sizeof(float) * np);
    return w->q && w->k && w->vT && w->pb && w->acc && w->m && w->l;
}

ea_status ea_reference_tc(const ea_batch *b, const ea_params *p, const ea_inputs *in, void *o)
{
    ea_status st = ea_check_call(b, p, in, o);
    if (st != EA_OK)
        return st;
    tc_call c;
    memset(&c, 0, sizeof c);
    c.b = b, c.p = p, c.in = in, c.o = o;
    c.G = p->hq / p->hkv;
    c.dqk16 = (p->dqk + EA_MMA_K - 1) / EA_MMA_K * EA_MMA_K;
    const uint16_t ones[EA_MMA_K] = {BF16_ONE, BF16_ONE, BF16_ONE, BF16_ONE, BF16_ONE, BF16_ONE, BF16_ONE, BF16_ONE,
                                     BF16_ONE, BF16_ONE, BF16_ONE, BF16_ONE, BF16_ONE, BF16_ONE, BF16_ONE, BF16_ONE};
    ea_mma_bf16x16(ones, &c.ones);
    int64_t total = 0;
    for (int32_t i = 0; i < b->bs; i++) {
        const int64_t pairs = (int64_t)(b->qo_indptr[i + 1] - b->qo_indptr[i]) * c.G;
        total += (pairs + EA_TC_BLOCK_PAIRS - 1) / EA_TC_BLOCK_PAIRS * p->hkv;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int nthreads = cores < 1 ? 1 : cores > 16 ? 16 : (int)cores;
    if (nthreads > total)
        nthreads = total > 0 ? (int)total : 1;

    tc_worker wk[16];
    pthread_t th[16];
    int started[16] = {0};
    int64_t next = 0;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    int ok = 1;
    for (int t = 0; t < nthreads; t++) {
        wk[t] = (tc_worker){&c, {0}, &next, total, &lock};
        ok &= scratch_alloc(&wk[t].w, &c);
    }
    for (int t = 1; ok && t < nthreads; t++) /* this thread is worker 0 */
        started[t] = pthread_create(&th[t], NULL, tc_work, &wk[t]) == 0;
    if (ok)
        tc_work(&wk[0]); /* also does the share of any thread that did not start */
    for (int t = 1; t < nthreads; t++)
        if (started[t])
            pthread_join(th[t], NULL);
    for (int t = 0; t < nthreads; t++)
        scratch_free(&wk[t].w);
    pthread_mutex_destroy(&lock);
    return ok ? EA_OK : ea_fail(EA_ERR_NOMEM, "cannot allocate the tensor-core reference's scratch");
}
