/* Tensor parallelism splits attention by heads: rank r of tp holds query heads
 * [r Hq/tp, (r+1) Hq/tp) and the KV heads they read, [r Hkv/tp, (r+1) Hkv/tp)
 * (query head h reads KV head h / (Hq/Hkv), so the two ranges go together).
 * Every head's output depends on its own q, k and v only, so a rank's output is
 * bit for bit the same heads' slice of the whole layer's output (DESIGN.md
 * section 8): the invariance tests and ea-bench-sync --tp check exactly that. */
#include "ea_cases.h"
#include "ea_internal.h"

#include <stdlib.h>
#include <string.h>

/* Copies heads [h0, h0 + n) of a [rows, H, D] tensor into a new [rows, n, D] one (NULL: no memory). */
static void *slice_heads(const void *t, ea_dtype dt, int64_t rows, int32_t H, int32_t D, int32_t h0, int32_t n)
{
    const size_t es = ea_dtype_size(dt), row_in = (size_t)H * D * es, row_out = (size_t)n * D * es;
    char *out = malloc(row_out * (size_t)rows + 1);
    if (!out)
        return NULL;
    /* TODO (exercise 9): copy every row's heads [h0, h0 + n): in the whole tensor a row is H * D elements (row_in bytes), and head h starts h * D elements into it; the shard's rows are row_out bytes.
       The page tutorials/09-tensor-parallelism.md explains it; `make exercise 9` checks your code. */
    return out;
}

/* A copy of n elements of size es (NULL source: NULL, and not a failure). */
static int copy_array(void **dst, const void *src, size_t n, size_t es)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = malloc(n * es + 1);
    if (!*dst)
        return -1;
    memcpy(*dst, src, n * es);
    return 0;
}

ea_status ea_problem_shard_heads(const ea_problem *full, int32_t rank, int32_t tp, ea_problem *shard)
{
    if (!full || !shard)
        return ea_fail(EA_ERR_NULL, "problem and shard are required");
    const ea_params *p = &full->params;
    ea_status st = ea_check_params(p); /* heads that divide evenly, dimensions, scalars */
    if (st != EA_OK)
        return st;
    if (full->bs < 1 || !full->prefix_lens || !full->seq_lens || !full->seq_start || !full->slots ||
        !full->q_all || !full->k_pool || !full->v_pool || (full->mask && !full->mask_start))
        return ea_fail(EA_ERR_NULL, "the problem to shard lacks an array (or has no request)");
    if (tp < 1 || p->hkv % tp != 0)
        return ea_fail(EA_ERR_HEADS, "tensor parallelism over %d ranks: the %d KV heads do not split evenly", tp,
                       p->hkv);
    if (rank < 0 || rank >= tp)
        return ea_fail(EA_ERR_RANGE, "rank %d of %d ranks", rank, tp);

    const int32_t hq = p->hq / tp, hkv = p->hkv / tp, bs = full->bs;
    const int64_t total = full->seq_start[bs];
    const int64_t mask_total =
        full->mask ? full->mask_start[bs - 1] + (int64_t)full->seq_lens[bs - 1] * full->seq_lens[bs - 1] : 0;
    ea_problem s;
    memset(&s, 0, sizeof s);
    s.spec = full->spec;
    s.spec.hq = hq;
    s.spec.hkv = hkv;
    s.params = *p;
    s.params.hq = hq;
    s.params.hkv = hkv;
    s.params.sinks = NULL;
    s.bs = bs;
    s.pool_size = full->pool_size;
    s.q_all = slice_heads(full->q_all, p->dtype, total, p->hq, p->dqk, rank * hq, hq);
    s.k_pool = slice_heads(full->k_pool, p->dtype, full->pool_size, p->hkv, p->dqk, rank * hkv, hkv);
    s.v_pool = slice_heads(full->v_pool, p->dtype, full->pool_size, p->hkv, p->dv, rank * hkv, hkv);
    int bad = !s.q_all || !s.k_pool || !s.v_pool;
    bad = bad || copy_array((void **)&s.prefix_lens, full->prefix_lens, (size_t)bs, sizeof(int32_t));
    bad = bad || copy_array((void **)&s.seq_lens, full->seq_lens, (size_t)bs, sizeof(int32_t));
    bad = bad || copy_array((void **)&s.seq_start, full->seq_start, (size_t)bs + 1, sizeof(int64_t));
    bad = bad || copy_array((void **)&s.slots, full->slots, (size_t)total, sizeof(int64_t));
    bad = bad || copy_array((void **)&s.mask_start, full->mask_start, (size_t)bs, sizeof(int64_t)); /* NULL: NULL */
    bad = bad || copy_array((void **)&s.mask, full->mask, (size_t)mask_total, 1);
    if (!bad && p->sinks) { /* the parameters' sinks: what the references read */
        bad = copy_array((void **)&s.sinks, p->sinks + (size_t)rank * hq, (size_t)hq, sizeof(float));
        s.params.sinks = s.sinks;
    }
    if (bad) {
        ea_problem_free(&s);
        return ea_fail(EA_ERR_NOMEM, "shard %d of %d: out of memory", rank, tp);
    }
    *shard = s;
    return EA_OK;
}
