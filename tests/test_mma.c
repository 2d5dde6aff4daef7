/* The tensor-core model (include/ea_mma.h) against outputs captured on a GPU, with no GPU.
 *
 * tests/vectors/ holds what ea-mma-probe --capture recorded on real hardware: the seed of every
 * distribution and the output bits, once through mma.sync (the instruction kernel 6 uses) and once
 * through Hopper's wgmma.mma_async (--instruction wgmma). This suite draws the same inputs again,
 * runs the model, and demands every output bit for bit, for each instruction. It also shows that
 * the vectors can tell: models that are nearly right (one kept bit more or less, rounding to
 * nearest, aligning on the leading bit) fail.
 * The hand examples pin each rule with numbers worked out on paper (DESIGN.md section 6). */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include "ea_mma.h"
#include "ea_mma_vectors.h"
#include "test_util.h"

#include "ea_math.h"

#include <string.h>

#define MMA_VECTORS EA_SOURCE_DIR "/tests/vectors/mma-m16n8k16-bf16-sm90.bin"
#define WGMMA_VECTORS EA_SOURCE_DIR "/tests/vectors/wgmma-m64n64k16-bf16-sm90.bin"

/* bf16 bits of a float that bf16 holds exactly. */
static uint16_t bf(float x)
{
    const uint16_t h = ea_f32_to_bf16(x);
    assert_true(ea_bf16_to_f32(h) == x || x != x);
    return h;
}

/* An element against the bits worked out by hand, both shown as bits and as numbers on failure. */
#define assert_elem(got_, want_)                                                                           \
    do {                                                                                                   \
        const uint32_t g_ = (got_), w_ = (want_);                                                          \
        if (g_ != w_)                                                                                      \
            fail_msg("%s: expected 0x%08x (%a), got 0x%08x (%a)", #got_, (unsigned)w_, ea_f32_from_bits(w_), \
                     (unsigned)g_, ea_f32_from_bits(g_));                                                  \
    } while (0)

/* One output element from up to 16 (a, b) pairs given as floats; the rest are +0. */
static uint32_t elem(const float *a, const float *b, int n, float c, const ea_mma_rules *rules)
{
    uint16_t ra[16] = {0}, rb[16] = {0};
    for (int k = 0; k < n; k++) {
        ra[k] = bf(a[k]);
        rb[k] = bf(b[k]);
    }
    return ea_f32_bits(rules ? ea_mma_elem_with(ra, rb, c, rules) : ea_mma_m16n8k16_elem(ra, rb, c));
}

static const ea_mma_rules RN = {25, 1, 0, -158}, LEADING = {25, 0, 1, -158}, BITS24 = {24, 0, 0, -158};

/* Small integers: every sum is exact, whatever the rules. */
static void test_exact_integer_sums(void **state)
{
    (void)state;
    const float a[4] = {1, 2, 3, -4}, b[4] = {5, 6, -7, 8};
    assert_elem(elem(a, b, 4, 10.0f, NULL), ea_f32_bits(10.0f + 5 + 12 - 21 - 32));
}

/* Products that cancel still set emax: 2^20 - 2^20 + (1 + 2^-10) keeps only the bits of c at or
 * above 2^(20-25) = 2^-5, so the result is 1, where IEEE addition in any order gives 1 + 2^-10. */
static void test_cancelled_products_truncate_c(void **state)
{
    (void)state;
    const float a[2] = {0x1p10f, 0x1p10f}, b[2] = {0x1p10f, -0x1p10f};
    assert_elem(elem(a, b, 2, 1.0f + 0x1p-10f, NULL), ea_f32_bits(1.0f));
    assert_elem(elem(a, b, 2, 1.0f + 0x1p-5f, NULL), ea_f32_bits(1.0f + 0x1p-5f)); /* on the grid */
    /* a negative term is cut toward zero too: -(1 + 2^-10) becomes -1, not -(1 + 2^-5) (which an
     * arithmetic shift of the signed value would give: it rounds toward minus infinity) */
    assert_elem(elem(a, b, 2, -(1.0f + 0x1p-10f), NULL), ea_f32_bits(-1.0f));
}

/* The final rounding is toward zero: 1 + 1.5 ulp(1) becomes 1 + 1 ulp (to nearest: 1 + 2 ulp). */
static void test_sum_rounds_toward_zero(void **state)
{
    (void)state;
    const float a[1] = {1.0f}, b[1] = {1.0f};
    const float c = 3 * 0x1p-24f; /* on the grid 2^-25 of emax = 0 */
    assert_elem(elem(a, b, 1, c, NULL), 0x3f800001u);
    assert_elem(elem(a, b, 1, c, &RN), 0x3f800002u);
    const float minus_one[1] = {-1.0f};
    assert_elem(elem(a, minus_one, 1, -c, NULL), 0xbf800001u); /* -1 - 1.5 ulp: toward zero */
}

/* A product aligns on exp(a) + exp(b), not on its leading bit: 1.5 * 1.5 = 2.25 has its leading
 * bit at 2^1 but aligns at 2^0, so the grid is 2^-25 and c = 2^-25 survives the cancellation. */
static void test_product_aligns_on_exponent_sum(void **state)
{
    (void)state;
    const float a[2] = {1.5f, 1.5f}, b[2] = {1.5f, -1.5f};
    assert_elem(elem(a, b, 2, 0x1p-25f, NULL), ea_f32_bits(0x1p-25f));
    assert_elem(elem(a, b, 2, 0x1p-25f, &LEADING), 0u); /* grid 2^-24: c is cut to +0 */
    assert_elem(elem(a, b, 2, 0x1p-25f, &BITS24), 0u);
}

/* Special values: NaN in gives the canonical NaN, inf * 0 too; one infinity passes through. */
static void test_special_values(void **state)
{
    (void)state;
    const float inf = ea_f32_from_bits(0x7f800000u), nan = ea_f32_from_bits(0x7fc00000u);
    const float a1[1] = {inf}, b1[1] = {2.0f}, bz[1] = {0.0f}, an[1] = {nan};
    assert_elem(elem(a1, b1, 1, 1.0f, NULL), 0x7f800000u);
    assert_elem(elem(a1, b1, 1, -inf, NULL), 0x7fffffffu);
    assert_elem(elem(a1, bz, 1, 1.0f, NULL), 0x7fffffffu);
    assert_elem(elem(an, b1, 1, 1.0f, NULL), 0x7fffffffu);
    /* 2^64 * 2^64 = 2^128 is past the largest float: infinity, although the rounding is toward
     * zero; the largest float itself stays */
    const float big[1] = {0x1p64f};
    assert_elem(elem(big, big, 1, 0.0f, NULL), 0x7f800000u);
    const float one[1] = {1.0f};
    assert_elem(elem(one, one, 1, ea_f32_from_bits(0x7f7fffffu), NULL), 0x7f7fffffu);
}

/* Zeros: every zero result is +0, even a sum of seventeen -0 (IEEE would say -0). */
static void test_zero_signs(void **state)
{
    (void)state;
    float nz[16], one[16];
    for (int k = 0; k < 16; k++) {
        nz[k] = -0.0f;
        one[k] = 1.0f;
    }
    assert_elem(elem(nz, one, 16, -0.0f, NULL), 0u); /* 17 zeros, all -0 */
    assert_elem(elem(nz, one, 16, 0.0f, NULL), 0u);
    assert_elem(elem(nz, one, 15, -0.0f, NULL), 0u); /* the 16th product is +0 * +0 */
    const float a[2] = {1.0f, 1.0f}, b[2] = {1.0f, -1.0f};
    assert_elem(elem(a, b, 2, -0.0f, NULL), 0u);
}

/* Results below 2^-126 are subnormals, truncated: 2^-70 * 2^-70 = 2^-140 is 2^9 units of 2^-149. */
static void test_subnormal_results(void **state)
{
    (void)state;
    const float a[1] = {0x1p-70f}, b[1] = {0x1p-70f};
    assert_elem(elem(a, b, 1, 0.0f, NULL), 1u << 9);
}

/* ---- the captured vectors ---- */

static ea_mma_vectors vectors; /* the file of the group that runs */

/* Loads a vector file and checks that it came from the instruction its group is about. */
static int load_vectors(const char *path, const char *instruction)
{
    const ea_status st = ea_mma_vectors_read(path, &vectors);
    if (st != EA_OK) {
        fprintf(stderr, "cannot load the vectors: %s\n", ea_last_error());
        return -1;
    }
    printf("[ vectors  ] %s\n", vectors.instruction);
    if (strncmp(vectors.instruction, instruction, strlen(instruction))) {
        fprintf(stderr, "%s holds outputs of '%s', not of %s...\n", path, vectors.instruction, instruction);
        ea_mma_vectors_free(&vectors);
        return -1;
    }
    return 0;
}
static int load_mma_vectors(void **state)
{
    (void)state;
    return load_vectors(MMA_VECTORS, "mma.sync.aligned.m16n8k16");
}
static int load_wgmma_vectors(void **state)
{
    (void)state;
    return load_vectors(WGMMA_VECTORS, "wgmma.mma_async.sync.aligned.m64n64k16");
}

static int free_vectors(void **state)
{
    (void)state;
    ea_mma_vectors_free(&vectors);
    return 0;
}

/* Outputs of the vectors that `rules` does not reproduce (first one reported through *first). */
static int64_t mismatches(const ea_mma_vector_block *blk, const ea_mma_rules *rules, int64_t *first,
                          uint32_t *got, uint32_t *want)
{
    int64_t bad = 0;
    *first = -1;
    ea_mma_tile t;
    for (int64_t i = 0; i < blk->tiles; i++) {
        ea_mma_tile_draw(blk->dist, blk->seed, (uint64_t)i, &t);
        for (int o = 0; o < EA_MMA_TILE_OUTPUTS; o++) {
            const int m = o / EA_MMA_N, n = o % EA_MMA_N;
            const uint32_t model = ea_f32_bits(ea_mma_elem_with(&t.A[m * EA_MMA_K], &t.Bt[n * EA_MMA_K], t.C[o], rules));
            const uint32_t hw = blk->d[i * EA_MMA_TILE_OUTPUTS + o];
            if (model != hw && bad++ == 0) {
                *first = i * EA_MMA_TILE_OUTPUTS + o;
                *got = model;
                *want = hw;
            }
        }
    }
    return bad;
}

static void test_vectors_cover_every_distribution(void **state)
{
    (void)state;
    int seen[EA_MMA_DIST_COUNT] = {0};
    for (int b = 0; b < vectors.nblocks; b++)
        seen[vectors.blocks[b].dist] = 1;
    for (int d = 0; d < EA_MMA_DIST_COUNT; d++)
        if (!seen[d])
            fail_msg("the vectors have no '%s' block: capture again with ea-mma-probe --capture", ea_mma_dist_name(d));
    if (vectors.outputs < 1000000)
        fail_msg("only %lld outputs captured, fewer than 10^6", (long long)vectors.outputs);
    printf("[ vectors  ] %lld outputs from %s (cc %s, driver %s, %s)\n", (long long)vectors.outputs, vectors.card,
           vectors.cc, vectors.driver, vectors.date);
}

/* The inputs drawn here are the inputs the GPU saw (else a failure below would blame the model). */
static void test_vectors_inputs_are_the_captured_ones(void **state)
{
    (void)state;
    for (int b = 0; b < vectors.nblocks; b++) {
        const ea_mma_vector_block *blk = &vectors.blocks[b];
        const uint64_t h = ea_mma_inputs_hash(blk->dist, blk->seed, blk->tiles);
        if (h != blk->inputs_hash)
            fail_msg("%s: the generator no longer draws the captured inputs (hash %016llx, file %016llx)",
                     ea_mma_dist_name(blk->dist), (unsigned long long)h, (unsigned long long)blk->inputs_hash);
    }
}

static void test_model_reproduces_every_captured_output(void **state)
{
    (void)state;
    int64_t total_bad = 0;
    for (int b = 0; b < vectors.nblocks; b++) {
        const ea_mma_vector_block *blk = &vectors.blocks[b];
        int64_t first;
        uint32_t got = 0, want = 0;
        const int64_t bad = mismatches(blk, &EA_MMA_SM90, &first, &got, &want);
        printf("[ %-9s] %7lld outputs, %lld differ\n", ea_mma_dist_name(blk->dist),
               (long long)(blk->tiles * EA_MMA_TILE_OUTPUTS), (long long)bad);
        if (bad)
            printf("[ %-9s] first: tile %lld D[%lld][%lld]: model 0x%08x (%a), GPU 0x%08x (%a)\n",
                   ea_mma_dist_name(blk->dist), (long long)(first / 128), (long long)(first % 128 / 8),
                   (long long)(first % 8), got, ea_f32_from_bits(got), want, ea_f32_from_bits(want));
        total_bad += bad;
    }
    if (total_bad)
        fail_msg("the model differs from the GPU in %lld of %lld outputs", (long long)total_bad,
                 (long long)vectors.outputs);
}

/* The fast entry point (operands taken apart once) gives the same bits on every captured input. */
static void test_dot16x16_matches_every_captured_output(void **state)
{
    (void)state;
    int64_t bad = 0;
    ea_mma_tile t;
    ea_bf16x16 A[EA_MMA_M], Bt[EA_MMA_N];
    for (int b = 0; b < vectors.nblocks; b++) {
        const ea_mma_vector_block *blk = &vectors.blocks[b];
        for (int64_t i = 0; i < blk->tiles; i++) {
            ea_mma_tile_draw(blk->dist, blk->seed, (uint64_t)i, &t);
            for (int m = 0; m < EA_MMA_M; m++)
                ea_mma_bf16x16(&t.A[m * EA_MMA_K], &A[m]);
            for (int n = 0; n < EA_MMA_N; n++)
                ea_mma_bf16x16(&t.Bt[n * EA_MMA_K], &Bt[n]);
            for (int o = 0; o < EA_MMA_TILE_OUTPUTS; o++) {
                const uint32_t fast = ea_f32_bits(ea_mma_dot16x16(&A[o / EA_MMA_N], &Bt[o % EA_MMA_N], t.C[o]));
                bad += fast != blk->d[i * EA_MMA_TILE_OUTPUTS + o];
            }
        }
    }
    if (bad)
        fail_msg("ea_mma_dot16x16 differs from the GPU in %lld outputs", (long long)bad);
}

/* A model that is nearly right must fail: otherwise the vectors prove nothing. */
static void test_nearly_right_models_fail(void **state)
{
    (void)state;
    const struct { const char *what; ea_mma_rules rules; } wrong[] = {
        {"24 kept bits", {24, 0, 0, -158}},
        {"26 kept bits", {26, 0, 0, -158}},
        {"round to nearest at the end", {25, 1, 0, -158}},
        {"align on the product's leading bit", {25, 0, 1, -158}},
        {"a grid that stops at 2^-149", {25, 0, 0, -149}},
        {"a grid with no lower limit", {25, 0, 0, -100000}},
    };
    for (size_t w = 0; w < sizeof wrong / sizeof wrong[0]; w++) {
        int64_t bad = 0, first;
        uint32_t got, want;
        for (int b = 0; b < vectors.nblocks; b++)
            bad += mismatches(&vectors.blocks[b], &wrong[w].rules, &first, &got, &want);
        printf("[ wrong    ] %-36s differs in %lld outputs\n", wrong[w].what, (long long)bad);
        if (bad == 0)
            fail_msg("the vectors cannot tell the model from one with %s", wrong[w].what);
    }
}

/* ---- the generator and the file format ---- */

static void test_tiles_are_reproducible_and_distinct(void **state)
{
    (void)state;
    ea_mma_tile t1, t2, t3;
    for (int d = 0; d < EA_MMA_DIST_COUNT; d++) {
        assert_int_equal(ea_mma_dist_from_name(ea_mma_dist_name((ea_mma_dist)d)), d);
        ea_mma_tile_draw((ea_mma_dist)d, 7, 123, &t1);
        ea_mma_tile_draw((ea_mma_dist)d, 7, 124, &t3);
        ea_mma_tile_draw((ea_mma_dist)d, 7, 123, &t2);
        assert_memory_equal(&t1, &t2, sizeof t1);
        assert_memory_not_equal(&t1, &t3, sizeof t1);
    }
    assert_int_equal(ea_mma_dist_from_name("no_such"), -1);
}

static void write_file(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    fclose(f);
}

static void test_vector_file_round_trip_and_errors(void **state)
{
    (void)state;
    char path[] = "/tmp/ea_mma_vectors_XXXXXX";
    const int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    uint32_t out[2 * EA_MMA_TILE_OUTPUTS];
    for (int i = 0; i < 2 * EA_MMA_TILE_OUTPUTS; i++)
        out[i] = 0x9e3779b9u * (uint32_t)i;
    ea_mma_vectors v = {.instruction = "mma", .card = "card", .cc = "9.0", .driver = "1", .date = "2026-11-30",
                        .nblocks = 1};
    v.blocks[0] = (ea_mma_vector_block){EA_MMA_DIST_NORMAL, 5, 2, ea_mma_inputs_hash(EA_MMA_DIST_NORMAL, 5, 2), out};
    EA_ASSERT_OK(ea_mma_vectors_write(path, &v));
    ea_mma_vectors r;
    EA_ASSERT_OK(ea_mma_vectors_read(path, &r));
    assert_string_equal(r.card, "card");
    assert_int_equal(r.nblocks, 1);
    assert_int_equal(r.blocks[0].tiles, 2);
    assert_int_equal(r.blocks[0].seed, 5);
    assert_memory_equal(r.blocks[0].d, out, sizeof out);
    ea_mma_vectors_free(&r);

    const char head[] = "ea-mma-vectors 1\ncard c\ncc 9.0\ndist normal seed 0x5 tiles 1 inputs 0x1\ndata\n";
    write_file(path, head, sizeof head - 1); /* no outputs */
    EA_ASSERT_ERR(ea_mma_vectors_read(path, &r), EA_ERR_PARSE, "truncated");
    const char unknown[] = "ea-mma-vectors 1\ncard c\ncc 9.0\ndist gauss seed 0x5 tiles 1 inputs 0x1\ndata\n";
    write_file(path, unknown, sizeof unknown - 1);
    EA_ASSERT_ERR(ea_mma_vectors_read(path, &r), EA_ERR_PARSE, "unknown distribution");
    write_file(path, "hello\n", 6);
    EA_ASSERT_ERR(ea_mma_vectors_read(path, &r), EA_ERR_PARSE, "not a vector file");
    remove(path);
    EA_ASSERT_ERR(ea_mma_vectors_read(path, &r), EA_ERR_IO, path);
}

int main(void)
{
    const struct CMUnitTest rules[] = {
        cmocka_unit_test(test_exact_integer_sums),
        cmocka_unit_test(test_cancelled_products_truncate_c),
        cmocka_unit_test(test_sum_rounds_toward_zero),
        cmocka_unit_test(test_product_aligns_on_exponent_sum),
        cmocka_unit_test(test_special_values),
        cmocka_unit_test(test_zero_signs),
        cmocka_unit_test(test_subnormal_results),
        cmocka_unit_test(test_tiles_are_reproducible_and_distinct),
        cmocka_unit_test(test_vector_file_round_trip_and_errors),
    };
    const struct CMUnitTest captured[] = {
        cmocka_unit_test(test_vectors_cover_every_distribution),
        cmocka_unit_test(test_vectors_inputs_are_the_captured_ones),
        cmocka_unit_test(test_model_reproduces_every_captured_output),
        cmocka_unit_test(test_dot16x16_matches_every_captured_output),
        cmocka_unit_test(test_nearly_right_models_fail),
    };
    const int failed = cmocka_run_group_tests_name("mma rules", rules, NULL, NULL);
    return failed + cmocka_run_group_tests_name("mma captured vectors", captured, load_mma_vectors, free_vectors) +
           cmocka_run_group_tests_name("wgmma captured vectors", captured, load_wgmma_vectors, free_vectors);
}
