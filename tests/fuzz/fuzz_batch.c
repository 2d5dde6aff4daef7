/* Fuzz target: batch validation, the CPU unified-index builder and the
 * canonical and two-stage references on tiny shapes. The fuzzer invents the
 * metadata (offsets, lengths, slots, mask sizes, dimensions, scalars) and the
 * data (NaN and infinities included).
 *
 * Input layout (little-endian; missing bytes read as 0):
 *   u8 bs-1 (mod 8) | u8 flags: 1 mask, 2 sinks, 4 causal, 8 bf16 | i8 window | u8 cap
 *   i32 hq, hkv, dqk, dv, pool_size, num_prefix_indices, mask_size, max_extend_len
 *   i32 qo_indptr[bs+1], prefix_kv_indptr[bs+1], extend_start_loc[bs], extend_seq_lens[bs], mask_indptr[bs+1]
 *   i32 prefix_kv_indices[num_prefix_indices], extend_kv_indices[N], u8 mask[mask_size], then data bytes
 * Arrays whose claimed length is out of the harness's range (0..4096) are
 * passed as NULL: validation must then refuse the batch without reading. */
#include "ea.h"
#include "ea_cases.h"
#include "fuzz_reader.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CAP 4096

static int in_cap(int64_t n) { return n >= 0 && n <= CAP; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    const int32_t bs = 1 + rd_u8(&r) % 8;
    const uint8_t flags = rd_u8(&r);
    const int8_t window = (int8_t)rd_u8(&r);
    const uint8_t cap = rd_u8(&r);
    const int32_t hq = rd_i32(&r), hkv = rd_i32(&r), dqk = rd_i32(&r), dv = rd_i32(&r); /* in this order */
    ea_params p = ea_params_default(hq, hkv, dqk, dv);
    p.causal = (flags & 4) != 0;
    p.dtype = flags & 8 ? EA_BF16 : EA_F32;
    p.sliding_window = window < -1 ? -1 : window;
    p.logit_cap = cap / 16.0f;
    float sinks[8] = {0.5f, -1.0f, 2.0f, 0.0f, 1.0f, -3.0f, 0.25f, INFINITY};
    ea_batch b;
    memset(&b, 0, sizeof b);
    b.bs = bs;
    b.pool_size = rd_i32(&r);
    b.num_prefix_indices = rd_i32(&r);
    b.mask_size = rd_i32(&r);
    b.max_extend_len = rd_i32(&r);

    int32_t qo[9], pre[9], start[8], lens[8], mask_indptr[9];
    for (int32_t i = 0; i <= bs; i++)
        qo[i] = rd_i32(&r);
    for (int32_t i = 0; i <= bs; i++)
        pre[i] = rd_i32(&r);
    for (int32_t i = 0; i < bs; i++)
        start[i] = rd_i32(&r);
    for (int32_t i = 0; i < bs; i++)
        lens[i] = rd_i32(&r);
    for (int32_t i = 0; i <= bs; i++)
        mask_indptr[i] = rd_i32(&r);
    b.qo_indptr = qo;
    b.prefix_kv_indptr = pre;
    b.extend_start_loc = start;
    b.extend_seq_lens = lens;

    int64_t *prefix = NULL, *extend = NULL;
    uint8_t *mask = NULL;
    if (in_cap(b.num_prefix_indices)) {
        prefix = malloc(sizeof(int64_t) * (size_t)(b.num_prefix_indices + 1));
        for (int64_t k = 0; k < b.num_prefix_indices; k++)
            prefix[k] = rd_i32(&r);
    }
    const int64_t N = qo[bs];
    if (in_cap(N)) {
        extend = malloc(sizeof(int64_t) * (size_t)(N + 1));
        for (int64_t k = 0; k < N; k++)
            extend[k] = rd_i32(&r);
    }
    if (in_cap(b.mask_size)) {
        mask = malloc((size_t)b.mask_size + 1);
        for (int64_t k = 0; k < b.mask_size; k++)
            mask[k] = rd_u8(&r);
    }
    b.prefix_kv_indices = prefix;
    b.extend_kv_indices = extend;
    if (flags & 1) {
        b.custom_mask = mask;
        b.mask_indptr = mask_indptr;
    }
    if ((flags & 2) && p.hq >= 1 && p.hq <= 8)
        p.sinks = sinks;

    if (ea_validate(&b, &p) == EA_OK) {
        /* a valid batch: the builder and the references must run cleanly on it */
        ea_unified u;
        if (ea_unified_build(&b, &p, &u) != EA_OK)
            abort();
        int64_t total = 0;
        for (int32_t i = 0; i < bs; i++)
            total += (int64_t)(pre[i + 1] - pre[i]) + (qo[i + 1] - qo[i]);
        if (u.unified_kv_indptr[bs] != total)
            abort();
        ea_unified_free(&u);
        const int64_t nq = N * p.hq * p.dqk, nk = b.pool_size * p.hkv * p.dqk, nv = b.pool_size * p.hkv * p.dv;
        const int64_t no = N * p.hq * p.dv;
        double work = 0; /* (query, key) pairs x heads x dims: what the references cost */
        for (int32_t i = 0; i < bs; i++) {
            const double E = qo[i + 1] - qo[i], T = pre[i + 1] - pre[i] + E;
            work += E * T * p.hq * (p.dqk + p.dv);
        }
        /* large batches stay in the validation and index checks above: a reference run over
         * millions of pairs takes seconds in this instrumented build, and the fuzzer's time is
         * better spent on more inputs */
        if (nq <= 65536 && nk <= 65536 && nv <= 65536 && no <= 65536 && work <= 0x1p24) {
            const size_t es = ea_dtype_size(p.dtype);
            uint8_t *q = calloc((size_t)nq + 1, es), *k = calloc((size_t)nk + 1, es), *v = calloc((size_t)nv + 1, es);
            uint8_t *o1 = malloc(((size_t)no + 1) * es), *o2 = malloc(((size_t)no + 1) * es);
            /* the rest of the input is the data, repeated: any bit pattern, NaN and inf included */
            uint8_t *bufs[3] = {q, k, v};
            const int64_t lens3[3] = {nq, nk, nv};
            for (int t = 0; t < 3; t++)
                for (int64_t x = 0; x < lens3[t] * (int64_t)es; x++)
                    bufs[t][x] = r.n ? r.p[x % (int64_t)r.n] : (uint8_t)(x * 37);
            ea_inputs in = {q, k, v};
            ea_fill_sentinel(o1, p.dtype, no);
            ea_fill_sentinel(o2, p.dtype, no);
            if (ea_reference_canonical(&b, &p, &in, o1) != EA_OK || ea_reference_canonical(&b, &p, &in, o2) != EA_OK)
                abort();
            ea_diff d = ea_compare_bits(o1, o2, p.dtype, no);
            if (d.differ || d.sentinels)
                abort(); /* deterministic, and every output written */
            if (ea_reference_two_stage(&b, &p, &in, o2) != EA_OK)
                abort();
            double *o64 = malloc(sizeof(double) * (size_t)(no + 1));
            if (ea_reference_f64(&b, &p, &in, o64) != EA_OK)
                abort();
            free(o64);
            free(q), free(k), free(v), free(o1), free(o2);
        }
    }
    free(prefix), free(extend), free(mask);
    return 0;
}
