/* The seeded generator: a case line becomes the same data on every machine.
 * It draws every request's whole sequence (slots, queries and mask rows for
 * prefix AND new positions), so tests can cut it into cached and new tokens
 * at any point, or take any subset of requests, and still ask for the same
 * attention. The PRNG is ea_splitmix64 (ea_cases.h). */
#include "ea_cases.h"
#include "ea_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Uniform float in [lo, hi) from the top 24 bits (exact in fp32). */
static float uniform(uint64_t *s, float lo, float hi)
{
    return lo + (hi - lo) * ((float)(ea_splitmix64(s) >> 40) * 0x1p-24f);
}

/* Fills n elements of a tensor with uniform values, rounded to the storage type. */
static void fill(void *t, ea_dtype dt, int64_t n, float lo, float hi, uint64_t *s)
{
    for (int64_t k = 0; k < n; k++)
        ea_store(t, dt, k, uniform(s, lo, hi));
}

void ea_problem_free(ea_problem *pr)
{
    if (!pr)
        return;
    free(pr->prefix_lens);
    free(pr->seq_lens);
    free(pr->seq_start);
    free(pr->slots);
    free(pr->q_all);
    free(pr->k_pool);
    free(pr->v_pool);
    free(pr->mask);
    free(pr->mask_start);
    free(pr->sinks);
    memset(pr, 0, sizeof *pr);
}

/* The draws of ea_problem_make(), in the order the seed is consumed: lengths, slots, q, k, v,
 * sinks, mask. Each returns 0, or -1 when out of memory (the caller frees the problem). */

/* Per request, in order: E then P drawn from the case; where its positions start (seq_start) and
 * where its T x T mask starts (mask_start; *mask_total: all of them). */
static int draw_lengths(const ea_case *c, ea_problem *pr, uint64_t *s, int64_t *mask_total)
{
    const size_t bs = (size_t)c->bs;
    pr->prefix_lens = malloc(sizeof(int32_t) * bs);
    pr->seq_lens = malloc(sizeof(int32_t) * bs);
    pr->seq_start = malloc(sizeof(int64_t) * (bs + 1));
    pr->mask_start = malloc(sizeof(int64_t) * bs);
    if (!pr->prefix_lens || !pr->seq_lens || !pr->seq_start || !pr->mask_start)
        return -1;
    pr->seq_start[0] = 0;
    *mask_total = 0;
    for (int32_t i = 0; i < c->bs; i++) {
        int32_t E = ea_draw_len(&c->extend, i, s);
        pr->prefix_lens[i] = ea_draw_len(&c->prefix, i, s);
        pr->seq_lens[i] = pr->prefix_lens[i] + E;
        pr->seq_start[i + 1] = pr->seq_start[i] + pr->seq_lens[i];
        pr->mask_start[i] = *mask_total;
        *mask_total += (int64_t)pr->seq_lens[i] * pr->seq_lens[i];
    }
    return 0;
}

/* The slot of each of the total positions: the pool in order, or a Fisher-Yates permutation of it. */
static int draw_slots(const ea_case *c, ea_problem *pr, int64_t total, uint64_t *s)
{
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)pr->pool_size);
    pr->slots = malloc(sizeof(int64_t) * (size_t)(total + 1));
    if (!perm || !pr->slots) {
        free(perm);
        return -1;
    }
    for (int64_t k = 0; k < pr->pool_size; k++)
        perm[k] = k;
    if (!c->slots_linear)
        for (int64_t k = pr->pool_size - 1; k > 0; k--) {
            int64_t j = (int64_t)(ea_splitmix64(s) % (uint64_t)(k + 1));
            int64_t t = perm[k];
            perm[k] = perm[j];
            perm[j] = t;
        }
    memcpy(pr->slots, perm, sizeof(int64_t) * (size_t)total);
    free(perm);
    return 0;
}

/* q, k_pool, v_pool (|q.k| spreads the scores over a few units so the softmax is not flat), then
 * one sink per query head if the case asks for them. */
static int draw_data(const ea_case *c, ea_problem *pr, int64_t q_elems, int64_t k_elems, int64_t v_elems,
                     uint64_t *s)
{
    const size_t es = ea_dtype_size(c->dtype);
    pr->q_all = malloc(es * (size_t)(q_elems + 1));
    pr->k_pool = malloc(es * (size_t)(k_elems + 1));
    pr->v_pool = malloc(es * (size_t)(v_elems + 1));
    if (!pr->q_all || !pr->k_pool || !pr->v_pool)
        return -1;
    fill(pr->q_all, c->dtype, q_elems, -2.0f, 2.0f, s);
    fill(pr->k_pool, c->dtype, k_elems, -2.0f, 2.0f, s);
    fill(pr->v_pool, c->dtype, v_elems, -1.0f, 1.0f, s);
    if (c->sinks) {
        pr->sinks = malloc(sizeof(float) * (size_t)c->hq);
        if (!pr->sinks)
            return -1;
        for (int32_t h = 0; h < c->hq; h++)
            pr->sinks[h] = uniform(s, -1.0f, 3.0f);
        pr->params.sinks = pr->sinks;
    }
    return 0;
}

/* A random mask over absolute positions, T x T per request; one row in eight hides every key. */
static int draw_mask(const ea_case *c, ea_problem *pr, int64_t mask_total, uint64_t *s)
{
    pr->mask = malloc((size_t)mask_total + 1);
    if (!pr->mask)
        return -1;
    for (int32_t i = 0; i < c->bs; i++) {
        const int32_t T = pr->seq_lens[i];
        for (int32_t t = 0; t < T; t++) {
            uint8_t *row = pr->mask + pr->mask_start[i] + (int64_t)t * T;
            const int hidden = (ea_splitmix64(s) & 7) == 0;
            for (int32_t u = 0; u < T; u++)
                row[u] = hidden ? 0 : (uint8_t)(ea_splitmix64(s) & 1);
        }
    }
    return 0;
}

ea_status ea_problem_make(const ea_case *c, ea_problem *out)
{
    if (!c || !out)
        return ea_fail(EA_ERR_NULL, "case and problem are required");
    ea_status st = ea_case_check(c);
    if (st != EA_OK)
        return st;
    ea_problem pr;
    memset(&pr, 0, sizeof pr);
    pr.spec = *c;
    pr.spec.extend.list = pr.spec.prefix.list = NULL; /* they belong to the caller's case */
    pr.bs = c->bs;
    pr.params = ea_params_default(c->hq, c->hkv, c->dqk, c->dv);
    pr.params.dtype = c->dtype;
    pr.params.causal = c->causal;
    pr.params.sliding_window = c->window;
    pr.params.logit_cap = c->cap;
    uint64_t s = c->seed;

    int64_t mask_total;
    if (draw_lengths(c, &pr, &s, &mask_total))
        goto nomem;
    const int64_t total = pr.seq_start[c->bs];
    pr.pool_size = total + c->bs; /* a few slots no request uses */
    const int64_t q_elems = ea_tensor_elems(total, c->hq, c->dqk);
    const int64_t k_elems = ea_tensor_elems(pr.pool_size, c->hkv, c->dqk);
    const int64_t v_elems = ea_tensor_elems(pr.pool_size, c->hkv, c->dv);
    if (q_elems < 0 || k_elems < 0 || v_elems < 0 || (c->mask && mask_total > EA_MAX_ELEMENTS)) {
        ea_problem_free(&pr);
        return ea_fail(EA_ERR_OVERFLOW, "case '%s': %lld tokens are too many", c->name, (long long)total);
    }
    if (draw_slots(c, &pr, total, &s) || draw_data(c, &pr, q_elems, k_elems, v_elems, &s) ||
        (c->mask && draw_mask(c, &pr, mask_total, &s)))
        goto nomem;
    *out = pr;
    return EA_OK;
nomem:
    ea_problem_free(&pr);
    return ea_fail(EA_ERR_NOMEM, "case '%s': out of memory", c->name);
}

void ea_host_batch_free(ea_host_batch *hb)
{
    if (!hb)
        return;
    free(hb->qo_indptr);
    free(hb->prefix_kv_indptr);
    free(hb->prefix_kv_indices);
    free(hb->extend_start_loc);
    free(hb->extend_seq_lens);
    free(hb->extend_kv_indices);
    free(hb->custom_mask);
    free(hb->mask_indptr);
    free((void *)hb->in.q);
    free(hb->o);
    memset(hb, 0, sizeof *hb);
}

/* Request k of a batch: reqs[k] (all of the problem's requests in order without reqs), and its
 * cached length: prefix_lens[k], or the problem's own split. */
static int32_t batch_req(const int32_t *reqs, int32_t k) { return reqs ? reqs[k] : k; }

static int32_t batch_prefix(const ea_problem *pr, const int32_t *reqs, const int32_t *prefix_lens, int32_t k)
{
    return prefix_lens ? prefix_lens[k] : pr->prefix_lens[batch_req(reqs, k)];
}

/* The arrays of a batch of n requests, N new tokens, nprefix cached ones and nmask mask entries
 * (mask arrays only when the problem has a mask). 0, or -1 when out of memory (the caller frees). */
static int batch_alloc(ea_host_batch *hb, const ea_problem *pr, int32_t n, int64_t N, int64_t nprefix, int64_t nmask)
{
    const ea_params *p = &pr->params;
    const size_t es = ea_dtype_size(p->dtype);
    hb->qo_indptr = malloc(sizeof(int32_t) * ((size_t)n + 1));
    hb->prefix_kv_indptr = malloc(sizeof(int32_t) * ((size_t)n + 1));
    hb->prefix_kv_indices = malloc(sizeof(int64_t) * (size_t)(nprefix + 1));
    hb->extend_start_loc = malloc(sizeof(int32_t) * (size_t)n);
    hb->extend_seq_lens = malloc(sizeof(int32_t) * (size_t)n);
    hb->extend_kv_indices = malloc(sizeof(int64_t) * (size_t)(N + 1));
    hb->in.q = malloc(es * (size_t)(N * p->hq * p->dqk + 1));
    hb->o_bytes = es * (size_t)(N * p->hq * p->dv);
    hb->o = malloc(hb->o_bytes + 1);
    if (pr->mask) {
        hb->custom_mask = malloc((size_t)nmask + 1);
        hb->mask_indptr = malloc(sizeof(int32_t) * ((size_t)n + 1));
    }
    if (!hb->qo_indptr || !hb->prefix_kv_indptr || !hb->prefix_kv_indices || !hb->extend_start_loc ||
        !hb->extend_seq_lens || !hb->extend_kv_indices || !hb->in.q || !hb->o ||
        (pr->mask && (!hb->custom_mask || !hb->mask_indptr)))
        return -1;
    return 0;
}

/* Fills the arrays, request after request: offsets, slots, query rows and mask rows of the new
 * tokens (positions P.. of the problem's request). Returns the longest E. */
static int32_t batch_fill(ea_host_batch *hb, const ea_problem *pr, const int32_t *reqs, int32_t n,
                          const int32_t *prefix_lens, int64_t N)
{
    const ea_params *p = &pr->params;
    const size_t row_bytes = ea_dtype_size(p->dtype) * (size_t)p->hq * (size_t)p->dqk;
    hb->qo_indptr[0] = hb->prefix_kv_indptr[0] = 0;
    if (hb->mask_indptr)
        hb->mask_indptr[0] = 0;
    int32_t max_e = 0;
    for (int32_t k = 0; k < n; k++) {
        const int32_t i = batch_req(reqs, k);
        const int32_t T = pr->seq_lens[i];
        const int32_t P = batch_prefix(pr, reqs, prefix_lens, k);
        const int32_t E = T - P;
        const int64_t *slots = pr->slots + pr->seq_start[i];
        hb->qo_indptr[k + 1] = hb->qo_indptr[k] + E;
        hb->prefix_kv_indptr[k + 1] = hb->prefix_kv_indptr[k] + P;
        /* New tokens' slots are stored request after request in REVERSE batch order, so that
         * extend_start_loc differs from qo_indptr (DESIGN 1 allows any layout): code that reads
         * one where it means the other fails every test instead of passing by coincidence. */
        hb->extend_start_loc[k] = (int32_t)N - hb->qo_indptr[k + 1];
        hb->extend_seq_lens[k] = E;
        max_e = E > max_e ? E : max_e;
        memcpy(hb->prefix_kv_indices + hb->prefix_kv_indptr[k], slots, sizeof(int64_t) * (size_t)P);
        memcpy(hb->extend_kv_indices + hb->extend_start_loc[k], slots + P, sizeof(int64_t) * (size_t)E);
        memcpy((char *)hb->in.q + row_bytes * (size_t)hb->qo_indptr[k],
               (const char *)pr->q_all + row_bytes * (size_t)(pr->seq_start[i] + P), row_bytes * (size_t)E);
        if (pr->mask) {
            /* new token r is position P + r: its mask row is row P + r of the full mask */
            hb->mask_indptr[k + 1] = hb->mask_indptr[k] + E * T;
            memcpy(hb->custom_mask + hb->mask_indptr[k], pr->mask + pr->mask_start[i] + (int64_t)P * T,
                   (size_t)E * (size_t)T);
        }
    }
    return max_e;
}

ea_status ea_host_batch_make(const ea_problem *pr, const int32_t *reqs, int32_t n, const int32_t *prefix_lens,
                             ea_host_batch *out)
{
    if (!pr || !out)
        return ea_fail(EA_ERR_NULL, "problem and batch are required");
    if (!reqs)
        n = pr->bs;
    if (n < 1)
        return ea_fail(EA_ERR_DIM, "a batch needs at least one request (n=%d)", n);
    for (int32_t k = 0; k < n; k++) {
        const int32_t i = batch_req(reqs, k);
        if (i < 0 || i >= pr->bs)
            return ea_fail(EA_ERR_RANGE, "request %d is not in the problem (bs=%d)", i, pr->bs);
        if (prefix_lens && (prefix_lens[k] < 0 || prefix_lens[k] > pr->seq_lens[i]))
            return ea_fail(EA_ERR_COUNT, "request %d: prefix %d outside [0, %d]", i, prefix_lens[k], pr->seq_lens[i]);
    }
    const ea_params *p = &pr->params;
    int64_t N = 0, nprefix = 0, nmask = 0;
    for (int32_t k = 0; k < n; k++) {
        const int32_t i = batch_req(reqs, k);
        const int32_t P = batch_prefix(pr, reqs, prefix_lens, k);
        N += pr->seq_lens[i] - P;
        nprefix += P;
        nmask += pr->mask ? (int64_t)(pr->seq_lens[i] - P) * pr->seq_lens[i] : 0; /* T^2 <= 2^31 when masked: any n fits */
    }
    /* the batch's offsets are int32 (repeated requests can add up past them) and its tensors
     * must fit EA_MAX_ELEMENTS */
    if (N > INT32_MAX || nprefix > INT32_MAX || (pr->mask && nmask > INT32_MAX) ||
        ea_tensor_elems(N, p->hq, p->dqk > p->dv ? p->dqk : p->dv) < 0)
        return ea_fail(EA_ERR_OVERFLOW, "a batch of %d requests: %lld new tokens, %lld cached, %lld mask entries: "
                       "its int32 offsets or tensors overflow", n, (long long)N, (long long)nprefix, (long long)nmask);
    ea_host_batch hb;
    memset(&hb, 0, sizeof hb);
    if (batch_alloc(&hb, pr, n, N, nprefix, nmask)) {
        ea_host_batch_free(&hb);
        return ea_fail(EA_ERR_NOMEM, "out of memory building a batch of %d requests", n);
    }
    const int32_t max_e = batch_fill(&hb, pr, reqs, n, prefix_lens, N);
    hb.num_tokens = (int32_t)N;
    hb.batch = (ea_batch){
        .bs = n,
        .pool_size = pr->pool_size,
        .qo_indptr = hb.qo_indptr,
        .prefix_kv_indptr = hb.prefix_kv_indptr,
        .prefix_kv_indices = hb.prefix_kv_indices,
        .num_prefix_indices = nprefix,
        .extend_start_loc = hb.extend_start_loc,
        .extend_seq_lens = hb.extend_seq_lens,
        .extend_kv_indices = hb.extend_kv_indices,
        .max_extend_len = max_e,
        .custom_mask = hb.custom_mask,
        .mask_indptr = hb.mask_indptr,
        .mask_size = pr->mask ? nmask : 0,
    };
    hb.in.k_pool = pr->k_pool;
    hb.in.v_pool = pr->v_pool;
    *out = hb;
    return EA_OK;
}

int64_t ea_host_batch_row(const ea_host_batch *hb, int32_t i, int32_t pos)
{
    if (!hb || i < 0 || i >= hb->batch.bs)
        return -1;
    const int32_t P = hb->prefix_kv_indptr[i + 1] - hb->prefix_kv_indptr[i];
    const int32_t E = hb->qo_indptr[i + 1] - hb->qo_indptr[i];
    return pos < P || pos >= P + E ? -1 : hb->qo_indptr[i] + (pos - P);
}

const char *ea_host_batch_where(const ea_host_batch *hb, const ea_params *p, int64_t x, char *buf, size_t len)
{
    if (!buf || len == 0)
        return buf;
    if (!hb || !p || x < 0 || x >= (int64_t)hb->num_tokens * p->hq * p->dv) {
        snprintf(buf, len, "o[%lld]", (long long)x);
        return buf;
    }
    const int64_t row = x / ((int64_t)p->hq * p->dv);
    int32_t i = 0;
    while (i + 1 < hb->batch.bs && hb->qo_indptr[i + 1] <= row)
        i++;
    const int32_t r = (int32_t)(row - hb->qo_indptr[i]), P = hb->prefix_kv_indptr[i + 1] - hb->prefix_kv_indptr[i];
    snprintf(buf, len, "request %d, new token %d (position %d), head %d, dim %d (o[%lld])", i, r, P + r,
             (int)(x / p->dv % p->hq), (int)(x % p->dv), (long long)x);
    return buf;
}
