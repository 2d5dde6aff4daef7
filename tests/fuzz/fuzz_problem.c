/* Fuzz target: the generator and batch maker with cases the parser would never
 * produce. The fuzzer invents an ea_case field by field (any kind, bounds,
 * list, name bytes, flags) and then a batch of it (any requests, repeated or
 * not, any split). Every call must answer with a status; a case is only
 * generated when its cost says it is small, and then the cost must agree with
 * what was generated, and every batch made of it must validate.
 *
 * Input layout (little-endian; missing bytes read as 0):
 *   i32 bs | u8 extend kind | i32 extend lo, hi, count | u8 prefix kind | i32 prefix lo, hi, count
 *   i32 hq, hkv, dqk, dv | u8 dtype | i32 causal, window | f32 cap | i32 sinks, mask | u64 seed
 *   i32 slots_linear | u8 name length (past 64: no terminator) | i32 list values[up to 64]
 *   i32 n | i32 reqs[n] | u8 with prefix lengths | i32 prefix_lens[n] */
#include "ea_cases.h"
#include "fuzz_reader.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX 64
#define REQS_MAX 64

static void rd_len(reader *r, ea_len_spec *s, const int32_t *values)
{
    s->kind = (ea_len_kind)(rd_u8(r) % 4); /* 3: not a kind */
    s->lo = rd_i32(r);
    s->hi = rd_i32(r);
    s->count = rd_i32(r);
    s->list = s->kind == EA_LEN_LIST && (rd_u8(r) & 1) ? values : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    static int32_t extend_values[LIST_MAX], prefix_values[LIST_MAX];
    ea_case c;
    memset(&c, 0, sizeof c);
    c.bs = rd_i32(&r);
    rd_len(&r, &c.extend, extend_values);
    rd_len(&r, &c.prefix, prefix_values);
    c.hq = rd_i32(&r), c.hkv = rd_i32(&r), c.dqk = rd_i32(&r), c.dv = rd_i32(&r);
    c.dtype = (ea_dtype)(rd_u8(&r) % 3);
    c.causal = rd_i32(&r), c.window = rd_i32(&r);
    const uint32_t cap_bits = rd_u32(&r);
    memcpy(&c.cap, &cap_bits, sizeof c.cap);
    c.sinks = rd_i32(&r), c.mask = rd_i32(&r);
    c.seed = rd_u32(&r) | (uint64_t)rd_u32(&r) << 32;
    c.slots_linear = rd_i32(&r);
    const uint8_t name_len = rd_u8(&r);
    memset(c.name, 'n', sizeof c.name);
    if (name_len < sizeof c.name)
        c.name[name_len] = 0;
    /* a list case reads at most min(count, bs) values: make them, and never let it read past */
    for (int k = 0; k < LIST_MAX; k++) {
        extend_values[k] = rd_i32(&r) % 70000;
        prefix_values[k] = rd_i32(&r) % 2000;
    }
    if ((c.extend.list && c.extend.count > LIST_MAX) || (c.prefix.list && c.prefix.count > LIST_MAX))
        return 0; /* the caller's list would be shorter than it says: a lie no function can detect */

    ea_cost cost;
    const ea_status checked = ea_case_check(&c), costed = ea_case_cost(&c, &cost);
    if ((checked == EA_OK) != (costed == EA_OK))
        abort(); /* the cost accepts exactly the cases the check accepts */
    ea_problem pr;
    memset(&pr, 0x5a, sizeof pr);
    if (checked != EA_OK) {
        const ea_problem before = pr;
        if (ea_problem_make(&c, &pr) == EA_OK || memcmp(&pr, &before, sizeof pr))
            abort(); /* a refused case makes nothing */
        return 0;
    }
    if (cost.problem_bytes > (4 << 20) || cost.flop > 50000000)
        return 0; /* valid but big: the tools refuse or run it; the fuzzer only wants the small ones */
    const ea_status made = ea_problem_make(&c, &pr);
    if (made != EA_OK)
        return made == EA_ERR_OVERFLOW || made == EA_ERR_NOMEM ? 0 : (abort(), 0);
    if (pr.seq_start[pr.bs] != cost.tokens)
        abort(); /* the cost drew the same lengths */

    const int32_t n = (int32_t)(rd_u32(&r) % (REQS_MAX + 2)) - 1; /* -1 .. REQS_MAX */
    int32_t reqs[REQS_MAX], prefix[REQS_MAX];
    for (int k = 0; k < REQS_MAX; k++)
        reqs[k] = rd_i32(&r) % (pr.bs + 2);
    const int with_prefix = rd_u8(&r) & 1;
    for (int k = 0; k < REQS_MAX; k++)
        prefix[k] = rd_i32(&r) % 4096;
    const int use_reqs = n >= 0 && n <= REQS_MAX;
    const int32_t count = use_reqs ? n : pr.bs;
    if (!use_reqs && with_prefix && pr.bs > REQS_MAX) {
        ea_problem_free(&pr);
        return 0; /* prefix_lens must have one entry per request */
    }
    ea_host_batch hb;
    if (ea_host_batch_make(&pr, use_reqs ? reqs : NULL, count, with_prefix ? prefix : NULL, &hb) == EA_OK) {
        if (ea_validate(&hb.batch, &pr.params) != EA_OK)
            abort(); /* every batch the maker accepts is valid */
        ea_host_batch_free(&hb);
    }
    ea_problem_free(&pr);
    return 0;
}
