#define _POSIX_C_SOURCE 200809L /* clock_gettime */
/* ea-compare: checks every contract of DESIGN.md on the cases of a case file.
 *
 *   build/bin/ea-compare --cases tests/cases/default.cases [--backend cpu|gpu|all] [--only NAME] [--kernel N]
 *                        [--max-bytes BYTES] [--max-gflop GFLOP]
 *
 * --backend is cpu by default, all when --kernel names a kernel (its checks are what was asked for).
 *
 * Before anything runs, every selected case's memory and work are computed from the case alone
 * (ea_case_cost); a case over the limits (by default 3/4 of the host memory available, the GPU's
 * free memory, EA_DEFAULT_MAX_GFLOP per attention) is refused with exit 2 and one line naming its
 * need and the limit. BYTES takes a k, M, G or T suffix (powers of 1000).
 *
 * CPU backend, per case:
 *   blas    canonical vs the OpenBLAS reference   (tolerance, max relative error shown)
 *   f64     canonical vs a float64 loop           (tolerance)
 *   batch   each request alone == in the batch    (bitwise)
 *   split   another cached/new split == original  (bitwise)
 *   2stage  the two-stage design under the same re-split: elements that change (shown, not judged)
 * CPU tensor-core order (DESIGN section 6.2), per case:
 *   f64     the tensor-core reference vs a float64 loop on the same bf16 inputs (tolerance 2^-7)
 *   batch, split   its invariances (bitwise)
 * GPU backend, once per kernel (1..6 of kernels/README.md, or the one --kernel names), per case (bitwise
 * unless said otherwise):
 *   per_request, batched, device, graph   each strategy's output == the kernel's CPU reference
 *            (for tc on a card whose architecture the mma model was not verified on: shown, not judged)
 *   indices  every strategy's unified indices == the CPU builder's (once, with the first kernel)
 *   twice    running again gives the same bits
 *   batch, split   the invariances, on the GPU
 *   waits    blocking host waits per step, as the step table of ea_cuda.h says: 4*bs, 1, 0, 0
 * Exit status: 0 all contracts hold, 1 one failed, 2 bad input. */
#include "ea.h"
#include "ea_cases.h"
#include "ea_cuda.h"
#include "ea_cuda_runner.h"
#include "ea_math.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Tolerances of DESIGN.md section 2, relative to each output's magnitude sum_u p_u |v_u[d]| / l
 * (ea_compare_mag): fp32 rounding in any summation order stays far below them, a wrong exp or a
 * step out of order does not. */
#define TOL_BLAS 1e-5
#define TOL_F64 1e-5
/* The tensor-core order against float64 on the same bf16-rounded inputs (DESIGN.md section 6.2):
 * the probabilities are rounded to bf16 (2^-9 relative) and the mma truncates; 2^-7 of the
 * magnitude bounds what that can do. */
#define TOL_TC 0x1p-7

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: ea-compare --cases FILE [--backend cpu|gpu|all] [--only NAME] [--kernel 1..6|NAME] "
               "[--max-bytes BYTES] [--max-gflop GFLOP]\n"
               "  --backend: default cpu, or all when --kernel is given\n"
               "  --kernel: check one GPU kernel (kernels/README.md: 1 naive .. 5 bitmasks, 6 tc); default: all\n");
}

static ea_status run_two_stage(void *ctx, const ea_problem *pr, const ea_host_batch *hb, void *o)
{
    (void)ctx;
    return ea_reference_two_stage(&hb->batch, &pr->params, &hb->in, o);
}

/* One failed contract: say which, where in the batch, and both values in %a. */
static int report(const char *name, const char *what, const ea_diff *d, const ea_host_batch *hb, const ea_params *p)
{
    if (d->differ == 0 && d->sentinels == 0)
        return 0;
    char where[160];
    if (d->sentinels)
        fprintf(stderr, "  %s: %s: %lld outputs never written\n", name, what, (long long)d->sentinels);
    if (d->differ)
        fprintf(stderr, "  %s: %s: %lld of %lld differ, the first at %s: %a vs %a\n", name, what,
                (long long)d->differ, (long long)d->count, ea_host_batch_where(hb, p, d->first, where, sizeof where),
                d->a_first, d->b_first);
    return 1;
}

/* Generates a case's data and its batch; 0 on success, else says why (nothing to free). */
static int make_case(const ea_case *c, ea_problem *pr, ea_host_batch *hb)
{
    if (ea_problem_make(c, pr) != EA_OK) {
        fprintf(stderr, "ea-compare: %s\n", ea_last_error());
        return 2;
    }
    if (ea_host_batch_make(pr, NULL, 0, NULL, hb) != EA_OK) {
        fprintf(stderr, "ea-compare: %s\n", ea_last_error());
        ea_problem_free(pr);
        return 2;
    }
    return 0;
}

/* Runs the CPU checks of one case; returns 0 pass, 1 fail, 2 error. The canonical output is
 * handed to *keep (the GPU table compares with it instead of computing it again). */
static int run_case_cpu(const ea_case *c, void **keep)
{
    ea_problem pr;
    ea_host_batch hb;
    if (make_case(c, &pr, &hb) != 0)
        return 2;
    const ea_params *p = &pr.params;
    const int64_t n = (int64_t)hb.num_tokens * p->hq * p->dv;
    void *o_blas = malloc(hb.o_bytes + 1), *o_two = malloc(hb.o_bytes + 1);
    double *ref = malloc(sizeof(double) * (size_t)(n + 1)), *mag = malloc(sizeof(double) * (size_t)(n + 1));
    double *blas64 = malloc(sizeof(double) * (size_t)(n + 1));
    int fail = 0, err = 0;
    ea_diff d_blas = {0}, d_f64 = {0}, d_batch = {0}, d_split = {0}, d_two = {0};
    double t_canon = 0, t_blas = 0;
    if (!o_blas || !o_two || !ref || !mag || !blas64) {
        fprintf(stderr, "ea-compare: out of memory\n");
        err = 1;
        goto done;
    }

    ea_fill_sentinel(hb.o, p->dtype, n);
    double t0 = now_ms();
    ea_status st = ea_reference_canonical(&hb.batch, p, &hb.in, hb.o);
    t_canon = now_ms() - t0;
    if (st == EA_OK) {
        ea_fill_sentinel(o_blas, p->dtype, n);
        t0 = now_ms();
        st = ea_reference_blas(&hb.batch, p, &hb.in, o_blas);
        t_blas = now_ms() - t0;
    }
    if (st == EA_OK)
        st = ea_reference_f64_mag(&hb.batch, p, &hb.in, ref, mag);
    if (st == EA_OK) {
        ea_to_double(o_blas, p->dtype, n, blas64);
        d_blas = ea_compare_mag(hb.o, p->dtype, blas64, mag, n, TOL_BLAS);
        d_f64 = ea_compare_mag(hb.o, p->dtype, ref, mag, n, TOL_F64);
        st = ea_check_batch_invariance(&pr, ea_run_canonical, NULL, &hb, hb.o, &d_batch);
    }
    if (st == EA_OK)
        st = ea_check_split_invariance(&pr, ea_run_canonical, NULL, &hb, hb.o, &d_split);
    if (st == EA_OK) {
        /* the lesson: the same re-split, but through the two-stage design */
        st = ea_reference_two_stage(&hb.batch, p, &hb.in, o_two);
        if (st == EA_OK)
            st = ea_check_split_invariance(&pr, run_two_stage, NULL, &hb, o_two, &d_two);
    }
    if (st != EA_OK) {
        fprintf(stderr, "ea-compare: %s: %s\n", c->name, ea_last_error());
        err = 1;
        goto done;
    }
    fail |= report(c->name, "canonical vs OpenBLAS", &d_blas, &hb, p);
    fail |= report(c->name, "canonical vs float64", &d_f64, &hb, p);
    fail |= report(c->name, "batch invariance", &d_batch, &hb, p);
    fail |= report(c->name, "prefix-split invariance", &d_split, &hb, p);
    printf("%-20s %4d %6d %9.1f %8.1f %9.2e %9.2e %6s %6s %8lld  %s\n", c->name, c->bs, hb.num_tokens, t_canon,
           t_blas, d_blas.max_rel, d_f64.max_rel, d_batch.differ || d_batch.sentinels ? "FAIL" : "ok",
           d_split.differ || d_split.sentinels ? "FAIL" : "ok", (long long)d_two.differ, fail ? "FAIL" : "pass");
done:
    free(o_blas);
    free(o_two);
    free(ref);
    free(mag);
    free(blas64);
    if (!err) {
        *keep = hb.o;
        hb.o = NULL;
    }
    ea_host_batch_free(&hb);
    ea_problem_free(&pr);
    return err ? 2 : fail;
}

/* A float copy of n elements of a tensor, rounded to bf16 values (what the tensor-core order reads). */
static float *bf16_values(const void *t, ea_dtype dt, int64_t n)
{
    float *out = malloc(sizeof(float) * (size_t)(n + 1));
    for (int64_t k = 0; out && k < n; k++) {
        const float x = dt == EA_BF16 ? ea_bf16_to_f32(((const uint16_t *)t)[k]) : ((const float *)t)[k];
        out[k] = ea_bf16_to_f32(ea_f32_to_bf16(x));
    }
    return out;
}

/* The CPU checks of the tensor-core order for one case; returns 0 pass, 1 fail, 2 error. The
 * tensor-core output is handed to *keep, like run_case_cpu's. */
static int run_case_tc_cpu(const ea_case *c, void **keep)
{
    ea_problem pr;
    ea_host_batch hb;
    if (make_case(c, &pr, &hb) != 0)
        return 2;
    const ea_params *p = &pr.params;
    const int64_t n = (int64_t)hb.num_tokens * p->hq * p->dv;
    const int64_t pool = hb.batch.pool_size * p->hkv;
    double *ref = malloc(sizeof(double) * (size_t)(n + 1)), *mag = malloc(sizeof(double) * (size_t)(n + 1));
    float *q = bf16_values(hb.in.q, p->dtype, (int64_t)hb.num_tokens * p->hq * p->dqk);
    float *k = bf16_values(hb.in.k_pool, p->dtype, pool * p->dqk), *v = bf16_values(hb.in.v_pool, p->dtype, pool * p->dv);
    ea_diff d_f64 = {0}, d_batch = {0}, d_split = {0};
    int fail = 0, err = 0;
    double t_tc = 0;
    ea_status st = ref && mag && q && k && v ? EA_OK : EA_ERR_NOMEM;
    if (st == EA_OK) {
        ea_fill_sentinel(hb.o, p->dtype, n);
        const double t0 = now_ms();
        st = ea_reference_tc(&hb.batch, p, &hb.in, hb.o);
        t_tc = now_ms() - t0;
    }
    if (st == EA_OK) {
        ea_params p32 = *p;
        p32.dtype = EA_F32;
        const ea_inputs rounded = {q, k, v};
        st = ea_reference_f64_mag(&hb.batch, &p32, &rounded, ref, mag);
    }
    if (st == EA_OK) {
        d_f64 = ea_compare_mag(hb.o, p->dtype, ref, mag, n, TOL_TC);
        st = ea_check_batch_invariance(&pr, ea_run_tc, NULL, &hb, hb.o, &d_batch);
    }
    if (st == EA_OK)
        st = ea_check_split_invariance(&pr, ea_run_tc, NULL, &hb, hb.o, &d_split);
    if (st != EA_OK) {
        fprintf(stderr, "ea-compare: %s: %s\n", c->name, ea_last_error());
        err = 1;
    } else {
        fail |= report(c->name, "tensor-core order vs float64", &d_f64, &hb, p);
        fail |= report(c->name, "tensor-core batch invariance", &d_batch, &hb, p);
        fail |= report(c->name, "tensor-core prefix-split invariance", &d_split, &hb, p);
        printf("%-20s %4d %6d %9.1f %9.2e %6s %6s  %s\n", c->name, c->bs, hb.num_tokens, t_tc, d_f64.max_rel,
               d_batch.differ || d_batch.sentinels ? "FAIL" : "ok", d_split.differ || d_split.sentinels ? "FAIL" : "ok",
               fail ? "FAIL" : "pass");
    }
    free(ref), free(mag), free(q), free(k), free(v);
    if (!err) {
        *keep = hb.o;
        hb.o = NULL;
    }
    ea_host_batch_free(&hb);
    ea_problem_free(&pr);
    return err ? 2 : fail;
}

/* Compares a plan built with each strategy against the CPU builder. */
static int check_indices(ea_cuda_ctx *ctx, const ea_problem *pr, const ea_host_batch *hb, int *ok)
{
    ea_unified cpu;
    ea_dev_batch *db = NULL;
    ea_plan plan = {0};
    int32_t *indptr = NULL, *plens = NULL;
    int64_t *idx = NULL;
    ea_status st = ea_unified_build(&hb->batch, &pr->params, &cpu);
    if (st != EA_OK)
        return 2;
    st = ea_cuda_batch_upload(ctx, &hb->batch, &pr->params, &hb->in, &db);
    if (st == EA_OK)
        st = ea_cuda_plan_create(ctx, db, &plan);
    const int32_t bs = hb->batch.bs;
    if (st == EA_OK) {
        indptr = malloc(sizeof(int32_t) * ((size_t)bs + 1));
        plens = malloc(sizeof(int32_t) * (size_t)bs);
        idx = malloc(sizeof(int64_t) * (size_t)(plan.capacity + 1));
        if (!indptr || !plens || !idx)
            st = EA_ERR_NOMEM;
    }
    *ok = 1;
    for (int s = 0; s < EA_SYNC_COUNT && st == EA_OK; s++) {
        st = ea_cuda_plan_build(ctx, db, (ea_sync)s, &plan);
        if (st == EA_OK)
            st = ea_cuda_plan_download(ctx, &plan, bs, indptr, idx, plens);
        if (st == EA_OK &&
            (memcmp(indptr, cpu.unified_kv_indptr, sizeof(int32_t) * ((size_t)bs + 1)) ||
             memcmp(plens, cpu.prefix_lens, sizeof(int32_t) * (size_t)bs) ||
             memcmp(idx, cpu.unified_kv_indices, sizeof(int64_t) * (size_t)cpu.unified_kv_indptr[bs]))) {
            fprintf(stderr, "  %s: %s strategy: unified indices differ from the CPU builder's\n", pr->spec.name,
                    ea_sync_name((ea_sync)s));
            *ok = 0;
        }
    }
    free(indptr), free(plens), free(idx);
    ea_cuda_plan_free(&plan);
    ea_cuda_batch_free(db);
    ea_unified_free(&cpu);
    return st == EA_OK ? 0 : 2;
}

/* Whether kernel k computes the tensor-core order (else the canonical one). */
static int uses_tc(ea_kernel k) { return ea_kernel_reference(k) == ea_reference_tc; }

/* Runs the GPU checks of one case with one kernel, against that kernel's CPU reference (and the
 * unified indices once per case, with_indices); returns 0 pass, 1 fail, 2 error, 3 passed
 * everything but the bitwise CPU check is unverified on this card (the tensor-core model was not
 * verified on its architecture). */
static int run_case_gpu(ea_cuda_ctx *ctx, const ea_case *c, ea_kernel kernel, const void *cpu_ref, int with_indices)
{
    const int unverified = uses_tc(kernel) && !ea_cuda_mma_model_verified();
    const char *ref_name = uses_tc(kernel) ? "CPU tensor-core order" : "CPU canonical";
    ea_problem pr;
    ea_host_batch hb;
    if (make_case(c, &pr, &hb) != 0)
        return 2;
    const ea_params *p = &pr.params;
    const int64_t n = (int64_t)hb.num_tokens * p->hq * p->dv;
    void *want = malloc(hb.o_bytes + 1), *got = malloc(hb.o_bytes + 1), *again = malloc(hb.o_bytes + 1);
    const char *verdict[EA_STEP_COUNT];
    int64_t waits[EA_STEP_COUNT];
    int fail = 0, twice_ok = 1, idx_ok = 1;
    ea_diff d_batch = {0}, d_split = {0};
    ea_status st = want && got && again ? EA_OK : EA_ERR_NOMEM;
    if (st == EA_OK) {
        ea_fill_sentinel(want, p->dtype, n);
        if (cpu_ref) /* the CPU table computed it already */
            memcpy(want, cpu_ref, hb.o_bytes);
        else
            st = ea_kernel_reference(kernel)(&hb.batch, p, &hb.in, want);
    }
    for (int s = 0; s < EA_STEP_COUNT && st == EA_OK; s++) {
        ea_cuda_runner r = {.ctx = ctx, .step = (ea_step)s, .kernel = kernel};
        char what[96];
        snprintf(what, sizeof what, "%s vs %s", ea_step_name(r.step), ref_name);
        ea_fill_sentinel(got, p->dtype, n);
        st = ea_run_cuda(&r, &pr, &hb, got);
        if (st != EA_OK)
            break;
        waits[s] = r.waits;
        ea_diff d = ea_compare_bits(got, want, p->dtype, n);
        if (unverified) {
            verdict[s] = "unver";
            fprintf(stderr, "  %s: %s: model not verified on this card (%lld outputs differ)\n", c->name, what,
                    (long long)d.differ);
            d.differ = 0; /* reported, not judged: the invariance checks below still are */
        } else {
            verdict[s] = d.differ || d.sentinels ? "FAIL" : "ok";
        }
        fail |= report(c->name, what, &d, &hb, p);
        const int64_t expect = ea_step_expected_waits(r.step, c->bs);
        if (waits[s] != expect) {
            fprintf(stderr, "  %s: %s: %lld host waits, expected %lld\n", c->name, what, (long long)waits[s],
                    (long long)expect);
            fail = 1;
        }
        ea_fill_sentinel(again, p->dtype, n);
        if ((st = ea_run_cuda(&r, &pr, &hb, again)) != EA_OK)
            break;
        d = ea_compare_bits(again, got, p->dtype, n);
        twice_ok &= d.differ == 0 && d.sentinels == 0;
        fail |= report(c->name, "run twice", &d, &hb, p);
    }
    /* Invariances against the GPU's own full-batch output (`got`: the graph's, equal to every
     * strategy's), so they are judged even where the CPU comparison is not. */
    ea_cuda_runner dev = {.ctx = ctx, .step = EA_STEP_DEVICE, .kernel = kernel};
    if (st == EA_OK)
        st = ea_check_batch_invariance(&pr, ea_run_cuda, &dev, &hb, got, &d_batch);
    if (st == EA_OK)
        st = ea_check_split_invariance(&pr, ea_run_cuda, &dev, &hb, got, &d_split);
    int err = st != EA_OK;
    if (!err && with_indices)
        err = check_indices(ctx, &pr, &hb, &idx_ok);
    if (err) {
        fprintf(stderr, "ea-compare: %s: %s\n", c->name, ea_last_error());
    } else {
        fail |= report(c->name, "GPU batch invariance", &d_batch, &hb, p);
        fail |= report(c->name, "GPU prefix-split invariance", &d_split, &hb, p);
        fail |= !idx_ok;
        char wbuf[24 * EA_STEP_COUNT] = "";
        printf("%-20s %4d %6d", c->name, c->bs, hb.num_tokens);
        for (int s = 0; s < EA_STEP_COUNT; s++) { /* a verdict column per step; their waits joined by / */
            printf(" %6s", verdict[s]);
            snprintf(wbuf + strlen(wbuf), sizeof wbuf - strlen(wbuf), "%s%lld", s ? "/" : "", (long long)waits[s]);
        }
        printf(" %7s %6s %6s %6s %14s  %s\n", !with_indices ? "-" : idx_ok ? "ok" : "FAIL",
               twice_ok ? "ok" : "FAIL", d_batch.differ || d_batch.sentinels ? "FAIL" : "ok",
               d_split.differ || d_split.sentinels ? "FAIL" : "ok", wbuf, fail ? "FAIL" : "pass");
    }
    free(want), free(got), free(again);
    ea_host_batch_free(&hb);
    ea_problem_free(&pr);
    return err ? 2 : fail ? 1 : unverified ? 3 : 0;
}

/* Host memory a case needs here, from its cost: its problem and two batches at a time (the whole
 * one and an invariance check's), and the larger of the two CPU tables' own buffers (outputs,
 * float64 references and magnitudes, the tensor-core table's fp32 inputs, a reference's scratch),
 * and the GPU table's three outputs. In double: sizes that overflow int64 still compare. */
static double host_need(const ea_case *c, const ea_cost *k)
{
    const double es = (double)ea_dtype_size(c->dtype), out = (double)k->out_elems, o = es * out;
    const double pool = (double)k->tokens + c->bs;
    const double cpu = 2 * o + 24 * out + (double)k->scratch_bytes;
    const double tc = 16 * out + 4 * ((double)k->new_tokens * c->hq * c->dqk + pool * c->hkv * (c->dqk + c->dv));
    return (double)k->problem_bytes + 2 * (double)k->batch_bytes + (cpu > tc ? cpu : tc) + 3 * o;
}

/* Refuses, before anything runs, the first selected case over the limits; 0 when all fit. */
static int check_costs(const ea_case *cases, int count, const char *only, const ea_limits *lim, int want_gpu)
{
    double kept = 0; /* the CPU tables' outputs, kept for the GPU tables */
    for (int k = 0; k < count; k++) {
        if (only && strcmp(only, cases[k].name))
            continue;
        ea_cost cost;
        if (ea_case_cost(&cases[k], &cost) != EA_OK) {
            fprintf(stderr, "ea-compare: case '%s': %s\n", cases[k].name, ea_last_error());
            return 2;
        }
        const double need = host_need(&cases[k], &cost) + kept;
        kept += 2.0 * (double)ea_dtype_size(cases[k].dtype) * (double)cost.out_elems;
        if (ea_cost_within(cases[k].name, need >= 0x1p63 ? INT64_MAX : (int64_t)need,
                           want_gpu ? cost.device_bytes : 0, cost.flop, lim) != EA_OK) {
            fprintf(stderr, "ea-compare: %s\n", ea_last_error());
            return 2;
        }
    }
    return 0;
}

/* The command line. */
typedef struct {
    const char *cases_path, *backend, *only;
    ea_kernel first, last; /* the GPU kernels to check */
    ea_limits lim;
} options;

/* Fills *o from argv; -1 to go on, else the exit status (0 after --help, 2 for a bad option). */
static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){.first = EA_KERNEL_FIRST, .last = EA_KERNEL_LAST, .lim = ea_limits_default()};
    int kernel_named = 0;
    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[k], "--cases") && k + 1 < argc) {
            o->cases_path = argv[++k];
        } else if (!strcmp(argv[k], "--backend") && k + 1 < argc) {
            o->backend = argv[++k];
        } else if (!strcmp(argv[k], "--only") && k + 1 < argc) {
            o->only = argv[++k];
        } else if (!strcmp(argv[k], "--kernel") && k + 1 < argc) {
            if (ea_kernel_parse(argv[++k], &o->first) != EA_OK) {
                fprintf(stderr, "ea-compare: %s\n", ea_last_error());
                return 2;
            }
            o->last = o->first;
            kernel_named = 1;
        } else if (ea_limits_option(argv[k], k + 1 < argc ? argv[k + 1] : NULL, &o->lim) == 1) {
            k++;
        } else {
            fprintf(stderr, "ea-compare: unknown or incomplete option '%s' (try --help)\n", argv[k]);
            return 2;
        }
    }
    if (!o->cases_path) {
        fprintf(stderr, "ea-compare: --cases FILE is required (try --help)\n");
        return 2;
    }
    /* naming a GPU kernel asks for its checks: without --backend, the CPU tables and then the
     * GPU ones where there is a device (a plain "cpu" default would pass without running it) */
    if (!o->backend)
        o->backend = kernel_named ? "all" : "cpu";
    if (strcmp(o->backend, "cpu") && strcmp(o->backend, "gpu") && strcmp(o->backend, "all")) {
        fprintf(stderr, "ea-compare: unknown backend '%s' (cpu, gpu or all)\n", o->backend);
        return 2;
    }
    return -1;
}

/* What the tables found: a run_case_* result counted. */
typedef struct {
    int passed, failed, errors, unverified;
} tally;

static void count_result(tally *t, int r)
{
    t->passed += r == 0, t->failed += r == 1, t->errors += r == 2, t->unverified += r == 3;
    fflush(stdout);
}

/* The two CPU tables; each case's reference outputs are kept in cpu_ref (canonical, then tc). */
static void cpu_tables(const ea_case *cases, int count, const char *only, void **cpu_ref, tally *t)
{
    printf("CPU backend (limits: blas rel <= %.0e, f64 rel <= %.0e, each |difference| / the output's magnitude\n"
           "  sum_u p_u |v_u[d]| / l, and bf16 outputs also one bf16 rounding of the value; batch, split: bitwise;\n"
           "  2stage!=: not judged)\n"
           "%-20s %4s %6s %9s %8s %9s %9s %6s %6s %8s  %s\n", TOL_BLAS, TOL_F64, "case", "bs", "N", "canon ms",
           "blas ms", "blas rel", "f64 rel", "batch", "split", "2stage!=", "verdict");
    for (int k = 0; k < count; k++)
        if (!only || !strcmp(only, cases[k].name))
            count_result(t, run_case_cpu(&cases[k], &cpu_ref[k]));
    printf("CPU tensor-core order (DESIGN 6.2; f64 rel: vs float64 on the same bf16 inputs, limit 2^-7 of each\n"
           "  output's magnitude)\n"
           "%-20s %4s %6s %9s %9s %6s %6s  %s\n", "case", "bs", "N", "tc ms", "f64 rel", "batch", "split", "verdict");
    for (int k = 0; k < count; k++)
        if (!only || !strcmp(only, cases[k].name))
            count_result(t, run_case_tc_cpu(&cases[k], &cpu_ref[count + k]));
}

/* One GPU table per kernel of [first, last]; the indices are checked with the first. */
static void gpu_tables(ea_cuda_ctx *ctx, const ea_case *cases, int count, const options *o, void **cpu_ref, tally *t)
{
    _Static_assert(EA_STEP_COUNT == 4, "the GPU table has a verdict column for each of the 4 steps");
    for (int kern = o->first; kern <= (int)o->last; kern++) {
        const int tc = uses_tc((ea_kernel)kern);
        printf("GPU backend, kernel %d (%s) (bitwise vs %s; waits = per_request/batched/device/graph)\n"
               "%-20s %4s %6s %6s %6s %6s %6s %7s %6s %6s %6s %14s  %s\n",
               kern, ea_kernel_name((ea_kernel)kern), tc ? "CPU tensor-core order" : "CPU canonical", "case", "bs",
               "N", "per_rq", "batch", "device", "graph", "indices", "twice", "batch", "split", "waits", "verdict");
        if (tc && !ea_cuda_mma_model_verified())
            printf("model not verified on this card: the tensor-core model of ea_mma.h was checked on sm_90 only "
                   "(run ea-mma-probe); CPU comparisons are shown, not judged\n");
        for (int k = 0; k < count; k++)
            if (!o->only || !strcmp(o->only, cases[k].name))
                count_result(t, run_case_gpu(ctx, &cases[k], (ea_kernel)kern, cpu_ref[tc * count + k],
                                             kern == (int)o->first));
    }
}

int main(int argc, char **argv)
{
    options o;
    const int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    const int want_cpu = strcmp(o.backend, "gpu") != 0, want_gpu = strcmp(o.backend, "cpu") != 0;
    ea_case *cases;
    int count;
    if (ea_cases_load(o.cases_path, &cases, &count) != EA_OK) {
        fprintf(stderr, "ea-compare: %s\n", ea_last_error());
        return 2;
    }
    int matched = 0;
    for (int k = 0; k < count; k++)
        matched += !o.only || !strcmp(o.only, cases[k].name);
    if (!matched) {
        fprintf(stderr, "ea-compare: no case named '%s'\n", o.only);
        free(cases);
        return 2;
    }
    ea_cuda_ctx *ctx = NULL;
    char gpu_skip[600] = "";
    if (want_gpu && ea_cuda_create(&ctx) != EA_OK) {
        if (!want_cpu) {
            fprintf(stderr, "ea-compare: %s\n", ea_last_error());
            free(cases);
            return 2;
        }
        snprintf(gpu_skip, sizeof gpu_skip, "%s", ea_last_error());
    }
    if (ctx && ea_cuda_mem_free(ctx, &o.lim.device_bytes) != EA_OK)
        o.lim.device_bytes = 0; /* unknown: the GPU's own out-of-memory status will say */
    /* the CPU references' outputs, per order (canonical, tensor-core) and case, kept for the GPU tables */
    void **cpu_ref = calloc(2 * (size_t)count, sizeof *cpu_ref);
    if (!cpu_ref || check_costs(cases, count, o.only, &o.lim, ctx != NULL) != 0) {
        if (!cpu_ref)
            fprintf(stderr, "ea-compare: out of memory\n");
        free(cpu_ref);
        ea_cuda_destroy(ctx);
        free(cases);
        return 2;
    }
    tally t = {0};
    if (want_cpu)
        cpu_tables(cases, count, o.only, cpu_ref, &t);
    if (ctx)
        gpu_tables(ctx, cases, count, &o, cpu_ref, &t);
    if (ctx)
        ea_cuda_destroy(ctx);
    else if (want_gpu)
        printf("GPU checks skipped: %s\n", gpu_skip);
    for (int k = 0; k < 2 * count; k++)
        free(cpu_ref[k]);
    free(cpu_ref);
    free(cases);
    if (t.unverified)
        printf("%d passed, %d failed, %d skipped\n", t.passed, t.failed + t.errors, t.unverified);
    else
        printf("%d passed, %d failed\n", t.passed, t.failed + t.errors);
    return t.errors ? 2 : t.failed ? 1 : 0;
}
