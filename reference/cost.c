/* What a case may ask for, and what it costs, known before anything is
 * allocated: the bytes of every buffer the generator, a batch, the references
 * and a GPU run allocate, and the work of one attention. Every size is an
 * int64 that saturates at INT64_MAX instead of wrapping, so a case too big to
 * count is refused like one merely too big to run. */
#include "ea_cases.h"
#include "ea_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Saturating arithmetic on non-negative sizes. */
static int64_t add(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

static int64_t mul(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static ea_status check_len(const char *what, const ea_len_spec *s, int32_t bs, int32_t max)
{
    switch (s->kind) {
    case EA_LEN_ALL:
        if (s->lo < 0 || s->lo > max)
            return ea_fail(EA_ERR_DIM, "%s=%d is outside 0..%d", what, s->lo, max);
        return EA_OK;
    case EA_LEN_RAND:
        if (s->lo < 0 || s->hi > max || s->lo > s->hi)
            return ea_fail(EA_ERR_DIM, "%s=rand:%d:%d: need 0 <= LO <= HI <= %d", what, s->lo, s->hi, max);
        return EA_OK;
    case EA_LEN_LIST:
        if (!s->list)
            return ea_fail(EA_ERR_NULL, "%s: a list without values", what);
        if (s->count != bs)
            return ea_fail(EA_ERR_COUNT, "%s: %d values for bs=%d", what, s->count, bs);
        for (int32_t i = 0; i < bs; i++)
            if (s->list[i] < 0 || s->list[i] > max)
                return ea_fail(EA_ERR_DIM, "%s: value %d of request %d is outside 0..%d", what, s->list[i], i, max);
        return EA_OK;
    }
    return ea_fail(EA_ERR_SCALAR, "%s: unknown kind %d", what, (int)s->kind);
}

ea_status ea_case_check(const ea_case *c)
{
    if (!c)
        return ea_fail(EA_ERR_NULL, "case is NULL");
    if (!memchr(c->name, 0, sizeof c->name))
        return ea_fail(EA_ERR_SCALAR, "the case's name is not NUL-terminated");
    if (c->bs < 1 || c->bs > EA_CASE_MAX_BS)
        return ea_fail(EA_ERR_DIM, "bs=%d is outside 1..%d", c->bs, EA_CASE_MAX_BS);
    ea_status st = check_len("extend", &c->extend, c->bs, EA_CASE_MAX_EXTEND);
    if (st == EA_OK)
        st = check_len("prefix", &c->prefix, c->bs, EA_CASE_MAX_PREFIX);
    if (st != EA_OK)
        return st;
    ea_params p = ea_params_default(c->hq, c->hkv, c->dqk, c->dv);
    p.dtype = c->dtype;
    p.causal = c->causal;
    p.sliding_window = c->window;
    p.logit_cap = c->cap;
    if ((st = ea_check_params(&p)) != EA_OK)
        return st;
    if ((c->sinks != 0 && c->sinks != 1) || (c->mask != 0 && c->mask != 1) ||
        (c->slots_linear != 0 && c->slots_linear != 1))
        return ea_fail(EA_ERR_SCALAR, "sinks, mask and slots_linear must be 0 or 1 (%d, %d, %d)", c->sinks, c->mask,
                       c->slots_linear);
    return EA_OK;
}

int32_t ea_draw_len(const ea_len_spec *spec, int32_t i, uint64_t *s)
{
    switch (spec->kind) {
    case EA_LEN_LIST:
        return spec->list[i];
    case EA_LEN_RAND: /* uniform in [lo, hi]; the modulo bias is irrelevant for test data */
        return spec->lo + (int32_t)(ea_splitmix64(s) % (uint64_t)((int64_t)spec->hi - spec->lo + 1));
    default:
        return spec->lo;
    }
}

/* sum over t in [a, b) of min(t, w), where w < 0 means no minimum. */
static int64_t sum_min(int64_t a, int64_t b, int64_t w)
{
    if (b <= a)
        return 0;
    if (w < 0 || w >= b - 1)
        return (a + b - 1) * (b - a) / 2;
    if (w <= a)
        return w * (b - a);
    return (a + w - 1) * (w - a) / 2 + w * (b - w);
}

/* Keys visible to the new rows of a request (positions P .. P+E-1 of T = P+E), an upper bound: a
 * custom mask replaces the causal rule and is counted as seeing every key its window allows. */
static int64_t visible_pairs(const ea_case *c, int64_t P, int64_t E)
{
    const int64_t T = P + E, w = c->window;
    if (c->causal && !c->mask) /* keys max(0, t-W) .. t: min(t, W) + 1 of them */
        return sum_min(P, T, w) + E;
    /* keys max(0, t-W) .. T-1: T - max(0, t-W) = T - t + min(t, W) of them */
    if (w < 0)
        return E * T;
    const int64_t sum_t = (P + T - 1) * E / 2;
    return E * T - sum_t + sum_min(P, T, w);
}

/* Bytes of ea_host_batch_make() for a batch whose requests have new[i] new tokens of T[i]. */
static int64_t batch_bytes(const ea_case *c, int64_t n_new, int64_t n_prefix, int64_t n_mask)
{
    const int64_t es = (int64_t)ea_dtype_size(c->dtype), bs = c->bs;
    int64_t b = mul(4, 4 * bs + 2) + mul(8, n_prefix + 1) + mul(8, n_new + 1);
    b = add(b, mul(es, add(mul(mul(n_new, c->hq), c->dqk), 1)));
    b = add(b, mul(es, add(mul(mul(n_new, c->hq), c->dv), 1)));
    if (c->mask)
        b = add(b, add(n_mask + 1, mul(4, bs + 1)));
    return b;
}

ea_status ea_case_cost(const ea_case *c, ea_cost *out)
{
    ea_status st = ea_case_check(c);
    if (st != EA_OK)
        return st;
    if (!out)
        return ea_fail(EA_ERR_NULL, "cost is NULL");
    ea_cost k = {0};
    int64_t n_prefix = 0, mask = 0, alt_new = 0, alt_prefix = 0, alt_mask = 0, max_e = 1, max_t = 1, split_pairs = 0;
    uint64_t s = c->seed;
    for (int32_t i = 0; i < c->bs; i++) { /* the draws of ea_problem_make, in its order */
        const int64_t E = ea_draw_len(&c->extend, i, &s), P = ea_draw_len(&c->prefix, i, &s), T = P + E;
        k.tokens += T;
        k.new_tokens += E;
        n_prefix += P;
        mask += T * T;
        max_e = max64(max_e, E);
        max_t = max64(max_t, T);
        k.pairs += visible_pairs(c, P, E);
        /* the prefix-split check's batch (ea_alt_prefix_len): half a long prefix becomes new rows */
        const int64_t Pa = ea_alt_prefix_len((int32_t)P, (int32_t)E);
        split_pairs += visible_pairs(c, Pa, T - Pa);
        max_e = max64(max_e, T - Pa);
        alt_new += T - Pa;
        alt_prefix += Pa;
        alt_mask += (T - Pa) * T;
    }
    const int64_t es = (int64_t)ea_dtype_size(c->dtype), bs = c->bs, pool = k.tokens + bs;
    const int64_t kv = mul(mul(pool, c->hkv), c->dqk + c->dv);
    k.max_len = max_t;
    k.out_elems = mul(mul(k.new_tokens, c->hq), c->dv);

    /* ea_problem_make: lengths, slots and its permutation, q for every position, the pools, mask, sinks */
    int64_t b = mul(4, 2 * bs) + mul(8, 2 * bs + 1) + mul(8, pool) + mul(8, k.tokens + 1);
    b = add(b, mul(es, add(mul(mul(k.tokens, c->hq), c->dqk), 1)));
    b = add(b, mul(es, add(kv, 2)));
    b = add(b, c->mask ? mask + 1 : 0);
    k.problem_bytes = add(b, 4 * (int64_t)c->hq);

    k.batch_bytes = max64(batch_bytes(c, k.new_tokens, n_prefix, mask), batch_bytes(c, alt_new, alt_prefix, alt_mask));

    /* the references' scratch: BLAS gathers a request's K and V and a 256-row block of scores;
     * the canonical state holds every row of a (request, KV head); the float64 loop a row of scores */
    const int64_t rows = mul(max_e, c->hq / c->hkv);
    const int64_t blas = mul(4, add(add(mul(max_t, c->dqk + c->dv), mul(rows, c->dqk)), 256 * (max_t + c->dv)));
    const int64_t canon = mul(4, add(mul(rows, c->dqk + c->dv + 2), EA_TILE * (int64_t)(c->dqk + c->dv)));
    k.scratch_bytes = max64(max64(blas, canon), mul(8, max_t));

    /* ea_cuda_batch_upload and a plan: the batch as drawn, the pools, the unified indices */
    int64_t d = add(batch_bytes(c, k.new_tokens, n_prefix, mask), mul(es, kv));
    d = add(d, mul(8, add(n_prefix, k.new_tokens)) + 4 * (2 * bs + 1) + 16 * bs + 4 * (int64_t)c->hq);
    k.device_bytes = d;

    k.flop = mul(mul(max64(k.pairs, split_pairs), c->hq), 2 * (int64_t)(c->dqk + c->dv));
    *out = k;
    return EA_OK;
}

int64_t ea_host_memory_available(void)
{
    /* MemAvailable: what can be allocated without swapping out what runs; else all physical memory */
    FILE *f = fopen("/proc/meminfo", "r");
    char line[128];
    long long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    if (kib > 0)
        return mul(kib, 1024);
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? mul(pages, page) : 0;
}

ea_limits ea_limits_default(void)
{
    const int64_t avail = ea_host_memory_available();
    ea_limits lim = {.host_bytes = avail > 0 ? avail / 4 * 3 : (int64_t)8 << 30,
                     .device_bytes = 0,
                     .gflop = EA_DEFAULT_MAX_GFLOP};
    return lim;
}

/* A positive, finite amount, with a k, M, G or T suffix (powers of 1000) where allowed; 0 if bad. */
static double parse_amount(const char *s, int suffixes)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v > 0) || !isfinite(v))
        return 0;
    const char *units = "kMGT";
    const char *u = suffixes && *end ? strchr(units, *end) : NULL;
    if (u) {
        v *= pow(1000.0, (double)(u - units + 1));
        end++;
    }
    return *end ? 0 : v;
}

int ea_limits_option(const char *opt, const char *value, ea_limits *lim)
{
    const int bytes = opt && !strcmp(opt, "--max-bytes"), gflop = opt && !strcmp(opt, "--max-gflop");
    if (!bytes && !gflop)
        return 0;
    const double v = value ? parse_amount(value, bytes) : 0;
    if (!lim || !(bytes ? v >= 1 : v > 0))
        return -1;
    if (bytes)
        lim->host_bytes = v >= 0x1p63 ? INT64_MAX : (int64_t)v;
    else
        lim->gflop = v;
    return 1;
}

/* Bytes in words: "75.2 GB" (powers of 1000, as memory is sold and as free(1) -h does not). */
static const char *human(int64_t bytes, char *buf, size_t len)
{
    if (bytes == INT64_MAX)
        snprintf(buf, len, "more than 9.2 EB");
    else if (bytes >= 1000000000)
        snprintf(buf, len, "%.1f GB", (double)bytes / 1e9);
    else if (bytes >= 1000000)
        snprintf(buf, len, "%.1f MB", (double)bytes / 1e6);
    else
        snprintf(buf, len, "%lld bytes", (long long)bytes);
    return buf;
}

ea_status ea_cost_within(const char *name, int64_t host_bytes, int64_t device_bytes, int64_t flop,
                         const ea_limits *lim)
{
    if (!name || !lim)
        return ea_fail(EA_ERR_NULL, "name and limits are required");
    char need[32], limit[32];
    if (host_bytes > lim->host_bytes)
        return ea_fail(EA_ERR_LIMIT, "case '%s' needs %s of host memory, more than the limit of %s (--max-bytes)",
                       name, human(host_bytes, need, sizeof need), human(lim->host_bytes, limit, sizeof limit));
    if (lim->device_bytes > 0 && device_bytes > lim->device_bytes)
        return ea_fail(EA_ERR_LIMIT, "case '%s' needs %s of device memory, more than the %s free on the GPU",
                       name, human(device_bytes, need, sizeof need), human(lim->device_bytes, limit, sizeof limit));
    const double gflop = (double)flop / 1e9;
    if (gflop > lim->gflop)
        return ea_fail(EA_ERR_LIMIT, "case '%s' needs %.4g GFLOP per attention, more than the limit of %g (--max-gflop)",
                       name, gflop, lim->gflop);
    return EA_OK;
}
