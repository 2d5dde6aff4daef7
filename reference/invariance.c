/* The three invariance checks, written once for every backend (a runner).
 * Batch invariance: a request's output must not depend on its neighbours.
 * Prefix-split invariance: a query's output must not depend on how much of
 * its sequence was cached.
 * Head-split invariance: a head's output must not depend on the other heads,
 * so a tensor-parallel rank computes its heads exactly as one GPU would.
 * All three compare bit patterns. */
#include "ea_cases.h"
#include "ea_internal.h"

#include <stdlib.h>
#include <string.h>

ea_status ea_run_canonical(void *ctx, const ea_problem *pr, const ea_host_batch *hb, void *o)
{
    (void)ctx;
    if (!pr || !hb)
        return ea_fail(EA_ERR_NULL, "problem and batch are required");
    return ea_reference_canonical(&hb->batch, &pr->params, &hb->in, o);
}

ea_status ea_run_tc(void *ctx, const ea_problem *pr, const ea_host_batch *hb, void *o)
{
    (void)ctx;
    if (!pr || !hb)
        return ea_fail(EA_ERR_NULL, "problem and batch are required");
    return ea_reference_tc(&hb->batch, &pr->params, &hb->in, o);
}

/* Adds d to acc, keeping the first difference of the first call that had one. */
static void diff_add(ea_diff *acc, const ea_diff *d, int64_t offset)
{
    if (acc->first < 0 && d->first >= 0) {
        acc->first = d->first + offset;
        acc->a_first = d->a_first;
        acc->b_first = d->b_first;
    }
    acc->count += d->count;
    acc->differ += d->differ;
    acc->sentinels += d->sentinels;
}

/* What both checks need: every pointer (ctx may be NULL, as the runner wants). */
static ea_status check_args(const ea_problem *pr, ea_runner run, const ea_host_batch *full, const void *o_full,
                            const ea_diff *out)
{
    if (!pr || !run || !full || !o_full || !out)
        return ea_fail(EA_ERR_NULL, "problem, runner, batch, its output and the result are required");
    return EA_OK;
}

/* The split and head-split checks rebuild the batch from the problem with one prefix length per
 * request: the batch must hold all the problem's requests, in order. */
static ea_status whole_batch(const ea_problem *pr, const ea_host_batch *full)
{
    if (full->batch.bs != pr->bs)
        return ea_fail(EA_ERR_COUNT, "the batch holds %d requests, the problem %d: this check needs them all, in order",
                       full->batch.bs, pr->bs);
    return EA_OK;
}

/* Runs a batch into its own (sentinel-filled) output. */
static ea_status run_fresh(const ea_problem *pr, ea_runner run, void *ctx, ea_host_batch *hb)
{
    const int64_t n = (int64_t)hb->num_tokens * pr->params.hq * pr->params.dv;
    ea_fill_sentinel(hb->o, pr->params.dtype, n);
    return run(ctx, pr, hb, hb->o);
}

ea_status ea_check_batch_invariance(const ea_problem *pr, ea_runner run, void *ctx, const ea_host_batch *full,
                                    const void *o_full, ea_diff *out)
{
    ea_status st0 = check_args(pr, run, full, o_full, out);
    if (st0 != EA_OK)
        return st0;
    const ea_params *p = &pr->params;
    const int64_t row = (int64_t)p->hq * p->dv;
    const size_t es = ea_dtype_size(p->dtype);
    ea_diff acc = {.first = -1};
    /* the batch's requests are problem requests 0..bs-1 (ea_host_batch_make with reqs=NULL) */
    for (int32_t i = 0; i < full->batch.bs; i++) {
        ea_host_batch one;
        const int32_t P = full->prefix_kv_indptr[i + 1] - full->prefix_kv_indptr[i];
        ea_status st = ea_host_batch_make(pr, &i, 1, &P, &one);
        if (st == EA_OK)
            st = run_fresh(pr, run, ctx, &one);
        if (st != EA_OK) {
            ea_host_batch_free(&one);
            return st;
        }
        const int64_t first_row = full->qo_indptr[i];
        ea_diff d = ea_compare_bits(one.o, (const char *)o_full + (size_t)(first_row * row) * es, p->dtype,
                                    (int64_t)one.num_tokens * row);
        diff_add(&acc, &d, first_row * row);
        ea_host_batch_free(&one);
    }
    *out = acc;
    return EA_OK;
}

int32_t ea_alt_prefix_len(int32_t prefix_len, int32_t extend_len)
{
    return prefix_len > 0 ? prefix_len / 2 : extend_len > 0 ? extend_len / 2 : 0;
}

ea_status ea_check_split_invariance(const ea_problem *pr, ea_runner run, void *ctx, const ea_host_batch *full,
                                    const void *o_full, ea_diff *out)
{
    ea_status st0 = check_args(pr, run, full, o_full, out);
    if (st0 == EA_OK)
        st0 = whole_batch(pr, full);
    if (st0 != EA_OK)
        return st0;
    const ea_params *p = &pr->params;
    const int32_t bs = full->batch.bs;
    const int64_t row = (int64_t)p->hq * p->dv;
    const size_t es = ea_dtype_size(p->dtype);
    int32_t *alt = malloc(sizeof(int32_t) * (size_t)bs);
    if (!alt)
        return ea_fail(EA_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < bs; i++)
        alt[i] = ea_alt_prefix_len(full->prefix_kv_indptr[i + 1] - full->prefix_kv_indptr[i],
                                   full->qo_indptr[i + 1] - full->qo_indptr[i]);
    ea_host_batch hb;
    ea_status st = ea_host_batch_make(pr, NULL, 0, alt, &hb);
    free(alt);
    if (st == EA_OK)
        st = run_fresh(pr, run, ctx, &hb);
    if (st != EA_OK) {
        ea_host_batch_free(&hb);
        return st;
    }
    ea_diff acc = {.first = -1};
    for (int32_t i = 0; i < bs; i++) {
        const int32_t P = full->prefix_kv_indptr[i + 1] - full->prefix_kv_indptr[i];
        const int32_t Pa = hb.prefix_kv_indptr[i + 1] - hb.prefix_kv_indptr[i];
        const int32_t T = P + full->qo_indptr[i + 1] - full->qo_indptr[i];
        const int32_t from = P > Pa ? P : Pa; /* first position both batches compute */
        if (from >= T)
            continue;
        const int64_t r_full = ea_host_batch_row(full, i, from), r_alt = ea_host_batch_row(&hb, i, from);
        ea_diff d = ea_compare_bits((const char *)hb.o + (size_t)(r_alt * row) * es,
                                    (const char *)o_full + (size_t)(r_full * row) * es, p->dtype,
                                    (int64_t)(T - from) * row);
        diff_add(&acc, &d, r_full * row);
    }
    ea_host_batch_free(&hb);
    *out = acc;
    return EA_OK;
}

ea_status ea_check_head_split_invariance(const ea_problem *pr, ea_runner run, void *ctx, const ea_host_batch *full,
                                         const void *o_full, int32_t tp, ea_diff *out)
{
    ea_status st = check_args(pr, run, full, o_full, out);
    if (st == EA_OK)
        st = whole_batch(pr, full);
    if (st != EA_OK)
        return st;
    const ea_params *p = &pr->params;
    if (tp < 1 || p->hkv % tp != 0)
        return ea_fail(EA_ERR_HEADS, "head split over %d ranks: the %d KV heads do not split evenly", tp, p->hkv);
    const int32_t bs = full->batch.bs;
    const int64_t row = (int64_t)p->hq * p->dv;
    const size_t es = ea_dtype_size(p->dtype);
    int32_t *plens = malloc(sizeof(int32_t) * (size_t)bs);
    if (!plens)
        return ea_fail(EA_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < bs; i++) /* the same split as the full batch */
        plens[i] = full->prefix_kv_indptr[i + 1] - full->prefix_kv_indptr[i];
    ea_diff acc = {.first = -1};
    for (int32_t rank = 0; rank < tp && st == EA_OK; rank++) {
        ea_problem shard;
        ea_host_batch hb;
        memset(&hb, 0, sizeof hb);
        st = ea_problem_shard_heads(pr, rank, tp, &shard);
        if (st != EA_OK)
            break;
        st = ea_host_batch_make(&shard, NULL, 0, plens, &hb);
        if (st == EA_OK)
            st = run_fresh(&shard, run, ctx, &hb);
        /* each token's row of the shard is the contiguous run of its heads in the full row */
        const int64_t rank_row = (int64_t)shard.params.hq * p->dv;
        for (int64_t t = 0; st == EA_OK && t < hb.num_tokens; t++) {
            const int64_t at = t * row + rank * rank_row;
            ea_diff d = ea_compare_bits((const char *)hb.o + (size_t)(t * rank_row) * es,
                                        (const char *)o_full + (size_t)at * es, p->dtype, rank_row);
            diff_add(&acc, &d, at);
        }
        ea_host_batch_free(&hb);
        ea_problem_free(&shard);
    }
    free(plens);
    if (st == EA_OK)
        *out = acc;
    return st;
}
