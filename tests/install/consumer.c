/* A program that uses the installed library as another project would (tests/install_test.sh builds
 * it with `pkg-config --cflags --libs ea` against a scratch install, shared and static).
 *
 * One request, hand-made: a cached prefix of 1 token and 2 new tokens, one head, head dimension 1,
 * keys in a paged pool in an order of their own. With q = 1 and sm_scale = 1 the scores are the
 * keys, so the outputs are known by hand:
 *
 *   position   pool slot   k   v
 *       0          2       0   0     (cached)
 *       1          0       1   1     (new token 0)
 *       2          1       2   0     (new token 1)
 *   slot 3 belongs to no request: k = 50, v = 100 would show in any output that read it.
 *
 *   new token 0 (position 1) sees positions 0, 1:     (e^1 * 1) / (e^0 + e^1)       = e / (1 + e)
 *   new token 1 (position 2) sees positions 0, 1, 2:  (e^1 * 1) / (e^0 + e^1 + e^2) = e / (1 + e + e^2)
 *
 * Then a case line through the seeded generator, the CUDA entry point (a device, or none), and a
 * refused batch. Exit 0 when every check holds; each failure prints one line. */
#include <ea.h>
#include <ea_cases.h>
#include <ea_cuda.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails;

static void check(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    fails += !ok;
}

int main(void)
{
    const int32_t qo_indptr[] = {0, 2}, prefix_kv_indptr[] = {0, 1}, extend_start_loc[] = {0}, extend_seq_lens[] = {2};
    const int64_t prefix_kv_indices[] = {2};
    int64_t extend_kv_indices[] = {0, 1};
    const float q[] = {1.0f, 1.0f}, k_pool[] = {1.0f, 2.0f, 0.0f, 50.0f}, v_pool[] = {1.0f, 0.0f, 0.0f, 100.0f};
    ea_batch b = {
        .bs = 1,
        .pool_size = 4,
        .qo_indptr = qo_indptr,
        .prefix_kv_indptr = prefix_kv_indptr,
        .prefix_kv_indices = prefix_kv_indices,
        .num_prefix_indices = 1,
        .extend_start_loc = extend_start_loc,
        .extend_seq_lens = extend_seq_lens,
        .extend_kv_indices = extend_kv_indices,
        .max_extend_len = 2,
    };
    const ea_params p = ea_params_default(1, 1, 1, 1);
    const ea_inputs in = {.q = q, .k_pool = k_pool, .v_pool = v_pool};
    const double e = exp(1.0), want[2] = {e / (1 + e), e / (1 + e + e * e)};

    float o[2] = {-1.0f, -1.0f};
    check(ea_reference_canonical(&b, &p, &in, o) == EA_OK, "ea_reference_canonical runs");
    char what[160];
    for (int r = 0; r < 2; r++) {
        snprintf(what, sizeof what, "canonical, new token %d: %.9g, by hand %.9g", r, o[r], want[r]);
        check(fabs(o[r] - want[r]) <= 1e-6, what);
    }
    float ob[2] = {-1.0f, -1.0f};
    check(ea_reference_blas(&b, &p, &in, ob) == EA_OK, "ea_reference_blas runs");
    for (int r = 0; r < 2; r++) {
        snprintf(what, sizeof what, "OpenBLAS, new token %d: %.9g, by hand %.9g", r, ob[r], want[r]);
        check(fabs(ob[r] - want[r]) <= 1e-6, what);
    }

    /* a slot outside the pool: refused with its own status and a message naming it */
    extend_kv_indices[1] = 4;
    const ea_status bad = ea_reference_canonical(&b, &p, &in, o);
    snprintf(what, sizeof what, "a slot outside the pool is refused: %s (%s)", ea_status_str(bad), ea_last_error());
    check(bad == EA_ERR_SLOT && ea_last_error()[0] != 0, what);
    extend_kv_indices[1] = 1;

    /* a case line, its generated problem, the canonical order against a float64 loop */
    ea_case *cases;
    int n;
    ea_problem pr;
    ea_host_batch hb;
    if (ea_cases_parse("name=t bs=3 extend=5 prefix=rand:0:9 hq=4 hkv=2 d=16 dtype=bf16", &cases, &n) != EA_OK ||
        ea_problem_make(&cases[0], &pr) != EA_OK || ea_host_batch_make(&pr, NULL, 0, NULL, &hb) != EA_OK) {
        printf("FAIL: a generated batch: %s\n", ea_last_error());
        return 1;
    }
    const int64_t count = (int64_t)hb.num_tokens * pr.params.hq * pr.params.dv;
    double *ref = malloc(sizeof(double) * (size_t)count), *mag = malloc(sizeof(double) * (size_t)count);
    check(count == 15 * 4 * 16, "the generated batch has 3 x 5 new tokens of 4 heads x 16");
    check(ea_reference_canonical(&hb.batch, &pr.params, &hb.in, hb.o) == EA_OK &&
              ea_reference_f64_mag(&hb.batch, &pr.params, &hb.in, ref, mag) == EA_OK,
          "canonical and float64 references on the generated batch");
    const ea_diff d = ea_compare_mag(hb.o, pr.params.dtype, ref, mag, count, 1e-5);
    snprintf(what, sizeof what, "canonical within 1e-5 of float64 (bf16: one rounding), largest %.2e", d.max_rel);
    check(d.differ == 0, what);
    free(ref), free(mag), free(cases);
    ea_host_batch_free(&hb);
    ea_problem_free(&pr);

    /* the CUDA path links in (a device here, or a clean refusal) */
    ea_cuda_ctx *ctx = NULL;
    const ea_status cs = ea_cuda_create(&ctx);
    snprintf(what, sizeof what, "ea_cuda_create: %s", cs == EA_OK ? "a device" : ea_last_error());
    check(cs == EA_OK || cs == EA_ERR_NO_DEVICE || cs == EA_ERR_NOT_BUILT, what);
    if (cs == EA_OK)
        ea_cuda_destroy(ctx);

    printf("%s\n", fails ? "consumer: FAILED" : "consumer: all checks hold");
    return fails != 0;
}
