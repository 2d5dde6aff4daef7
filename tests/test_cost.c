/* The cost model: what a case costs, known from the case alone, agrees with
 * what the generator then makes; sizes past int64 saturate; the limits refuse
 * with a message that names the need, the limit and the option. */
#include "test_util.h"

/* Visible (row, key) pairs of a batch, counted key by key with the rule of DESIGN.md section 1. */
static int64_t count_visible(const ea_host_batch *hb, const ea_params *p)
{
    const ea_batch *b = &hb->batch;
    int64_t n = 0;
    for (int32_t i = 0; i < b->bs; i++) {
        const int32_t P = b->prefix_kv_indptr[i + 1] - b->prefix_kv_indptr[i], E = b->qo_indptr[i + 1] - b->qo_indptr[i];
        for (int32_t r = 0; r < E; r++)
            for (int32_t u = 0; u < P + E; u++) {
                const int32_t t = P + r;
                int v = b->custom_mask ? b->custom_mask[b->mask_indptr[i] + (int64_t)r * (P + E) + u] != 0
                                       : !p->causal || u <= t;
                n += v && (p->sliding_window < 0 || t - u <= p->sliding_window);
            }
    }
    return n;
}

static void test_cost_matches_the_problem(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "name=a bs=3 extend=70 prefix=rand:0:130 hq=4 hkv=2 d=16",
        "name=b bs=4 extend=rand:1:90 prefix=rand:0:200 hq=2 hkv=1 d=8 window=17",
        "name=c bs=2 extend=40 prefix=60 causal=0 window=30 d=8",
        "name=d bs=2 extend=40 prefix=60 causal=0 d=8 dtype=bf16",
        "name=e bs=3 extend=rand:1:50 prefix=rand:0:70 mask=rand window=20 d=8 sinks=1",
        "name=f bs=2 extend=33 prefix=rand:0:9 window=0 d=4",
    };
    for (size_t k = 0; k < sizeof lines / sizeof *lines; k++) {
        ea_problem pr;
        ea_host_batch hb;
        ea_test_batch(lines[k], &pr, &hb);
        ea_cost cost;
        EA_ASSERT_OK(ea_case_cost(&pr.spec, &cost));
        assert_int_equal(cost.tokens, pr.seq_start[pr.bs]);
        assert_int_equal(cost.new_tokens, hb.num_tokens);
        assert_int_equal(cost.out_elems, ea_test_out_elems(&pr, &hb));
        const int64_t visible = count_visible(&hb, &pr.params);
        if (pr.spec.mask ? cost.pairs < visible : cost.pairs != visible)
            fail_msg("%s: %lld pairs counted, %lld visible", lines[k], (long long)cost.pairs, (long long)visible);
        assert_true(cost.flop >= cost.pairs * pr.params.hq * 2 * (pr.params.dqk + pr.params.dv));
        const int64_t es = (int64_t)ea_dtype_size(pr.params.dtype);
        assert_true(cost.problem_bytes > es * pr.pool_size * pr.params.hkv * (pr.params.dqk + pr.params.dv));
        assert_true(cost.batch_bytes >= (int64_t)hb.o_bytes * 2);
        ea_test_batch_free(&pr, &hb);
    }
}

/* A list case: the case must keep its list to be costed, and a list of the wrong length is refused. */
static void test_cost_of_lists(void **state)
{
    (void)state;
    ea_case *c;
    int n;
    EA_ASSERT_OK(ea_cases_parse("name=a bs=3 extend=1,70,9 prefix=0,5,130 d=8", &c, &n));
    ea_cost cost;
    EA_ASSERT_OK(ea_case_cost(&c[0], &cost));
    assert_int_equal(cost.tokens, 1 + 70 + 9 + 0 + 5 + 130);
    assert_int_equal(cost.new_tokens, 80);
    assert_int_equal(cost.max_len, 139);
    assert_int_equal(cost.pairs, 1 * 1 + (5 * 70 + 70 * 71 / 2) + (130 * 9 + 9 * 10 / 2));
    c[0].extend.count = 2;
    EA_ASSERT_ERR(ea_case_cost(&c[0], &cost), EA_ERR_COUNT, "extend: 2 values for bs=3");
    free(c);
}

/* The work counts the prefix-split check too: half of a long prefix becomes new rows. */
static void test_cost_counts_the_split_check(void **state)
{
    (void)state;
    ea_case *c;
    int n;
    EA_ASSERT_OK(ea_cases_parse("name=s bs=1 extend=4 prefix=1000 d=8", &c, &n));
    ea_cost cost;
    EA_ASSERT_OK(ea_case_cost(&c[0], &cost));
    assert_int_equal(cost.pairs, 4 * 1000 + 4 * 5 / 2);
    const int64_t split_pairs = 504 * 500 + 504 * 505 / 2; /* rows at 500 .. 1003, causal */
    assert_int_equal(cost.flop, split_pairs * 8 * 2 * 16);
    free(c);
}

/* The largest case the format allows: sizes that do not fit int64 saturate instead of wrapping. */
static void test_cost_saturates(void **state)
{
    (void)state;
    ea_case *c;
    int n;
    EA_ASSERT_OK(ea_cases_parse("name=big bs=1024 extend=65536 prefix=1048576 hq=256 hkv=1 d=256", &c, &n));
    ea_cost cost;
    EA_ASSERT_OK(ea_case_cost(&c[0], &cost));
    assert_true(cost.flop == INT64_MAX);
    assert_true(cost.pairs > 0 && cost.pairs < INT64_MAX);
    assert_true(cost.problem_bytes > ((int64_t)1 << 40));
    const ea_limits lim = {.host_bytes = INT64_MAX, .gflop = 1e300};
    EA_ASSERT_OK(ea_cost_within("big", cost.problem_bytes, 0, 0, &lim));
    free(c);
}

static void test_limits_refuse_with_a_message(void **state)
{
    (void)state;
    const ea_limits lim = {.host_bytes = 2000000000, .device_bytes = 1000000000, .gflop = 50};
    EA_ASSERT_OK(ea_cost_within("x", 2000000000, 1000000000, 50000000000, &lim));
    EA_ASSERT_ERR(ea_cost_within("x", 2000000001, 0, 0, &lim), EA_ERR_LIMIT,
                  "case 'x' needs 2.0 GB of host memory, more than the limit of 2.0 GB (--max-bytes)");
    EA_ASSERT_ERR(ea_cost_within("x", 0, 3000000000, 0, &lim), EA_ERR_LIMIT,
                  "case 'x' needs 3.0 GB of device memory, more than the 1.0 GB free on the GPU");
    EA_ASSERT_ERR(ea_cost_within("x", 0, 0, 60000000000, &lim), EA_ERR_LIMIT,
                  "case 'x' needs 60 GFLOP per attention, more than the limit of 50 (--max-gflop)");
    EA_ASSERT_ERR(ea_cost_within("x", INT64_MAX, 0, 0, &lim), EA_ERR_LIMIT, "needs more than 9.2 EB");
    const ea_limits def = ea_limits_default();
    assert_true(def.host_bytes > 0);
    assert_true(def.host_bytes <= ea_host_memory_available());
    assert_true(def.gflop == EA_DEFAULT_MAX_GFLOP);
}

/* The tools' limit options: suffixes are powers of 1000; a bad value changes nothing. */
static void test_limit_options(void **state)
{
    (void)state;
    ea_limits lim = {.host_bytes = 5, .device_bytes = 0, .gflop = 7};
    assert_int_equal(ea_limits_option("--max-bytes", "2G", &lim), 1);
    assert_int_equal(lim.host_bytes, 2000000000);
    assert_int_equal(ea_limits_option("--max-gflop", "0.5", &lim), 1);
    assert_true(lim.gflop == 0.5);
    assert_int_equal(ea_limits_option("--max-bytes", "1T", &lim), 1);
    assert_int_equal(lim.host_bytes, 1000000000000);
    static const char *const bad[][2] = {{"--max-bytes", "0"},   {"--max-bytes", "-3"},   {"--max-bytes", "2X"},
                                         {"--max-bytes", ""},    {"--max-gflop", "nan"},  {"--max-gflop", "1k"},
                                         {"--max-gflop", "inf"}, {"--max-bytes", NULL}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        assert_int_equal(ea_limits_option(bad[k][0], bad[k][1], &lim), -1);
        assert_int_equal(lim.host_bytes, 1000000000000);
        assert_true(lim.gflop == 0.5);
    }
    assert_int_equal(ea_limits_option("--cases", "x", &lim), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cost_matches_the_problem),
        cmocka_unit_test(test_cost_of_lists),
        cmocka_unit_test(test_cost_counts_the_split_check),
        cmocka_unit_test(test_cost_saturates),
        cmocka_unit_test(test_limits_refuse_with_a_message),
        cmocka_unit_test(test_limit_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
