/* The GPU suite: every bitwise claim of the CUDA path on fresh random inputs
 * with poisoned outputs, for every numbered kernel (1..5 == ea_reference_canonical,
 * 6 tc == ea_reference_tc), the host-wait counts of each strategy, and the error
 * paths. Without a CUDA device (or without nvcc at build time) every test is
 * skipped visibly. On a card whose architecture the tensor-core model was not
 * verified on, the tc kernel's CPU comparisons are reported and skipped; its
 * invariances are still checked. */
#include "../optimized/ea_cuda_testing.h"
#include "ea_cuda.h"
#include "ea_cuda_runner.h"
#include "ea_math.h"
#include "test_util.h"

#include <math.h>
#include <string.h>

static const char *const CASES[] = {
    "name=plain bs=3 extend=5,70,130 prefix=0,3,140 hq=4 hkv=2 d=32",
    "name=gqa8 bs=2 extend=rand:1:90 prefix=rand:0:150 hq=8 hkv=1 d=64",
    "name=mha_d80 bs=2 extend=40 prefix=rand:0:90 hq=2 hkv=2 d=80",
    "name=d256 bs=2 extend=40 prefix=rand:0:100 hq=4 hkv=2 d=256",
    "name=dqk_dv bs=2 extend=33 prefix=65 hq=4 hkv=2 dqk=48 dv=24",
    "name=odd_dims bs=2 extend=21 prefix=9 hq=3 hkv=1 dqk=7 dv=5",
    "name=dv256 bs=2 extend=30 prefix=40 hq=2 hkv=1 dqk=64 dv=256",
    "name=noncausal_window bs=2 extend=70 prefix=60 causal=0 window=30 hq=2 hkv=1 d=16",
    "name=window bs=2 extend=90 prefix=rand:30:100 window=40 hq=2 hkv=1 d=16",
    "name=cap_sinks bs=3 extend=50 prefix=rand:0:100 cap=2.5 sinks=1 hq=4 hkv=2 d=32",
    "name=mask bs=3 extend=40 prefix=rand:0:80 mask=rand hq=4 hkv=1 d=16",
    "name=bf16 bs=3 extend=50 prefix=rand:0:100 dtype=bf16 cap=10 sinks=1 window=60 dqk=64 dv=32 hq=4 hkv=2",
    "name=one_token bs=1 extend=1 prefix=0 hq=2 hkv=1 d=8",
    "name=seedlike bs=8 extend=256 prefix=rand:0:512 hq=8 hkv=2 d=128 dtype=bf16",
    "name=bf16_odd bs=2 extend=45 prefix=rand:0:80 dtype=bf16 hq=4 hkv=2 dqk=12 dv=7",
    "name=f32_mixed bs=2 extend=40 prefix=70 hq=4 hkv=2 dqk=64 dv=6",
    "name=dqk64_dv128 bs=2 extend=50 prefix=rand:0:100 hq=4 hkv=1 dqk=64 dv=128",
    "name=dqk128_dv256 bs=1 extend=40 prefix=50 hq=2 hkv=1 dqk=128 dv=256 dtype=bf16",
    "name=dqk256_dv64 bs=1 extend=40 prefix=50 hq=2 hkv=1 dqk=256 dv=64",
};
/* EA_UNDER_SANITIZER=1 (set for compute-sanitizer runs, which slow kernels 10-100x) keeps six
 * cases that reach every code path of every kernel (f32 through the tc kernel's staging rows; odd
 * dims through element loads, in f32 and in bf16 with 2-byte stores; bf16 with cp.async, cap, sinks
 * and window; a custom mask; Dv = 256), and skips the test that provokes CUDA errors on purpose
 * (the sanitizer would report those deliberate API errors) and the 2^32-input proof (a plain run
 * covers it). */
#define UNDER_SANITIZER (getenv("EA_UNDER_SANITIZER") != NULL)
static const int SANITIZER_CASES[] = {0, 5, 6, 10, 11, 14};
#define NCASES (UNDER_SANITIZER ? (int)(sizeof SANITIZER_CASES / sizeof *SANITIZER_CASES) : (int)(sizeof CASES / sizeof *CASES))
#define CASE(c) CASES[UNDER_SANITIZER ? SANITIZER_CASES[c] : (c)]

static ea_cuda_ctx *ctx; /* one context for the suite, NULL without a device */

static int group_setup(void **state)
{
    (void)state;
    ea_test_seed();
    if (ea_cuda_create(&ctx) != EA_OK) {
        printf("[  SKIP    ] GPU suite: %s\n", ea_last_error());
        ctx = NULL;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    ea_cuda_destroy(ctx);
    return 0;
}

/* No device: a visible skip, or a failure where a verdict needs the GPU (EA_REQUIRE_GPU=1, as the
 * workshop's GPU exercises set it: a skipped suite must not read as a pass there). */
#define NEED_GPU()                                                                 \
    do {                                                                           \
        if (!ctx) {                                                                \
            if (getenv("EA_REQUIRE_GPU"))                                          \
                fail_msg("%s, and EA_REQUIRE_GPU is set", ea_last_error());                \
            print_message("skipped: no CUDA device (%s)\n", ea_last_error());     \
            skip();                                                                \
        }                                                                          \
    } while (0)

/* The CPU reference output of a kernel for a host batch (sentinel-filled first). */
static void *cpu_output_of(const ea_problem *pr, const ea_host_batch *hb, ea_kernel k)
{
    void *o = malloc(hb->o_bytes + 1);
    ea_fill_sentinel(o, pr->params.dtype, ea_test_out_elems(pr, hb));
    EA_ASSERT_OK(ea_kernel_reference(k)(&hb->batch, &pr->params, &hb->in, o));
    return o;
}

static void *cpu_output(const ea_problem *pr, const ea_host_batch *hb)
{
    return cpu_output_of(pr, hb, EA_KERNEL_CANONICAL);
}

/* Whether the kernel's output can be held to its CPU reference on this card. */
static int cpu_comparable(ea_kernel k)
{
    static int said;
    if (ea_kernel_reference(k) != ea_reference_tc || ea_cuda_mma_model_verified())
        return 1;
    if (!said++)
        print_message("model not verified on this card: tc vs CPU comparisons skipped (run ea-mma-probe)\n");
    return 0;
}

/* A workshop exercise whose file does not hold a strategy yet (tutorials/exercise.py) names it in
 * EA_TEST_SKIP_STRATEGY: the suite leaves that strategy out, and says so once. */
static int left_out(ea_sync s)
{
    static int said;
    const char *names = getenv("EA_TEST_SKIP_STRATEGY");
    if (!names || !strstr(names, ea_sync_name(s)))
        return 0;
    if (!said++)
        print_message("EA_TEST_SKIP_STRATEGY: the %s strategy is left out\n", ea_sync_name(s));
    return 1;
}

/* `s`, or the first strategy that is not left out. */
static ea_sync strategy_or_other(ea_sync s)
{
    for (int k = 0; k < EA_SYNC_COUNT && left_out(s); k++)
        s = (ea_sync)k;
    return s;
}

/* Runs everywhere: the step table of ea_cuda.h against DESIGN.md section 3, which states each
 * step's host waits (4*bs, 1, 0, 0): a row changed there fails here, GPU or not. */
static void test_step_table(void **state)
{
    (void)state;
    static const struct {
        ea_step step;
        const char *name;
        ea_sync strategy;
        int64_t waits_bs3; /* DESIGN.md section 3 for a batch of 3 requests */
    } design[] = {{EA_STEP_PER_REQUEST, "per_request", EA_SYNC_PER_REQUEST, 12},
                  {EA_STEP_BATCHED, "batched", EA_SYNC_BATCHED, 1},
                  {EA_STEP_DEVICE, "device", EA_SYNC_DEVICE, 0},
                  {EA_STEP_GRAPH, "graph", EA_SYNC_DEVICE, 0}};
    assert_int_equal(EA_STEP_COUNT, sizeof design / sizeof *design);
    for (size_t k = 0; k < sizeof design / sizeof *design; k++) {
        assert_string_equal(ea_step_name(design[k].step), design[k].name);
        assert_int_equal(ea_step_strategy(design[k].step), design[k].strategy);
        if (design[k].step != EA_STEP_GRAPH)
            assert_string_equal(ea_sync_name(design[k].strategy), design[k].name);
        if (ea_step_expected_waits(design[k].step, 3) != design[k].waits_bs3)
            fail_msg("%s: %lld expected host waits for bs=3, DESIGN.md section 3 says %lld", design[k].name,
                     (long long)ea_step_expected_waits(design[k].step, 3), (long long)design[k].waits_bs3);
    }
    assert_int_equal(ea_step_expected_waits(EA_STEP_PER_REQUEST, 1024), 4096);
    assert_int_equal(ea_step_expected_waits(EA_STEP_COUNT, 3), -1);
    assert_int_equal(ea_step_expected_waits((ea_step)-1, 3), -1);
    assert_string_equal(ea_step_name(EA_STEP_COUNT), "unknown");
    assert_int_equal(ea_step_strategy(EA_STEP_COUNT), EA_SYNC_COUNT);
}

/* Every step (each strategy and the graph), every kernel: GPU == CPU bit for bit, each step's
 * host waits as its row of the step table says, twice. */
static void test_strategies_match_cpu(void **state)
{
    const ea_kernel k = *(const ea_kernel *)*state;
    NEED_GPU();
    for (int c = 0; c < NCASES; c++) {
        ea_problem pr;
        ea_host_batch hb;
        ea_test_batch(CASE(c), &pr, &hb);
        const int64_t n = ea_test_out_elems(&pr, &hb);
        void *want = cpu_output_of(&pr, &hb, k), *got = malloc(hb.o_bytes + 1);
        void *again = malloc(hb.o_bytes + 1);
        for (int s = 0; s < EA_STEP_COUNT; s++) {
            ea_cuda_runner r = {.ctx = ctx, .step = (ea_step)s, .kernel = k};
            if (left_out(ea_step_strategy(r.step)))
                continue;
            const char *name = ea_step_name(r.step);
            char what[200];
            snprintf(what, sizeof what, "%s, %s kernel, %s: GPU vs CPU", CASE(c), ea_kernel_name(r.kernel), name);
            ea_fill_sentinel(got, pr.params.dtype, n);
            EA_ASSERT_OK(ea_run_cuda(&r, &pr, &hb, got));
            if (cpu_comparable(r.kernel))
                ea_assert_outputs(what, &pr, &hb, got, want);
            const int64_t want_waits = ea_step_expected_waits(r.step, hb.batch.bs);
            if (r.waits != want_waits)
                fail_msg("%s: %lld host waits, expected %lld", what, (long long)r.waits, (long long)want_waits);
            ea_fill_sentinel(again, pr.params.dtype, n);
            EA_ASSERT_OK(ea_run_cuda(&r, &pr, &hb, again));
            snprintf(what, sizeof what, "%s, %s kernel, %s: run twice", CASE(c), ea_kernel_name(r.kernel), name);
            ea_assert_outputs(what, &pr, &hb, again, got);
        }
        free(want), free(got), free(again);
        ea_test_batch_free(&pr, &hb);
    }
}

/* Kernel 6 computes a 64-pair block with one CTA or with two of 32 pairs (it picks two for bf16
 * batches with fewer blocks than SMs), with one or two buffers of K and V (two where they keep the
 * CTAs an SM holds, or where there are fewer CTAs than SMs; asked for two where they do not fit in
 * shared memory, f32 with head dims over 128, the kernel runs one again), and a CTA computes one
 * block or, where a request has more blocks than the grid has CTAs along them, several one after
 * another; its CTAs take the blocks in the grid's order or in the plan's (the batch's longest
 * blocks first): the same tiles in the same order for every pair, so the same bits, on every case and dtype (whole outputs, sentinel-filled
 * first: a block the plan's list left out would stay a sentinel), and those of the CPU reference
 * of the order where the model holds. */
static void test_tc_split_changes_no_bit(void **state)
{
    (void)state;
    NEED_GPU();
    /* and the block rule of DESIGN.md 6.2 (case -1): rows 0..15 (t = 48..63) see tile 0 only, rows
     * 16..31 tile 1 too, where V holds an infinity; the block computes tile 1 for all of them, so
     * rows 0..15 get 0 * inf = NaN, also in the CTA of their own when split in two */
    static const char *const block_rule = "name=split_block bs=1 extend=32 prefix=48 hq=4 hkv=2 d=16";
    for (int c = -1; c < NCASES; c++) {
        ea_problem pr;
        ea_host_batch hb;
        ea_test_batch(c < 0 ? block_rule : CASE(c), &pr, &hb);
        if (c < 0) /* KV head 0, value dimension 3 of key 70 */
            ((float *)pr.v_pool)[(ea_test_key_slot(&hb, 0, 70) * 2 + 0) * 16 + 3] = INFINITY;
        const int64_t n = ea_test_out_elems(&pr, &hb);
        ea_dev_batch *db;
        ea_plan plan;
        EA_ASSERT_OK(ea_cuda_batch_upload(ctx, &hb.batch, &pr.params, &hb.in, &db));
        EA_ASSERT_OK(ea_cuda_plan_create(ctx, db, &plan));
        EA_ASSERT_OK(ea_cuda_plan_build(ctx, db, EA_SYNC_DEVICE, &plan));
        /* (warps to a row block, CTAs per block, buffers of K and V, most CTAs along a request's
         * blocks, the plan's block order): two warps, one CTA per block with one buffer each in the
         * grid's order, then two CTAs, two buffers, both; then grids a CTA of which loops over every
         * block, or every third; then the plan's order (longest block first); then four warps (with
         * two buffers) in one and two CTAs, in each order */
        static const int geometry[][5] = {{2, 1, 1, 0, 0}, {2, 2, 1, 0, 0}, {2, 1, 2, 0, 0}, {2, 2, 2, 0, 0},
                                          {2, 1, 1, 1, 0}, {2, 2, 2, 3, 0}, {2, 1, 2, 1, 0}, {2, 1, 1, 0, 1},
                                          {2, 2, 2, 0, 1}, {2, 1, 2, 0, 1}, {4, 1, 2, 0, 0}, {4, 2, 2, 0, 0},
                                          {4, 2, 2, 3, 0}, {4, 1, 2, 0, 1}, {4, 2, 2, 0, 1}};
        enum { GEOMETRIES = sizeof geometry / sizeof geometry[0] };
        assert_int_equal(plan.ordered, 1); /* every build lists the blocks */
        void *got[GEOMETRIES];
        for (int k = 0; k < GEOMETRIES; k++) {
            got[k] = malloc(hb.o_bytes + 1);
            EA_ASSERT_OK(ea_cuda_poison_output(ctx, db));
            EA_ASSERT_OK(ea_cuda_test_tc_split(ctx, db, &plan, geometry[k][0], geometry[k][1], geometry[k][2],
                                               geometry[k][3], geometry[k][4]));
            EA_ASSERT_OK(ea_cuda_download_output(ctx, db, got[k]));
        }
        if (c < 0) { /* a geometry the kernel does not have is refused */
            EA_ASSERT_ERR(ea_cuda_test_tc_split(ctx, db, &plan, 3, 1, 2, 0, 0), EA_ERR_ARG, "row_warps is 3");
            EA_ASSERT_ERR(ea_cuda_test_tc_split(ctx, db, &plan, 4, 1, 1, 0, 0), EA_ERR_ARG, "two buffers");
            EA_ASSERT_ERR(ea_cuda_test_tc_split(ctx, db, &plan, 2, 3, 1, 0, 0), EA_ERR_ARG, "ctas_per_block is 3");
            EA_ASSERT_ERR(ea_cuda_test_tc_split(ctx, db, &plan, 2, 1, 0, 0, 0), EA_ERR_ARG, "stages is 0");
            EA_ASSERT_ERR(ea_cuda_test_tc_split(ctx, db, &plan, 2, 1, 1, 65536, 0), EA_ERR_ARG, "not 0..65535");
            EA_ASSERT_ERR(ea_cuda_test_tc_split(ctx, db, &plan, 2, 1, 1, 1, 1), EA_ERR_ARG, "block order");
        }
        char what[512];
        const char *line = c < 0 ? block_rule : CASE(c);
        for (int k = 1; k < GEOMETRIES; k++) {
            char along[40] = "as many as blocks";
            if (geometry[k][3])
                snprintf(along, sizeof along, "%d", geometry[k][3]);
            snprintf(what, sizeof what,
                     "%s: tc kernel, %d warps to a row block, %d CTA(s) per block, %d buffer(s) of K and V, CTAs along "
                     "the blocks: %s, %s order; against two warps, one CTA per block and one buffer",
                     line, geometry[k][0], geometry[k][1], geometry[k][2], along,
                     geometry[k][4] ? "the plan's" : "the grid's");
            ea_assert_bits(got[k], got[0], pr.params.dtype, n, what);
        }
        if (cpu_comparable(EA_KERNEL_TC)) {
            void *want = cpu_output_of(&pr, &hb, EA_KERNEL_TC);
            snprintf(what, sizeof what, "%s: tc kernel, one CTA per block and one buffer, against the CPU", line);
            ea_assert_bits(got[0], want, pr.params.dtype, n, what);
            free(want);
        }
        for (int k = 0; k < GEOMETRIES; k++)
            free(got[k]);
        ea_cuda_plan_free(&plan);
        ea_cuda_batch_free(db);
        ea_test_batch_free(&pr, &hb);
    }
    EA_ASSERT_ERR(ea_cuda_test_tc_split(ctx, NULL, NULL, 2, 1, 1, 0, 0), EA_ERR_NULL, "required");
}

/* The tc kernel's fast probabilities round like ea_expf on every float they can be given: every x <= 0
 * and every NaN (x = S - m, with m the max of the scores). */
static void test_tc_fast_probabilities(void **state)
{
    (void)state;
    NEED_GPU();
    if (UNDER_SANITIZER) {
        print_message("skipped under compute-sanitizer: 2^32 threads; a plain run proves it\n");
        skip();
    }
    uint64_t bad = 1, exact = 0;
    uint32_t max_ulps = 0;
    EA_ASSERT_OK(ea_cuda_check_tc_probabilities(ctx, &bad, &exact, &max_ulps));
    print_message("tc probabilities: %llu of the inputs (every x <= 0, every NaN) take the exact path, %llu differ; the fast value is at "
                  "most %u ulps from ea_expf\n",
                  (unsigned long long)exact, (unsigned long long)bad, max_ulps);
    assert_int_equal(bad, 0);
    assert_true(max_ulps > 0); /* ex2.approx is not exact: a zero here means the check measured nothing */
}

/* The tc kernel's epilogue division, a reciprocal per row and three instructions per element, gives
 * the correctly rounded quotient on every x mantissa against 32,768 divisor mantissas, and at the
 * ends of the range of exponents where the kernel uses it. */
static void test_tc_division(void **state)
{
    (void)state;
    NEED_GPU();
    if (UNDER_SANITIZER) {
        print_message("skipped under compute-sanitizer: 5.7 x 10^11 quotients; a plain run proves it\n");
        skip();
    }
    uint64_t bad = 1;
    EA_ASSERT_OK(ea_cuda_check_tc_division(ctx, &bad));
    print_message("tc division: %llu of 5.7 x 10^11 quotients differ from the correctly rounded ones\n", (unsigned long long)bad);
    assert_int_equal(bad, 0);
}

/* Index arrays of a strategy against the CPU builder's, element by element: the first difference named. */
static void same_ints(const char *strategy, const char *array, const void *got, const void *want, int64_t n, size_t size)
{
    for (int64_t x = 0; x < n; x++) {
        const long long g = size == 4 ? ((const int32_t *)got)[x] : ((const int64_t *)got)[x];
        const long long w = size == 4 ? ((const int32_t *)want)[x] : ((const int64_t *)want)[x];
        if (g != w)
            fail_msg("%s strategy: %s[%lld] expected %lld (CPU builder), got %lld", strategy, array, (long long)x, w, g);
    }
}

/* The plan's block list (kernels/block_order.cu) against what it must be, computed here on its own:
 * every (request, block) pair of the batch exactly once, and none before one that walks more key
 * tiles (causal, no window or mask: block x of request i, counted from its end, walks the tiles up
 * to its last row's last key, P_i + r_hi). */
static void assert_block_order(const char *strategy, const ea_batch *b, const int32_t *prefix_lens, int32_t G,
                               const int32_t *order)
{
    int64_t n = 0;
    int32_t *seen = calloc((size_t)b->bs * 64, sizeof *seen); /* [request][block]: at most 64 blocks here */
    for (int32_t i = 0; i < b->bs; i++)
        n += ((int64_t)b->extend_seq_lens[i] * G + EA_TC_BLOCK_PAIRS - 1) / EA_TC_BLOCK_PAIRS;
    if (order[0] != n)
        fail_msg("%s strategy: the block list has %d blocks, the batch %lld", strategy, order[0], (long long)n);
    int32_t before = INT32_MAX;
    for (int64_t k = 0; k < n; k++) {
        const int32_t i = order[1 + 2 * k], x = order[2 + 2 * k];
        const int32_t pairs = i >= 0 && i < b->bs ? b->extend_seq_lens[i] * G : 0;
        const int32_t blocks = (pairs + EA_TC_BLOCK_PAIRS - 1) / EA_TC_BLOCK_PAIRS;
        if (i < 0 || i >= b->bs || x < 0 || x >= blocks || blocks > 64 || seen[i * 64 + x]++)
            fail_msg("%s strategy: place %lld of the block list holds (request %d, block %d): not a block of the "
                     "batch, or one listed twice", strategy, (long long)k, i, x);
        const int32_t last_pair = (blocks - x) * EA_TC_BLOCK_PAIRS - 1 < pairs - 1 ? (blocks - x) * EA_TC_BLOCK_PAIRS - 1
                                                                                  : pairs - 1;
        const int32_t tiles = (prefix_lens[i] + last_pair / G) / EA_TILE + 1;
        if (tiles > before)
            fail_msg("%s strategy: place %lld of the block list walks %d key tiles, more than the place before (%d)",
                     strategy, (long long)k, tiles, before);
        before = tiles;
    }
    free(seen);
}

/* The three strategies build the same unified indices as the CPU builder, and the same block list. */
static void test_indices_match(void **state)
{
    (void)state;
    NEED_GPU();
    ea_problem pr;
    ea_host_batch hb;
    ea_test_batch("name=idx bs=37 extend=rand:0:70 prefix=rand:0:300 hq=2 hkv=1 d=8", &pr, &hb);
    ea_unified cpu;
    EA_ASSERT_OK(ea_unified_build(&hb.batch, &pr.params, &cpu));
    ea_dev_batch *db;
    EA_ASSERT_OK(ea_cuda_batch_upload(ctx, &hb.batch, &pr.params, &hb.in, &db));
    ea_plan plan;
    EA_ASSERT_OK(ea_cuda_plan_create(ctx, db, &plan));
    int32_t *indptr = malloc(sizeof(int32_t) * 38), *plens = malloc(sizeof(int32_t) * 37);
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)plan.capacity);
    int32_t *order = malloc(sizeof(int32_t) * (1 + 2 * (size_t)plan.order_capacity));
    for (int s = 0; s < EA_SYNC_COUNT; s++) {
        if (left_out((ea_sync)s))
            continue;
        EA_ASSERT_OK(ea_cuda_plan_poison(ctx, &plan)); /* nothing left from the strategy before */
        EA_ASSERT_OK(ea_cuda_plan_build(ctx, db, (ea_sync)s, &plan));
        EA_ASSERT_OK(ea_cuda_plan_download(ctx, &plan, 37, indptr, idx, plens));
        const char *name = ea_sync_name((ea_sync)s);
        same_ints(name, "unified_kv_indptr", indptr, cpu.unified_kv_indptr, 38, sizeof(int32_t));
        same_ints(name, "prefix_lens", plens, cpu.prefix_lens, 37, sizeof(int32_t));
        same_ints(name, "unified_kv_indices", idx, cpu.unified_kv_indices, cpu.unified_kv_indptr[37], sizeof(int64_t));
        memset(order, 0xff, sizeof(int32_t) * (1 + 2 * (size_t)plan.order_capacity));
        EA_ASSERT_OK(ea_cuda_test_block_order(ctx, &plan, order));
        assert_block_order(name, &hb.batch, cpu.prefix_lens, pr.params.hq / pr.params.hkv, order);
        memset(indptr, 0xff, sizeof(int32_t) * 38);
        memset(idx, 0xff, sizeof(int64_t) * (size_t)plan.capacity);
    }
    free(indptr), free(plens), free(idx), free(order);
    ea_cuda_plan_free(&plan);
    ea_cuda_batch_free(db);
    ea_unified_free(&cpu);
    ea_test_batch_free(&pr, &hb);
}

/* Plan once, run many layers: same bits as plan + run each time, and no waits. */
static void test_plan_once_run_many(void **state)
{
    (void)state;
    NEED_GPU();
    ea_problem pr;
    ea_host_batch hb;
    ea_test_batch("name=layers bs=5 extend=rand:1:80 prefix=rand:0:200 hq=4 hkv=2 d=64 dtype=bf16", &pr, &hb);
    const int64_t n = ea_test_out_elems(&pr, &hb);
    void *want = cpu_output(&pr, &hb), *got = malloc(hb.o_bytes + 1);
    ea_dev_batch *db;
    ea_plan plan;
    EA_ASSERT_OK(ea_cuda_set_kernel(ctx, EA_KERNEL_CANONICAL)); /* the context keeps the last runner's kernel */
    EA_ASSERT_OK(ea_cuda_batch_upload(ctx, &hb.batch, &pr.params, &hb.in, &db));
    EA_ASSERT_OK(ea_cuda_plan_create(ctx, db, &plan));
    EA_ASSERT_OK(ea_cuda_plan_build(ctx, db, strategy_or_other(EA_SYNC_BATCHED), &plan));
    for (int layer = 0; layer < 3; layer++) {
        EA_ASSERT_OK(ea_cuda_poison_output(ctx, db));
        ea_cuda_reset_waits(ctx);
        EA_ASSERT_OK(ea_cuda_queue_busy(ctx, 20000)); /* other work of the layer */
        EA_ASSERT_OK(ea_cuda_run(ctx, db, &plan));
        assert_int_equal(ea_cuda_host_waits(ctx), 0);
        EA_ASSERT_OK(ea_cuda_download_output(ctx, db, got));
        ea_assert_bits(got, want, pr.params.dtype, n, "plan once, run per layer");
    }
    free(want), free(got);
    ea_cuda_plan_free(&plan);
    ea_cuda_batch_free(db);
    ea_test_batch_free(&pr, &hb);
}

/* Batch invariance and prefix-split invariance, checked on the GPU itself. */
static void test_gpu_invariances(void **state)
{
    const ea_kernel k = *(const ea_kernel *)*state;
    NEED_GPU();
    for (int c = 0; c < NCASES; c++) {
        ea_problem pr;
        ea_host_batch hb;
        ea_test_batch(CASE(c), &pr, &hb);
        ea_cuda_runner r = {.ctx = ctx, .step = EA_STEP_DEVICE, .kernel = k};
        void *o = malloc(hb.o_bytes + 1);
        EA_ASSERT_OK(ea_run_cuda(&r, &pr, &hb, o));
        char what[200];
        snprintf(what, sizeof what, "%s, %s kernel, GPU", CASE(c), ea_kernel_name(r.kernel));
        ea_assert_invariances(what, &pr, ea_run_cuda, &r, &hb, o);
        free(o);
        ea_test_batch_free(&pr, &hb);
    }
}

/* NaN and infinities in q/k/v are data: GPU and CPU treat them identically, in every kernel. */
static void test_nonfinite_inputs(void **state)
{
    const ea_kernel k = *(const ea_kernel *)*state;
    NEED_GPU();
    /* four inputs: NaN/inf scattered (Dqk 16, then 7: padding must never read past dqk), the
     * block rule of DESIGN.md 6.2 pinned as in tests/test_tc_reference.c (inf in V at key 66, which
     * block 1 computes for rows 32 and 33 although they do not see it), and NaN/inf scattered where
     * every row is past key 63 (the tc kernel's warps see tile 0 whole: its path without per-key
     * tests) */
    static const char *const lines[] = {"name=nan bs=2 extend=40 prefix=30 hq=4 hkv=2 d=16 cap=3",
                                        "name=nan7 bs=2 extend=70 prefix=30 hq=4 hkv=2 dqk=7 dv=5",
                                        "name=block bs=1 extend=70 prefix=30 hq=4 hkv=2 d=16 seed=11",
                                        "name=nan_whole bs=1 extend=100 prefix=70 hq=4 hkv=2 d=16"};
    for (int c = 0; c < 4; c++) {
        ea_problem pr;
        ea_host_batch hb;
        if (c != 2) {
            ea_test_nonfinite_batch(lines[c], &pr, &hb);
        } else { /* the block rule: KV head 0, value dimension 3 of key 66 */
            ea_test_batch(lines[c], &pr, &hb);
            ((float *)pr.v_pool)[(ea_test_key_slot(&hb, 0, 66) * 2 + 0) * 16 + 3] = INFINITY;
        }
        if (cpu_comparable(k)) {
            void *want = cpu_output_of(&pr, &hb, k), *got = malloc(hb.o_bytes + 1);
            ea_cuda_runner r = {.ctx = ctx, .step = (ea_step)strategy_or_other(EA_SYNC_BATCHED), .kernel = k};
            char what[160];
            snprintf(what, sizeof what, "%s, %s kernel", lines[c], ea_kernel_name(r.kernel));
            ea_fill_sentinel(got, EA_F32, ea_test_out_elems(&pr, &hb));
            EA_ASSERT_OK(ea_run_cuda(&r, &pr, &hb, got));
            ea_assert_bits(got, want, EA_F32, ea_test_out_elems(&pr, &hb), what);
            free(want), free(got);
        }
        ea_test_batch_free(&pr, &hb);
    }
}

/* Errors: invalid batch before any allocation, too large an allocation, an impossible launch. */
static void test_error_paths(void **state)
{
    (void)state;
    NEED_GPU();
    if (UNDER_SANITIZER) {
        print_message("skipped under compute-sanitizer: this test provokes CUDA errors on purpose\n");
        skip();
    }
    ea_problem pr;
    ea_host_batch hb;
    ea_test_batch("name=err bs=2 extend=20 prefix=10 hq=2 hkv=1 d=16", &pr, &hb);

    ea_dev_batch *db = (ea_dev_batch *)(uintptr_t)0x42;
    hb.extend_kv_indices[hb.extend_start_loc[0] + 3] = pr.pool_size; /* request 0's new key 3: outside the pool */
    EA_ASSERT_ERR(ea_cuda_batch_upload(ctx, &hb.batch, &pr.params, &hb.in, &db), EA_ERR_SLOT, "request 0: new key 3");
    assert_ptr_equal(db, (ea_dev_batch *)(uintptr_t)0x42);
    hb.extend_kv_indices[hb.extend_start_loc[0] + 3] = 0;

    void *huge = (void *)(uintptr_t)1;
    EA_ASSERT_ERR(ea_cuda_malloc(ctx, (size_t)1 << 50, &huge), EA_ERR_NOMEM, "cannot allocate");
    assert_null(huge);

    /* an impossible shared-memory request: a status, the output untouched, the context still usable */
    EA_ASSERT_OK(ea_cuda_set_kernel(ctx, EA_KERNEL_CANONICAL));
    EA_ASSERT_ERR(ea_cuda_set_kernel(ctx, (ea_kernel)0), EA_ERR_ARG, "unknown kernel 0");
    EA_ASSERT_ERR(ea_cuda_set_kernel(ctx, (ea_kernel)(EA_KERNEL_LAST + 1)), EA_ERR_ARG, "unknown kernel 7");
    EA_ASSERT_OK(ea_cuda_batch_upload(ctx, &hb.batch, &pr.params, &hb.in, &db));
    ea_plan plan;
    EA_ASSERT_OK(ea_cuda_plan_create(ctx, db, &plan));
    EA_ASSERT_OK(ea_cuda_plan_build(ctx, db, EA_SYNC_DEVICE, &plan));
    EA_ASSERT_OK(ea_cuda_poison_output(ctx, db));
    EA_ASSERT_ERR(ea_cuda_test_bad_launch(ctx, db, &plan), EA_ERR_CUDA, "failed");
    const int64_t n = ea_test_out_elems(&pr, &hb);
    void *got = malloc(hb.o_bytes + 1), *want = cpu_output(&pr, &hb);
    EA_ASSERT_OK(ea_cuda_download_output(ctx, db, got));
    assert_int_equal(ea_compare_bits(got, got, EA_F32, n).sentinels, n);
    /* what no launch could do: refused before one is queued (the output stays poisoned) */
    ea_dev_batch odd = *db;
    odd.q = (char *)db->q + 4;
    EA_ASSERT_ERR(ea_cuda_run(ctx, &odd, &plan), EA_ERR_ARG, "16-byte boundaries");
    ea_plan wide = plan;
    odd = *db, odd.bs = wide.bs = 65536;
    EA_ASSERT_ERR(ea_cuda_run(ctx, &odd, &wide), EA_ERR_DIM, "65536 requests");
    EA_ASSERT_OK(ea_cuda_download_output(ctx, db, got));
    assert_int_equal(ea_compare_bits(got, got, EA_F32, n).sentinels, n);
    EA_ASSERT_OK(ea_cuda_run(ctx, db, &plan));
    EA_ASSERT_OK(ea_cuda_download_output(ctx, db, got));
    ea_assert_bits(got, want, EA_F32, n, "after a failed launch");

    EA_ASSERT_ERR(ea_cuda_plan_build(ctx, db, (ea_sync)7, &plan), EA_ERR_ARG, "unknown sync strategy 7");
    ea_cuda_runner bad_step = {.ctx = ctx, .step = (ea_step)9};
    EA_ASSERT_ERR(ea_run_cuda(&bad_step, &pr, &hb, got), EA_ERR_ARG, "unknown step 9");

    /* a plan that does not fit: too few requests, or made in another context */
    ea_plan small = plan;
    small.bs = 1;
    EA_ASSERT_ERR(ea_cuda_plan_build(ctx, db, EA_SYNC_DEVICE, &small), EA_ERR_PLAN, "too small for the batch");
    EA_ASSERT_ERR(ea_cuda_run(ctx, db, &small), EA_ERR_PLAN, "the plan has 1 requests, the batch 2");
    int32_t indptr[4], plens[3];
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)plan.capacity);
    EA_ASSERT_ERR(ea_cuda_plan_download(ctx, &plan, 3, indptr, idx, plens), EA_ERR_PLAN, "3 asked for");
    free(idx);
    ea_cuda_ctx *other;
    EA_ASSERT_OK(ea_cuda_create(&other));
    /* the host strategies use the context's scratch, which ea_cuda_plan_create() sized in `ctx` only */
    EA_ASSERT_ERR(ea_cuda_plan_build(other, db, EA_SYNC_PER_REQUEST, &plan), EA_ERR_PLAN, "not created in this context");
    EA_ASSERT_ERR(ea_cuda_plan_build(other, db, EA_SYNC_BATCHED, &plan), EA_ERR_PLAN, "not created in this context");
    assert_int_equal(ea_cuda_host_waits(other), 0);
    ea_cuda_destroy(other);
    free(got), free(want);
    ea_cuda_plan_free(&plan);
    ea_cuda_batch_free(db);
    ea_test_batch_free(&pr, &hb);
}

/* The kernel table (no GPU needed): numbers and names read back, each kernel's CPU reference,
 * and words that are no kernel refused with the list. */
static void test_kernel_table(void **state)
{
    (void)state;
    const char *const names[] = {"naive", "smem_tiles", "gqa_blocking", "vector_gathers", "bitmasks", "tc"};
    assert_int_equal(EA_KERNEL_LAST - EA_KERNEL_FIRST + 1, sizeof names / sizeof *names);
    for (int k = EA_KERNEL_FIRST; k <= EA_KERNEL_LAST; k++) {
        char number[4];
        snprintf(number, sizeof number, "%d", k);
        ea_kernel got = (ea_kernel)0;
        EA_ASSERT_OK(ea_kernel_parse(number, &got));
        assert_int_equal(got, k);
        got = (ea_kernel)0;
        EA_ASSERT_OK(ea_kernel_parse(names[k - 1], &got));
        assert_int_equal(got, k);
        assert_string_equal(ea_kernel_name(k), names[k - 1]);
        assert_ptr_equal(ea_kernel_reference(k),
                         k == EA_KERNEL_TC ? ea_reference_tc : ea_reference_canonical);
    }
    ea_kernel got = (ea_kernel)0;
    EA_ASSERT_OK(ea_kernel_parse("canonical", &got));
    assert_int_equal(got, EA_KERNEL_BITMASKS);
    const char *const bad[] = {"0", "7", "", "tc ", "Naive", "55"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        got = (ea_kernel)3;
        EA_ASSERT_ERR(ea_kernel_parse(bad[k], &got), EA_ERR_ARG, "1 naive, 2 smem_tiles");
        assert_int_equal(got, 3); /* unchanged */
    }
    assert_string_equal(ea_kernel_name((ea_kernel)0), "unknown");
    assert_string_equal(ea_kernel_name((ea_kernel)(EA_KERNEL_LAST + 1)), "unknown");
    assert_null(ea_kernel_reference((ea_kernel)0));
    assert_null(ea_kernel_reference((ea_kernel)(EA_KERNEL_LAST + 1)));
}

/* Runs everywhere: without a device, creating a context is a clean status, never a crash. */
static void test_no_device_is_a_status(void **state)
{
    (void)state;
    if (ctx)
        skip(); /* this one is about machines without a GPU */
    ea_cuda_ctx *c = (ea_cuda_ctx *)(uintptr_t)0x7;
    ea_status st = ea_cuda_create(&c);
    assert_true(st == EA_ERR_NO_DEVICE || st == EA_ERR_NOT_BUILT);
    assert_ptr_equal(c, (ea_cuda_ctx *)(uintptr_t)0x7);
    assert_true(strlen(ea_last_error()) > 0);
}

/* The tests that run once per numbered kernel: six entries each, the kernel as the test's state,
 * so a kernel that fails does not hide how the next ones do. */
static const ea_kernel KERNELS[] = {EA_KERNEL_NAIVE,          EA_KERNEL_SMEM_TILES, EA_KERNEL_GQA_BLOCKING,
                                    EA_KERNEL_VECTOR_GATHERS, EA_KERNEL_BITMASKS,   EA_KERNEL_TC};
_Static_assert(sizeof KERNELS / sizeof *KERNELS == EA_KERNEL_LAST - EA_KERNEL_FIRST + 1, "one entry per kernel");
#define ONE_KERNEL(test, n) {#test ", kernel " #n, test, NULL, NULL, (void *)&KERNELS[(n) - 1]}
#define PER_KERNEL(test)                                                                                         \
    ONE_KERNEL(test, 1), ONE_KERNEL(test, 2), ONE_KERNEL(test, 3), ONE_KERNEL(test, 4), ONE_KERNEL(test, 5),      \
        ONE_KERNEL(test, 6)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_table),          cmocka_unit_test(test_step_table),
        cmocka_unit_test(test_no_device_is_a_status),
        PER_KERNEL(test_strategies_match_cpu),
        cmocka_unit_test(test_indices_match),         cmocka_unit_test(test_plan_once_run_many),
        PER_KERNEL(test_gpu_invariances),
        PER_KERNEL(test_nonfinite_inputs),
        cmocka_unit_test(test_error_paths),           cmocka_unit_test(test_tc_fast_probabilities), cmocka_unit_test(test_tc_division),
        cmocka_unit_test(test_tc_split_changes_no_bit),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
