/* ea-bench-kernel: the attention kernels alone, per case of a case file.
 *
 *   build/bin/ea-bench-kernel --cases FILE [--only NAME] [--reps N] [--kernel 1..6|NAME|both] [--dump DIR]
 *   build/bin/ea-bench-kernel --cases FILE --versions [--only NAME] [--reps N]
 *   build/bin/ea-bench-kernel --scaling [--reps N]
 *   build/bin/ea-bench-kernel --cases FILE --floor [--only NAME] [--reps N]
 *
 * The canonical columns time kernel 5 (bitmasks), the tc columns kernel 6; --kernel N times only
 * kernel N, in the columns of its order. --versions times every numbered kernel (kernels/README.md)
 * on one case (default seed_shape) and prints a markdown table.
 *
 * --scaling times kernels 5 and 6 on the grid bs {1, 8, 32, 128} x cached prefix {0, 512, 4096} x new
 * tokens {16, 256, 2048} (hq 8, hkv 2, d 128, bf16, causal: the seed's layer). There each tc output
 * is checked against the canonical kernel's (within 2^-7 of the token row's largest output, the
 * tensor-core order's bound) and, where the CPU can do it in seconds, bitwise against
 * ea_reference_tc.
 *
 * For each case and kernel: check the GPU output against that kernel's CPU reference (bitwise:
 * ea_reference_canonical or ea_reference_tc) BEFORE timing; build the plan once; then time
 * ea_cuda_run with CUDA events, L2 flushed (a memset of max(2 x L2, 64 MB)) before every repeat.
 * The first line names the card with its table peaks and the bf16 tensor-core rate measured there
 * through mma.sync and wgmma (measure_mma_rates), the yardstick for the tc kernel's TFLOP/s.
 * Prints, per kernel, the median and min/max in microseconds and TFLOP/s counted as (2*Dqk + 2*Dv)
 * per visible (query head, query row, key) triple; for the canonical kernel also the fraction of
 * the card's fp32 FMA peak (SMs x lanes x 2 x clock, "unknown" on an architecture the table of
 * ea_bench_device.h lacks); then tc's speed-up over canonical.
 * --dump writes each case for the PyTorch peers (bench/peers/), with kernels 5 and 6's times.
 *
 * --floor times, per case (head dims 128, no window or mask), kernel 6 and its floor
 * (kernels/tc_floor.cu): as many warp-tiles as kernel 6 computes on that batch, of its two products
 * alone, then with the softmax's arithmetic, then with kernel 6's barriers and exchanges, then with
 * its copies of K and V; three variations of the copies (a tile ahead, half the rows, CTAs of twice
 * the warps); and an empty launch (kernels/README.md, "How far down"). */
#define _POSIX_C_SOURCE 200809L
#include "ea.h"
#include "ea_cases.h"
#include "ea_cuda.h"
#include "ea_bench_device.h"
#include "ea_rules.h"
#include "ea_kernels.h"

#include <cuda_runtime_api.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                                                   \
    do {                                                                                              \
        cudaError_t e_ = (call);                                                                      \
        if (e_ != cudaSuccess) {                                                                      \
            fprintf(stderr, "ea-bench-kernel: %s:%d: %s: %s\n", __FILE__, __LINE__, #call,              \
                    cudaGetErrorString(e_));                                                          \
            exit(2);                                                                                  \
        }                                                                                             \
    } while (0)

/* A whole decimal number in 3..10000 (atoi would accept "12abc" and overflow on huge ones). */
static int parse_reps(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < 3 || v > 10000)
        return 0;
    *out = (int)v;
    return 1;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Visible (head, row, key) triples and the minimal bytes of a host batch. */
static void count_work(const ea_problem *pr, const ea_host_batch *hb, double *flops, double *bytes)
{
    const ea_params *p = &pr->params;
    const ea_batch *b = &hb->batch;
    double triples = 0, keys = 0;
    for (int32_t i = 0; i < b->bs; i++) {
        const int32_t P = b->prefix_kv_indptr[i + 1] - b->prefix_kv_indptr[i];
        const int32_t E = b->qo_indptr[i + 1] - b->qo_indptr[i];
        keys += P + E;
        for (int32_t r = 0; r < E; r++) {
            const int32_t t = P + r;
            const uint8_t *m = b->custom_mask ? b->custom_mask + b->mask_indptr[i] + (int64_t)r * (P + E) : NULL;
            for (int32_t u = 0; u < P + E; u++)
                triples += ea_visible_rule(p->causal, p->sliding_window, m, t, u);
        }
    }
    const double es = (double)ea_dtype_size(p->dtype);
    *flops = triples * p->hq * (2.0 * p->dqk + 2.0 * p->dv);
    *bytes = es * ((double)hb->num_tokens * p->hq * (p->dqk + p->dv) + keys * p->hkv * (p->dqk + p->dv));
}

/* Writes a whole file under a temporary name, then renames it: never a partial file. */
static int write_file(const char *name, const void *data, size_t bytes)
{
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(data, 1, bytes, f) == bytes;
    if (f)
        ok &= fclose(f) == 0;
    if (!ok || rename(tmp, name) != 0) {
        remove(tmp);
        fprintf(stderr, "ea-bench-kernel: cannot write %s\n", name);
        return 2;
    }
    return 0;
}

/* Writes a case for the PyTorch peer: DIR/NAME.json (shapes, per-request unified slots, our time)
 * and the raw q, k_pool, v_pool and our output o as DIR/NAME.{q,k,v,o}.bin. */
static int dump_case(const char *dir, const ea_problem *pr, const ea_host_batch *hb, const void *o, double us,
                     double canon_us, double flops)
{
    const ea_params *p = &pr->params;
    const ea_batch *b = &hb->batch;
    const size_t es = ea_dtype_size(p->dtype);
    const size_t sizes[4] = {es * (size_t)hb->num_tokens * p->hq * p->dqk, es * (size_t)pr->pool_size * p->hkv * p->dqk,
                             es * (size_t)pr->pool_size * p->hkv * p->dv, hb->o_bytes};
    const void *data[4] = {hb->in.q, pr->k_pool, pr->v_pool, o};
    const char *ext[4] = {"q", "k", "v", "o"};
    char name[4200];
    for (int t = 0; t < 4; t++) {
        snprintf(name, sizeof name, "%s/%s.%s.bin", dir, pr->spec.name, ext[t]);
        if (write_file(name, data[t], sizes[t]) != 0)
            return 2;
    }
    snprintf(name, sizeof name, "%s/%s.json", dir, pr->spec.name);
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", name); /* renamed when complete */
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "ea-bench-kernel: cannot write %s\n", name);
        return 2;
    }
    fprintf(f, "{\"name\":\"%s\",\"dtype\":\"%s\",\"hq\":%d,\"hkv\":%d,\"dqk\":%d,\"dv\":%d,\"causal\":%d,"
               "\"window\":%d,\"cap\":%g,\"sinks\":%d,\"mask\":%d,\"sm_scale\":%.9g,\"pool\":%lld,\"ours_us\":%.3f,"
               "\"canonical_us\":%.3f,\"flops\":%.6g,\"requests\":[",
            pr->spec.name, p->dtype == EA_BF16 ? "bf16" : "f32", p->hq, p->hkv, p->dqk, p->dv, p->causal,
            p->sliding_window, p->logit_cap, p->sinks != NULL, b->custom_mask != NULL, p->sm_scale,
            (long long)pr->pool_size, us, canon_us, flops);
    for (int32_t i = 0; i < b->bs; i++) {
        const int32_t P = b->prefix_kv_indptr[i + 1] - b->prefix_kv_indptr[i];
        const int32_t E = b->qo_indptr[i + 1] - b->qo_indptr[i];
        fprintf(f, "%s{\"row0\":%d,\"P\":%d,\"E\":%d,\"slots\":[", i ? "," : "", b->qo_indptr[i], P, E);
        for (int32_t u = 0; u < P + E; u++)
            fprintf(f, "%s%lld", u ? "," : "",
                    (long long)(u < P ? b->prefix_kv_indices[b->prefix_kv_indptr[i] + u]
                                      : b->extend_kv_indices[b->extend_start_loc[i] + u - P]));
        fprintf(f, "]}");
    }
    fprintf(f, "]}\n");
    if (fclose(f) != 0 || rename(tmp, name) != 0) {
        remove(tmp);
        fprintf(stderr, "ea-bench-kernel: cannot write %s\n", name);
        return 2;
    }
    return 0;
}

/* One case on the GPU: its problem, a batch, the batch on the device, and a plan built by the device
 * strategy. 0, or 2 with a line on stderr. case_close() frees them. */
static int case_open(ea_cuda_ctx *ctx, const ea_case *c, ea_problem *pr, ea_host_batch *hb, ea_dev_batch **db,
                     ea_plan *plan)
{
    if (ea_problem_make(c, pr) != EA_OK || ea_host_batch_make(pr, NULL, 0, NULL, hb) != EA_OK ||
        ea_cuda_batch_upload(ctx, &hb->batch, &pr->params, &hb->in, db) != EA_OK ||
        ea_cuda_plan_create(ctx, *db, plan) != EA_OK || ea_cuda_plan_build(ctx, *db, EA_SYNC_DEVICE, plan) != EA_OK) {
        fprintf(stderr, "ea-bench-kernel: %s: %s\n", c->name, ea_last_error());
        return 2;
    }
    return 0;
}

static void case_close(ea_problem *pr, ea_host_batch *hb, ea_dev_batch *db, ea_plan *plan)
{
    ea_cuda_plan_free(plan);
    ea_cuda_batch_free(db);
    ea_host_batch_free(hb);
    ea_problem_free(pr);
}

/* Validates kernel k on a case (bitwise vs its CPU reference), then times it: the median in *med_us
 * (and min, max); returns 0, 1 when the GPU differs from the CPU (not timed), 2 on error. */
static int time_kernel(ea_cuda_ctx *ctx, ea_kernel k, const ea_problem *pr, const ea_host_batch *hb,
                       ea_dev_batch *db, const ea_plan *plan, void *flush, size_t flush_bytes, float *ms, int reps,
                       void *got, double out[3])
{
    const int64_t n = (int64_t)hb->num_tokens * pr->params.hq * pr->params.dv;
    void *want = malloc(hb->o_bytes + 1);
    if (!want)
        return 2;
    ea_fill_sentinel(want, pr->params.dtype, n);
    ea_status st = ea_kernel_reference(k)(&hb->batch, &pr->params, &hb->in, want);
    if (st == EA_OK)
        st = ea_cuda_set_kernel(ctx, k);
    if (st == EA_OK)
        st = ea_cuda_poison_output(ctx, db);
    if (st == EA_OK)
        st = ea_cuda_run(ctx, db, plan);
    if (st == EA_OK)
        st = ea_cuda_download_output(ctx, db, got);
    if (st != EA_OK) {
        fprintf(stderr, "ea-bench-kernel: %s: %s\n", pr->spec.name, ea_last_error());
        free(want);
        return 2;
    }
    const ea_diff d = ea_compare_bits(got, want, pr->params.dtype, n);
    free(want);
    if (d.differ || d.sentinels) {
        printf("%-20s %s NOT TIMED: GPU != CPU (%lld differ, %lld unwritten)\n", pr->spec.name, ea_kernel_name(k),
               (long long)d.differ, (long long)d.sentinels);
        return 1;
    }
    cudaStream_t stream = (cudaStream_t)ea_cuda_stream(ctx);
    cudaEvent_t e0, e1;
    CHECK(cudaEventCreate(&e0));
    CHECK(cudaEventCreate(&e1));
    for (int r = 0; r < reps; r++) {
        CHECK(cudaMemsetAsync(flush, r & 0xff, flush_bytes, stream)); /* evicts the inputs from L2 */
        CHECK(cudaEventRecord(e0, stream));
        if (ea_cuda_run(ctx, db, plan) != EA_OK) {
            fprintf(stderr, "ea-bench-kernel: %s\n", ea_last_error());
            return 2;
        }
        CHECK(cudaEventRecord(e1, stream));
        CHECK(cudaEventSynchronize(e1));
        CHECK(cudaEventElapsedTime(&ms[r], e0, e1));
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    qsort(ms, (size_t)reps, sizeof *ms, cmp_float);
    out[0] = ms[reps / 2] * 1e3, out[1] = ms[0] * 1e3, out[2] = ms[reps - 1] * 1e3;
    return 0;
}

/* The scaling grid: one line per shape, kernels 5 and 6, tc checked as the header comment says. */
static int run_scaling(ea_cuda_ctx *ctx, int reps, void *flush, size_t flush_bytes)
{
    static const int BS[] = {1, 8, 32, 128}, PREFIX[] = {0, 512, 4096}, EXTEND[] = {16, 256, 2048};
    float *ms = malloc(sizeof(float) * (size_t)reps);
    int rc = 0;
    printf("%4s %6s %6s %10s %10s %9s %9s %8s  %s\n", "bs", "prefix", "extend", "canon us", "tc us", "canon TF/s",
           "tc TF/s", "canon/tc", "tc checked");
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 3; c++) {
                char line[256];
                snprintf(line, sizeof line, "name=scale bs=%d extend=%d prefix=%d hq=8 hkv=2 d=128 dtype=bf16 seed=7",
                         BS[a], EXTEND[c], PREFIX[b]);
                ea_case *cs;
                int nc;
                ea_problem pr;
                ea_host_batch hb;
                ea_dev_batch *db;
                ea_plan plan;
                if (ea_cases_parse(line, &cs, &nc) != EA_OK || ea_problem_make(&cs[0], &pr) != EA_OK ||
                    ea_host_batch_make(&pr, NULL, 0, NULL, &hb) != EA_OK ||
                    ea_cuda_batch_upload(ctx, &hb.batch, &pr.params, &hb.in, &db) != EA_OK ||
                    ea_cuda_plan_create(ctx, db, &plan) != EA_OK ||
                    ea_cuda_plan_build(ctx, db, EA_SYNC_DEVICE, &plan) != EA_OK) {
                    fprintf(stderr, "ea-bench-kernel: %s: %s\n", line, ea_last_error());
                    return 2;
                }
                free(cs);
                double flops, bytes;
                count_work(&pr, &hb, &flops, &bytes);
                const int64_t n = (int64_t)hb.num_tokens * pr.params.hq * pr.params.dv;
                void *canon_o = malloc(hb.o_bytes + 1), *tc_o = malloc(hb.o_bytes + 1);
                double t[2][3];
                const int small = flops < 2e10; /* the CPU reference takes seconds, not minutes */
                for (int k = 0; k < 2; k++) {
                    /* validation against the CPU happens inside time_kernel: only where it is cheap */
                    const ea_kernel kern = k ? EA_KERNEL_TC : EA_KERNEL_CANONICAL;
                    void *o = k ? tc_o : canon_o;
                    if (small && kern == EA_KERNEL_TC) {
                        const int r = time_kernel(ctx, kern, &pr, &hb, db, &plan, flush, flush_bytes, ms, reps, o, t[k]);
                        if (r)
                            return r == 1 ? (rc = 1, rc) : 2;
                    } else {
                        cudaStream_t stream = (cudaStream_t)ea_cuda_stream(ctx);
                        cudaEvent_t e0, e1;
                        CHECK(cudaEventCreate(&e0));
                        CHECK(cudaEventCreate(&e1));
                        if (ea_cuda_set_kernel(ctx, kern) != EA_OK || ea_cuda_poison_output(ctx, db) != EA_OK ||
                            ea_cuda_run(ctx, db, &plan) != EA_OK || ea_cuda_download_output(ctx, db, o) != EA_OK) {
                            fprintf(stderr, "ea-bench-kernel: %s\n", ea_last_error());
                            return 2;
                        }
                        for (int r = 0; r < reps; r++) {
                            CHECK(cudaMemsetAsync(flush, r & 0xff, flush_bytes, stream));
                            CHECK(cudaEventRecord(e0, stream));
                            if (ea_cuda_run(ctx, db, &plan) != EA_OK)
                                return 2;
                            CHECK(cudaEventRecord(e1, stream));
                            CHECK(cudaEventSynchronize(e1));
                            CHECK(cudaEventElapsedTime(&ms[r], e0, e1));
                        }
                        qsort(ms, (size_t)reps, sizeof *ms, cmp_float);
                        t[k][0] = ms[reps / 2] * 1e3, t[k][1] = ms[0] * 1e3, t[k][2] = ms[reps - 1] * 1e3;
                        cudaEventDestroy(e0);
                        cudaEventDestroy(e1);
                    }
                }
                /* tc against the canonical kernel (itself bitwise equal to its CPU reference) */
                double *ref = malloc(sizeof(double) * (size_t)n);
                ea_to_double(canon_o, pr.params.dtype, n, ref);
                const ea_diff d = ea_compare_tol(tc_o, pr.params.dtype, ref, n, (int64_t)pr.params.hq * pr.params.dv,
                                                 0x1p-7);
                char checked[64];
                snprintf(checked, sizeof checked, "%s%s (max %.1e)", small ? "bitwise vs CPU, " : "",
                         d.differ ? "FAILS 2^-7 vs canonical" : "within 2^-7 of canonical", d.max_rel);
                rc |= d.differ != 0;
                printf("%4d %6d %6d %10.1f %10.1f %9.2f %9.2f %8.2f  %s\n", BS[a], PREFIX[b], EXTEND[c], t[0][0],
                       t[1][0], flops / t[0][0] / 1e6, flops / t[1][0] / 1e6, t[0][0] / t[1][0], checked);
                fflush(stdout);
                free(ref), free(canon_o), free(tc_o);
                ea_cuda_plan_free(&plan);
                ea_cuda_batch_free(db);
                ea_host_batch_free(&hb);
                ea_problem_free(&pr);
            }
    free(ms);
    return rc;
}

/* --versions: every numbered kernel on one case, each checked bitwise against its CPU reference
 * before it is timed; a markdown table for kernels/README.md (bench/run.sh puts it there). */
static int run_versions(ea_cuda_ctx *ctx, const ea_case *cases, int count, const char *name, int reps, void *flush,
                        size_t flush_bytes)
{
    const ea_case *c = NULL;
    for (int k = 0; k < count && !c; k++)
        c = strcmp(cases[k].name, name) ? NULL : &cases[k];
    ea_problem pr;
    ea_host_batch hb;
    ea_dev_batch *db;
    ea_plan plan;
    if (!c) {
        fprintf(stderr, "ea-bench-kernel: --versions: no case named '%s'\n", name);
        return 2;
    }
    if (case_open(ctx, c, &pr, &hb, &db, &plan))
        return 2;
    double flops, bytes, first_us = 0, prev_us = 0;
    count_work(&pr, &hb, &flops, &bytes);
    float *ms = malloc(sizeof(float) * (size_t)reps);
    void *got = malloc(hb.o_bytes + 1);
    int rc = 0;
    printf("| kernel | name | checked against | median us | min us | max us | TFLOP/s | vs previous | vs 1 |\n"
           "|---|---|---|---:|---:|---:|---:|---:|---:|\n");
    for (int k = EA_KERNEL_FIRST; k <= EA_KERNEL_LAST && ms && got; k++) {
        double t[3];
        const int r = time_kernel(ctx, (ea_kernel)k, &pr, &hb, db, &plan, flush, flush_bytes, ms, reps, got, t);
        if (r) {
            rc = r;
            continue;
        }
        if (k == EA_KERNEL_FIRST)
            first_us = t[0];
        char prev[16] = "-";
        if (prev_us > 0)
            snprintf(prev, sizeof prev, "%.2fx", prev_us / t[0]);
        printf("| %d | %s | %s | %.1f | %.1f | %.1f | %.2f | %s | %.1fx |\n", k, ea_kernel_name((ea_kernel)k),
               ea_kernel_reference((ea_kernel)k) == ea_reference_tc ? "CPU tensor-core order, bitwise"
                                                                     : "CPU canonical, bitwise",
               t[0], t[1], t[2], flops / t[0] / 1e6, prev, first_us / t[0]);
        fflush(stdout);
        prev_us = t[0];
    }
    free(ms), free(got);
    case_close(&pr, &hb, db, &plan);
    return rc;
}

/* The warp-tiles kernel 6 computes on a batch: 8 per key tile of each contract block (4 m16 row
 * blocks of 64 pairs, 2 warps each), the tiles from the first key a pair of the block sees to the
 * last (causal or not; no window or mask, where some tiles might be skipped). */
static int64_t tc_warp_tiles(const ea_problem *pr, const ea_host_batch *hb)
{
    const ea_params *p = &pr->params;
    const int32_t G = p->hq / p->hkv;
    int64_t tiles = 0;
    for (int32_t i = 0; i < hb->batch.bs; i++) {
        const int32_t E = hb->batch.extend_seq_lens[i];
        const int32_t P = hb->batch.prefix_kv_indptr[i + 1] - hb->batch.prefix_kv_indptr[i], T = P + E;
        for (int64_t blk0 = 0; blk0 < (int64_t)E * G; blk0 += EA_TC_BLOCK_PAIRS) {
            const int64_t last = blk0 + EA_TC_BLOCK_PAIRS < (int64_t)E * G ? blk0 + EA_TC_BLOCK_PAIRS - 1 : (int64_t)E * G - 1;
            const int64_t t_hi = P + last / G, k_hi = p->causal && t_hi < T - 1 ? t_hi : T - 1;
            tiles += k_hi / EA_TILE + 1;
        }
    }
    return tiles * p->hkv * 8;
}

/* --floor: kernel 6 against its floor, on each case it applies to (header comment). The fed
 * version copies its tiles from pools of FLOOR_POOL_ROWS rows (8 MB each of K and V, the seed
 * shape's own pools' size, L2 flushed like them), each row a copy of the tile's row. */
#define FLOOR_POOL_ROWS 32768
static int run_floor(ea_cuda_ctx *ctx, const ea_case *cases, int count, const char *only, int reps, int sms,
                     void *flush, size_t flush_bytes)
{
    enum { D = 128, VERSIONS = EA_FLOOR_WIDE_AHEAD + 2 }; /* EA_FLOOR_PRODUCTS .. EA_FLOOR_WIDE_AHEAD, then an empty launch */
    float *ms = malloc(sizeof(float) * (size_t)reps), *out;
    const size_t kv_elems = (size_t)3 * 64 * D, pool_elems = (size_t)FLOOR_POOL_ROWS * D;
    uint16_t *kv, *pools, *host_kv = malloc(kv_elems * sizeof *host_kv),
                          *host_pools = malloc(2 * pool_elems * sizeof *host_pools);
    if (!ms || !host_kv || !host_pools)
        return 2;
    for (size_t e = 0; e < kv_elems; e++) { /* k / 16 for k in -15..15: scores of a few units, as in the cases */
        const uint32_t h = (uint32_t)e * 2654435761u;
        const float v = (float)(h >> 24 & 15) / 16.f * (h >> 28 & 1 ? -1.f : 1.f);
        uint32_t bits;
        memcpy(&bits, &v, sizeof bits);
        host_kv[e] = (uint16_t)(bits >> 16); /* exact: k / 16 has 4 significant bits */
    }
    for (size_t e = 0; e < 2 * pool_elems; e++) /* K's pool, then V's: row p is the tile's row p % 64 */
        host_pools[e] = host_kv[(e / pool_elems + 1) * 64 * D + e % (64 * D)];
    CHECK(cudaMalloc((void **)&kv, kv_elems * sizeof *kv));
    CHECK(cudaMalloc((void **)&pools, 2 * pool_elems * sizeof *pools));
    CHECK(cudaMemcpy(kv, host_kv, kv_elems * sizeof *kv, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(pools, host_pools, 2 * pool_elems * sizeof *pools, cudaMemcpyHostToDevice));
    CHECK(cudaMalloc((void **)&out, (size_t)2 * sms * 256 * sizeof *out));
    cudaStream_t stream = (cudaStream_t)ea_cuda_stream(ctx);
    cudaEvent_t e0, e1;
    CHECK(cudaEventCreate(&e0));
    CHECK(cudaEventCreate(&e1));
    printf("%-16s %10s %8s %9s %9s %9s %9s %9s %9s %9s %11s %8s %9s\n", "case", "warp-tiles", "tc us", "products",
           "+softmax", "+barriers", "+copies", "ahead", "half", "wide", "wide ahead", "empty", "fed/tc");
    int rc = 0;
    for (int k = 0; k < count; k++) {
        if (only && strcmp(only, cases[k].name))
            continue;
        const ea_case *c = &cases[k];
        if (c->dqk != D || c->dv != D || c->window >= 0 || c->mask) {
            printf("%-16s (no floor: head dims 128 only, no window or mask)\n", c->name);
            continue;
        }
        ea_problem pr;
        ea_host_batch hb;
        ea_dev_batch *db;
        ea_plan plan;
        if (case_open(ctx, c, &pr, &hb, &db, &plan))
            return 2;
        void *got = malloc(hb.o_bytes + 1);
        double tc[3], floor_us[VERSIONS] = {0};
        const int r = got ? time_kernel(ctx, EA_KERNEL_TC, &pr, &hb, db, &plan, flush, flush_bytes, ms, reps, got, tc) : 2;
        const int64_t warp_tiles = tc_warp_tiles(&pr, &hb);
        for (int v = 0; v < VERSIONS && !r; v++) {
            const int parts = v == VERSIONS - 1 ? EA_FLOOR_PRODUCTS : v;
            for (int i = -1; i < reps; i++) { /* one warm-up */
                CHECK(cudaMemsetAsync(flush, i & 0xff, flush_bytes, stream));
                CHECK(cudaEventRecord(e0, stream));
                CHECK(ea_launch_tc_floor(v == VERSIONS - 1 ? 0 : warp_tiles, parts, 2 * sms, pr.params.sm_scale, kv,
                                         pools, pools + pool_elems, FLOOR_POOL_ROWS, out, stream));
                CHECK(cudaEventRecord(e1, stream));
                CHECK(cudaEventSynchronize(e1));
                if (i >= 0)
                    CHECK(cudaEventElapsedTime(&ms[i], e0, e1));
            }
            qsort(ms, (size_t)reps, sizeof *ms, cmp_float);
            floor_us[v] = ms[reps / 2] * 1e3;
        }
        if (!r)
            printf("%-16s %10lld %8.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %11.1f %8.1f %9.2f\n", cases[k].name,
                   (long long)warp_tiles, tc[0], floor_us[EA_FLOOR_PRODUCTS], floor_us[EA_FLOOR_ALL],
                   floor_us[EA_FLOOR_SYNCED], floor_us[EA_FLOOR_FED], floor_us[EA_FLOOR_AHEAD], floor_us[EA_FLOOR_HALF],
                   floor_us[EA_FLOOR_WIDE], floor_us[EA_FLOOR_WIDE_AHEAD], floor_us[VERSIONS - 1],
                   floor_us[EA_FLOOR_FED] / tc[0]);
        rc = r ? r : rc;
        fflush(stdout);
        free(got);
        case_close(&pr, &hb, db, &plan);
    }
    CHECK(cudaEventDestroy(e0));
    CHECK(cudaEventDestroy(e1));
    CHECK(cudaFree(kv));
    CHECK(cudaFree(pools));
    CHECK(cudaFree(out));
    free(ms), free(host_kv), free(host_pools);
    return rc;
}

/* A case file can ask for more than the machine has: such a case is refused, with one line, before
 * anything is allocated (host: its problem, a batch and two outputs; device: checked where
 * lim->device_bytes is set). 1 when one was refused. */
static int over_limits(const ea_case *cases, int count, const char *only, const ea_limits *lim)
{
    for (int k = 0; k < count; k++) {
        ea_cost c;
        if (only && strcmp(only, cases[k].name))
            continue;
        const int st = ea_case_cost(&cases[k], &c);
        const double host = (double)c.problem_bytes + (double)c.batch_bytes + 8.0 * (double)c.out_elems;
        if (st != EA_OK || ea_cost_within(cases[k].name, host >= 0x1p63 ? INT64_MAX : (int64_t)host, c.device_bytes,
                                          c.flop, lim) != EA_OK) {
            fprintf(stderr, "ea-bench-kernel: %s\n", ea_last_error());
            return 1;
        }
    }
    return 0;
}

/* The card's measured bf16 tensor-core rates in TFLOP/s, through mma.sync (kernel 6's instruction)
 * and through wgmma (Hopper's; 0 where it does not run): the median of 5 timed launches after a
 * warm-up, each a few milliseconds of back-to-back tensor-core steps (kernels/mma_rate.cu,
 * kernels/wgmma_rate.cu). The table peak is an upper bound; these are what the instructions give. */
static void measure_mma_rates(int sms, double *mma_tflops, double *wgmma_tflops)
{
    const uint32_t ones[6] = {0x3f803f80u, 0x3f803f80u, 0x3f803f80u, 0x3f803f80u, 0x3f803f80u, 0x3f803f80u};
    uint32_t *operands;
    float *out;
    cudaEvent_t e0, e1;
    *mma_tflops = *wgmma_tflops = 0;
    CHECK(cudaMalloc((void **)&operands, sizeof ones));
    CHECK(cudaMemcpy(operands, ones, sizeof ones, cudaMemcpyHostToDevice));
    CHECK(cudaMalloc((void **)&out, (size_t)sms * 4 * 256 * sizeof *out));
    CHECK(cudaEventCreate(&e0));
    CHECK(cudaEventCreate(&e1));
    for (int which = 0; which < 2; which++) {
        float ms[5];
        double flop = 0;
        int r;
        for (r = -1; r < 5; r++) {
            CHECK(cudaEventRecord(e0, 0));
            const cudaError_t e = which ? ea_launch_wgmma_rate(out, sms * 2, 4096, &flop, 0)
                                        : ea_launch_mma_rate(operands, out, sms * 4, 16384, &flop, 0);
            if (which && e == cudaErrorNotSupported) /* wgmma on a card without it: "n/a" */
                break;
            CHECK(e);
            CHECK(cudaEventRecord(e1, 0));
            CHECK(cudaEventSynchronize(e1));
            if (r >= 0)
                CHECK(cudaEventElapsedTime(&ms[r], e0, e1));
        }
        if (r < 5)
            continue;
        for (int i = 1; i < 5; i++) /* insertion sort of 5 */
            for (int k = i; k > 0 && ms[k] < ms[k - 1]; k--) {
                const float t = ms[k];
                ms[k] = ms[k - 1], ms[k - 1] = t;
            }
        *(which ? wgmma_tflops : mma_tflops) = flop / (ms[2] * 1e-3) / 1e12;
    }
    CHECK(cudaEventDestroy(e0));
    CHECK(cudaEventDestroy(e1));
    CHECK(cudaFree(out));
    CHECK(cudaFree(operands));
}

int main(int argc, char **argv)
{
    const char *path = NULL, *only = NULL, *dump = NULL;
    ea_kernel canon_kernel = EA_KERNEL_CANONICAL; /* timed in the canonical columns */
    int reps = 30, scaling = 0, versions = 0, floor = 0, want_canon = 1, want_tc = 1;
    ea_limits lim = ea_limits_default();
    for (int k = 1; k < argc; k++) {
        if (ea_limits_option(argv[k], k + 1 < argc ? argv[k + 1] : NULL, &lim) == 1)
            k++;
        else if (!strcmp(argv[k], "--cases") && k + 1 < argc)
            path = argv[++k];
        else if (!strcmp(argv[k], "--only") && k + 1 < argc)
            only = argv[++k];
        else if (!strcmp(argv[k], "--dump") && k + 1 < argc)
            dump = argv[++k];
        else if (!strcmp(argv[k], "--kernel") && k + 1 < argc && !strcmp(argv[k + 1], "both"))
            want_canon = want_tc = 1, k++;
        else if (!strcmp(argv[k], "--kernel") && k + 1 < argc) {
            ea_kernel one;
            if (ea_kernel_parse(argv[++k], &one) != EA_OK) {
                fprintf(stderr, "ea-bench-kernel: %s\n", ea_last_error());
                return 2;
            }
            want_tc = one == EA_KERNEL_TC, want_canon = !want_tc;
            canon_kernel = want_canon ? one : canon_kernel;
        } else if (!strcmp(argv[k], "--versions"))
            versions = 1;
        else if (!strcmp(argv[k], "--floor"))
            floor = 1;
        else if (!strcmp(argv[k], "--reps") && k + 1 < argc && parse_reps(argv[k + 1], &reps))
            k++;
        else if (!strcmp(argv[k], "--scaling"))
            scaling = 1;
        else {
            fprintf(stderr, "ea-bench-kernel: unknown or incomplete option '%s' (usage: --cases FILE [--only NAME] "
                            "[--reps 3..10000] [--kernel 1..6|NAME|both] [--versions] [--floor] [--dump DIR] [--max-bytes BYTES] "
                            "[--max-gflop GFLOP], or --scaling [--reps N])\n",
                    argv[k]);
            return 2;
        }
    }
    if (!path && !scaling) {
        fprintf(stderr, "ea-bench-kernel: --cases FILE (or --scaling) is required\n");
        return 2;
    }
    ea_case *cases = NULL;
    int count = 0;
    if (path && ea_cases_load(path, &cases, &count) != EA_OK) {
        fprintf(stderr, "ea-bench-kernel: %s\n", ea_last_error());
        return 2;
    }
    if (over_limits(cases, count, only, &lim)) { /* host memory and work: also without a GPU */
        free(cases);
        return 2;
    }
    ea_cuda_ctx *ctx;
    if (ea_cuda_create(&ctx) != EA_OK) {
        printf("ea-bench-kernel: skipped: %s\n", ea_last_error());
        free(cases);
        return 0;
    }
    if (ea_cuda_mem_free(ctx, &lim.device_bytes) != EA_OK || over_limits(cases, count, only, &lim)) {
        free(cases);
        ea_cuda_destroy(ctx);
        return 2;
    }
    int dev;
    ea_bench_device info;
    char peaks[160];
    CHECK(cudaGetDevice(&dev));
    CHECK(ea_bench_device_query(dev, &info));
    const double peak = info.fp32_peak; /* 0: unknown architecture */
    double mma_rate, wgmma_rate;
    measure_mma_rates(info.sms, &mma_rate, &wgmma_rate);
    char wgmma_text[32] = "n/a";
    if (wgmma_rate > 0)
        snprintf(wgmma_text, sizeof wgmma_text, "%.0f", wgmma_rate);
    printf("device: %s, %d SMs, %.0f MHz, %s (measured: mma.sync %.0f, wgmma %s); %d repeats, L2 (%.0f MB) flushed "
           "with %.0f MB; mma model %s here\n",
           info.prop.name, info.sms, info.clock_khz / 1e3, ea_bench_peaks(&info, peaks, sizeof peaks), mma_rate,
           wgmma_text, reps, info.prop.l2CacheSize / 1048576.0, info.flush_bytes / 1048576.0,
           ea_cuda_mma_model_verified() ? "verified" : "NOT verified (tc checked against a model unproven here)");

    void *flush;
    const size_t flush_bytes = info.flush_bytes;
    CHECK(cudaMalloc(&flush, flush_bytes));
    if (scaling || versions || floor) {
        const int rc = scaling ? run_scaling(ctx, reps, flush, flush_bytes)
                       : floor ? run_floor(ctx, cases, count, only, reps, info.sms, flush, flush_bytes)
                               : run_versions(ctx, cases, count, only ? only : "seed_shape", reps, flush, flush_bytes);
        cudaFree(flush);
        ea_cuda_destroy(ctx);
        return rc;
    }
    printf("%-20s %10s %8s %7s %10s %10s %10s %8s %8s\n", "case", "canon us", "TFLOP/s", "%fp32", "tc us",
           "tc min", "tc max", "TFLOP/s", "canon/tc");
    float *ms = malloc(sizeof(float) * (size_t)reps);
    int rc = 0;
    for (int c = 0; c < count; c++) {
        if (only && strcmp(only, cases[c].name))
            continue;
        ea_problem pr;
        ea_host_batch hb;
        ea_dev_batch *db;
        ea_plan plan;
        if (case_open(ctx, &cases[c], &pr, &hb, &db, &plan))
            return 2;
        void *got = malloc(hb.o_bytes + 1);
        double canon[3] = {0}, tc[3] = {0};
        int r_canon = -1, r_tc = -1;
        if (want_canon)
            r_canon = time_kernel(ctx, canon_kernel, &pr, &hb, db, &plan, flush, flush_bytes, ms, reps, got, canon);
        if (want_tc) /* last, so `got` holds the tc output for --dump */
            r_tc = time_kernel(ctx, EA_KERNEL_TC, &pr, &hb, db, &plan, flush, flush_bytes, ms, reps, got, tc);
        if (r_canon == 2 || r_tc == 2)
            return 2;
        rc |= r_canon == 1 || r_tc == 1;
        double flops, bytes;
        count_work(&pr, &hb, &flops, &bytes);
        char cbuf[64] = "-", ctf[16] = "-", cpk[16] = "-", tbuf[3][16] = {"-", "-", "-"}, ttf[16] = "-", ratio[16] = "-";
        if (r_canon == 0) {
            snprintf(cbuf, sizeof cbuf, "%.1f", canon[0]);
            snprintf(ctf, sizeof ctf, "%.2f", flops / canon[0] / 1e6);
            if (peak > 0)
                snprintf(cpk, sizeof cpk, "%.1f%%", 100.0 * flops / (canon[0] * 1e-6) / peak);
            else
                snprintf(cpk, sizeof cpk, "unknown");
        }
        if (r_tc == 0) {
            for (int t = 0; t < 3; t++)
                snprintf(tbuf[t], sizeof tbuf[t], "%.1f", tc[t]);
            snprintf(ttf, sizeof ttf, "%.2f", flops / tc[0] / 1e6);
        }
        if (r_canon == 0 && r_tc == 0)
            snprintf(ratio, sizeof ratio, "%.2f", canon[0] / tc[0]);
        printf("%-20s %10s %8s %7s %10s %10s %10s %8s %8s\n", cases[c].name, cbuf, ctf, cpk, tbuf[0], tbuf[1], tbuf[2],
               ttf, ratio);
        if (dump && (r_tc == 0 || (!want_tc && r_canon == 0)) &&
            dump_case(dump, &pr, &hb, got, want_tc ? tc[0] : canon[0], canon[0], flops) != 0)
            rc = 2;
        fflush(stdout);
        free(got);
        case_close(&pr, &hb, db, &plan);
    }
    free(ms);
    free(cases);
    cudaFree(flush);
    ea_cuda_destroy(ctx);
    return rc;
}
