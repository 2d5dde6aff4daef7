/* The case-file parser (good and bad lines), the generator (same seed, same
 * bytes) and the default case file's coverage of every feature. */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include "test_util.h"

static void test_parse_defaults_and_keys(void **state)
{
    (void)state;
    const char *text = "# comment line\n"
                       "\n"
                       "name=a bs=2 extend=5   # trailing comment\n"
                       "name=b bs=3 extend=1,2,3 prefix=rand:4:9 hq=16 hkv=4 dqk=96 dv=64 dtype=bf16 causal=0 "
                       "window=7 cap=2.5 sinks=1 mask=rand seed=18446744073709551615 slots=linear\r\n";
    ea_case *c;
    int n;
    EA_ASSERT_OK(ea_cases_parse(text, &c, &n));
    assert_int_equal(n, 2);
    assert_string_equal(c[0].name, "a");
    assert_int_equal(c[0].line, 3);
    assert_int_equal(c[0].bs, 2);
    assert_int_equal(c[0].extend.kind, EA_LEN_ALL);
    assert_int_equal(c[0].extend.lo, 5);
    assert_int_equal(c[0].prefix.lo, 0);
    assert_int_equal(c[0].hq, 8);
    assert_int_equal(c[0].hkv, 2);
    assert_int_equal(c[0].dqk, 128);
    assert_int_equal(c[0].dv, 128);
    assert_int_equal(c[0].dtype, EA_F32);
    assert_int_equal(c[0].causal, 1);
    assert_int_equal(c[0].window, -1);
    assert_true(c[0].cap == 0.0f);
    assert_int_equal(c[0].seed, 1);
    assert_int_equal(c[0].slots_linear, 0);

    assert_int_equal(c[1].line, 4);
    assert_int_equal(c[1].extend.kind, EA_LEN_LIST);
    assert_int_equal(c[1].extend.list[2], 3);
    assert_int_equal(c[1].prefix.kind, EA_LEN_RAND);
    assert_int_equal(c[1].prefix.lo, 4);
    assert_int_equal(c[1].prefix.hi, 9);
    assert_int_equal(c[1].dqk, 96);
    assert_int_equal(c[1].dv, 64);
    assert_int_equal(c[1].dtype, EA_BF16);
    assert_int_equal(c[1].causal, 0);
    assert_int_equal(c[1].window, 7);
    assert_true(c[1].cap == 2.5f);
    assert_int_equal(c[1].sinks, 1);
    assert_int_equal(c[1].mask, 1);
    assert_true(c[1].seed == UINT64_MAX);
    assert_int_equal(c[1].slots_linear, 1);
    free(c);
}

/* Each bad line: EA_ERR_PARSE, the message names the line and the key, outputs untouched. */
static void test_parse_bad_lines(void **state)
{
    (void)state;
    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"name=a extend=1", "line 1: key 'bs': required"},
        {"bs=1 extend=1", "line 1: key 'name': required"},
        {"name=a bs=1", "line 1: key 'extend': required"},
        {"name=a bs=0 extend=1", "line 1: key 'bs'"},
        {"name=a bs=x extend=1", "line 1: key 'bs'"},
        {"name=a bs=2 extend=1,2,3", "line 1: key 'extend': has 3 values for bs=2"},
        {"name=a bs=1 extend=rand:5:2", "line 1: key 'extend'"},
        {"name=a bs=1 extend=-1", "line 1: key 'extend'"},
        {"name=a bs=1 extend=1 prefix=1,", "line 1: key 'prefix'"},
        {"# ok\nname=a bs=1 extend=1 hq=8 hkv=3", "line 2: key 'hkv'"},
        {"name=a bs=1 extend=1 d=257", "line 1: key 'd'"},
        {"name=a bs=1 extend=1 d=64 dv=64", "line 1: key 'd'"},
        {"name=a bs=1 extend=1 dqk=64", "line 1: key 'dv'"},
        {"name=a bs=1 extend=1 dtype=f16", "line 1: key 'dtype'"},
        {"name=a bs=1 extend=1 causal=2", "line 1: key 'causal'"},
        {"name=a bs=1 extend=1 window=-2", "line 1: key 'window'"},
        {"name=a bs=1 extend=1 cap=nan", "line 1: key 'cap'"},
        {"name=a bs=1 extend=1 cap=-1", "line 1: key 'cap'"},
        {"name=a bs=1 extend=1 mask=some", "line 1: key 'mask'"},
        {"name=a bs=1 extend=1 seed=-4", "line 1: key 'seed'"},
        {"name=a bs=1 extend=1 slots=random", "line 1: key 'slots'"},
        {"name=a bs=1 extend=1 colour=red", "line 1: unknown key 'colour'"},
        {"name=a bs=1 extend=1 junk", "line 1: expected key=value"},
        {"name=a/b bs=1 extend=1", "line 1: key 'name'"},
        {"name=a bs=1 extend=1\nname=a bs=1 extend=2", "line 2: key 'name': 'a' already used on line 1"},
        {"# nothing\n\n", "no cases"},
        {"name=a bs=1 extend=99999999999", "line 1: key 'extend'"},
        {"name=a bs=1 extend=1 bs=2", "line 1: key 'bs': given twice"},
        {"name=a bs=1 extend=1 name=b", "line 1: key 'name': given twice"},
        {"name=a bs=2 extend=1,2 extend=3", "line 1: key 'extend': given twice"},
        {"name=a bs=1 extend=1 d=8 d=8", "line 1: key 'd': given twice"},
        {"name=a bs=1 extend=1\rname=a bs=1 extend=2", "line 2: key 'name': 'a' already used on line 1"},
        {"name=a bs=1 extend=1\r\n\r\nname=b bs=1 extend=x", "line 3: key 'extend'"},
        {"name=a bs=1 extend=1\n\rname=b bs=0 extend=1", "line 3: key 'bs'"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        ea_case *c = (ea_case *)(uintptr_t)0x1234;
        int n = -7;
        ea_status st = ea_cases_parse(bad[k].text, &c, &n);
        if (st != EA_ERR_PARSE || !strstr(ea_last_error(), bad[k].needle))
            fail_msg("'%s': got %s '%s', expected '%s'", bad[k].text, ea_status_str(st), ea_last_error(),
                     bad[k].needle);
        assert_ptr_equal(c, (ea_case *)(uintptr_t)0x1234);
        assert_int_equal(n, -7);
    }
}

/* LF, CRLF and a lone CR all end a line, and count as one line each. */
static void test_line_endings(void **state)
{
    (void)state;
    static const char *const texts[] = {"name=a bs=1 extend=1\nname=b bs=2 extend=3,4\n",
                                        "name=a bs=1 extend=1\r\nname=b bs=2 extend=3,4\r\n",
                                        "name=a bs=1 extend=1\rname=b bs=2 extend=3,4\r",
                                        "name=a bs=1 extend=1\r\nname=b bs=2 extend=3,4"};
    for (size_t k = 0; k < sizeof texts / sizeof *texts; k++) {
        ea_case *c;
        int n;
        EA_ASSERT_OK(ea_cases_parse(texts[k], &c, &n));
        assert_int_equal(n, 2);
        assert_string_equal(c[1].name, "b");
        assert_int_equal(c[1].line, 2);
        assert_int_equal(c[1].extend.count, 2);
        assert_int_equal(c[1].extend.list[1], 4);
        free(c);
    }
}

/* Lists are stored with exactly bs values, in the one block the caller frees. */
static void test_lists_sized_by_bs(void **state)
{
    (void)state;
    ea_case *c;
    int n;
    EA_ASSERT_OK(ea_cases_parse("name=a bs=3 extend=5,6,7 prefix=1,2,3\nname=b bs=1 extend=9\n"
                                "name=c bs=2 extend=1 prefix=8,9",
                                &c, &n));
    assert_int_equal(n, 3);
    const char *block = (const char *)c, *end = block + sizeof(ea_case) * 3 + sizeof(int32_t) * 8;
    const int32_t *want[] = {c[0].extend.list, c[0].prefix.list, c[2].prefix.list};
    for (int k = 0; k < 3; k++)
        assert_true((const char *)want[k] >= block + sizeof(ea_case) * 3 && (const char *)want[k] < end);
    assert_null(c[1].extend.list);
    assert_null(c[1].prefix.list);
    assert_int_equal(c[0].prefix.list[2], 3);
    assert_int_equal(c[2].prefix.list[0], 8);
    assert_int_equal(c[2].extend.lo, 1);
    free(c);
}

/* A file of many cases parses (the count is capped, and the cap is enforced, not a crash). */
static void test_case_count_cap(void **state)
{
    (void)state;
    const int n_lines = EA_CASE_MAX_COUNT + 1;
    char *text = malloc((size_t)n_lines * 32 + 1), *w = text, *last = text;
    for (int k = 0; k < n_lines; k++) {
        last = w;
        w += sprintf(w, "name=c%d bs=1 extend=1\n", k);
    }
    ea_case *c;
    int n;
    char msg[64];
    snprintf(msg, sizeof msg, "line %d: more than %d cases", n_lines, EA_CASE_MAX_COUNT);
    EA_ASSERT_ERR(ea_cases_parse(text, &c, &n), EA_ERR_PARSE, msg);
    *last = 0; /* the last case gone: exactly at the cap */
    EA_ASSERT_OK(ea_cases_parse(text, &c, &n));
    assert_int_equal(n, EA_CASE_MAX_COUNT);
    assert_string_equal(c[n - 1].name, "c262143");
    free(c);
    free(text);
}

/* The size cap says what it enforces: a file of exactly the limit is read, one byte more is not. */
static void test_file_size_cap(void **state)
{
    (void)state;
    char path[] = "/tmp/ea_cases_XXXXXX";
    const int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    static char blanks[1 << 16];
    memset(blanks, ' ', sizeof blanks);
    for (size_t k = 0; k < EA_CASE_MAX_FILE_BYTES / sizeof blanks; k++)
        assert_int_equal(fwrite(blanks, 1, sizeof blanks, f), sizeof blanks);
    fflush(f);
    ea_case *c;
    int n;
    EA_ASSERT_ERR(ea_cases_load(path, &c, &n), EA_ERR_PARSE, "no cases"); /* read whole, then parsed */
    fputc(' ', f);
    fclose(f);
    EA_ASSERT_ERR(ea_cases_load(path, &c, &n), EA_ERR_IO, "larger than 64 MiB (67108864 bytes)");
    unlink(path);
}

static void test_load_missing_file(void **state)
{
    (void)state;
    ea_case *c;
    int n;
    EA_ASSERT_ERR(ea_cases_load("/nonexistent/x.cases", &c, &n), EA_ERR_IO, "/nonexistent/x.cases");
}

/* The generator: same case, same bytes; another seed, other bytes; lengths and slots as promised. */
static void test_generator_deterministic(void **state)
{
    (void)state;
    ea_case *c;
    int n;
    EA_ASSERT_OK(ea_cases_parse("name=g bs=5 extend=rand:1:40 prefix=rand:0:90 hq=4 hkv=2 d=16 mask=rand sinks=1 "
                                "seed=77\nname=h bs=5 extend=rand:1:40 prefix=rand:0:90 hq=4 hkv=2 d=16 seed=78",
                                &c, &n));
    ea_problem a, b, other;
    EA_ASSERT_OK(ea_problem_make(&c[0], &a));
    EA_ASSERT_OK(ea_problem_make(&c[0], &b));
    EA_ASSERT_OK(ea_problem_make(&c[1], &other));
    assert_memory_equal(a.seq_lens, b.seq_lens, sizeof(int32_t) * 5);
    assert_memory_equal(a.slots, b.slots, sizeof(int64_t) * (size_t)a.seq_start[5]);
    assert_memory_equal(a.k_pool, b.k_pool, sizeof(float) * (size_t)(a.pool_size * 2 * 16));
    assert_memory_equal(a.sinks, b.sinks, sizeof(float) * 4);
    assert_true(memcmp(a.k_pool, other.k_pool, sizeof(float) * 64) != 0);

    /* lengths in range, every slot distinct and inside the pool */
    char *seen = calloc((size_t)a.pool_size, 1);
    for (int i = 0; i < 5; i++) {
        int32_t E = a.seq_lens[i] - a.prefix_lens[i];
        assert_in_range(E, 1, 40);
        assert_in_range(a.prefix_lens[i], 0, 90);
    }
    for (int64_t k = 0; k < a.seq_start[5]; k++) {
        assert_in_range(a.slots[k], 0, a.pool_size - 1);
        assert_int_equal(seen[a.slots[k]], 0);
        seen[a.slots[k]] = 1;
    }
    free(seen);
    ea_problem_free(&a);
    ea_problem_free(&b);
    ea_problem_free(&other);
    free(c);
}

/* The default case file parses and covers every feature and edge the design names. */
static void test_default_cases_cover_everything(void **state)
{
    (void)state;
    ea_case *c;
    int n;
    EA_ASSERT_OK(ea_cases_load(EA_SOURCE_DIR "/tests/cases/default.cases", &c, &n));
    int bs1 = 0, e1 = 0, p0 = 0, long_prefix = 0, ratio[9] = {0}, d64 = 0, d80 = 0, d128 = 0, d256 = 0;
    int dqk_ne_dv = 0, window = 0, cap = 0, sinks = 0, mask = 0, bf16 = 0, non_causal = 0, seed_shape = 0;
    for (int k = 0; k < n; k++) {
        ea_problem pr;
        EA_ASSERT_OK(ea_problem_make(&c[k], &pr));
        for (int i = 0; i < pr.bs; i++) {
            e1 |= pr.seq_lens[i] - pr.prefix_lens[i] == 1;
            p0 |= pr.prefix_lens[i] == 0;
            long_prefix |= pr.prefix_lens[i] > 2000;
        }
        ea_problem_free(&pr);
        bs1 |= c[k].bs == 1;
        if (c[k].hq / c[k].hkv <= 8)
            ratio[c[k].hq / c[k].hkv] = 1;
        d64 |= c[k].dqk == 64;
        d80 |= c[k].dqk == 80;
        d128 |= c[k].dqk == 128;
        d256 |= c[k].dqk == 256 || c[k].dv == 256;
        dqk_ne_dv |= c[k].dqk != c[k].dv;
        window |= c[k].window >= 0;
        cap |= c[k].cap > 0;
        sinks |= c[k].sinks;
        mask |= c[k].mask;
        bf16 |= c[k].dtype == EA_BF16;
        non_causal |= !c[k].causal;
        seed_shape |= c[k].bs == 32 && c[k].extend.kind == EA_LEN_ALL && c[k].extend.lo == 256 &&
                      c[k].prefix.kind == EA_LEN_RAND && c[k].prefix.lo == 0 && c[k].prefix.hi == 512 &&
                      c[k].hq == 8 && c[k].hkv == 2 && c[k].dqk == 128 && c[k].dtype == EA_BF16;
    }
    free(c);
    assert_true(bs1 && e1 && p0 && long_prefix);
    assert_true(ratio[1] && ratio[4] && ratio[8]);
    assert_true(d64 && d80 && d128 && d256 && dqk_ne_dv);
    assert_true(window && cap && sinks && mask && bf16 && non_causal && seed_shape);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_defaults_and_keys),     cmocka_unit_test(test_parse_bad_lines),
        cmocka_unit_test(test_line_endings),                cmocka_unit_test(test_lists_sized_by_bs),
        cmocka_unit_test(test_case_count_cap),              cmocka_unit_test(test_file_size_cap),
        cmocka_unit_test(test_load_missing_file),           cmocka_unit_test(test_generator_deterministic),
        cmocka_unit_test(test_default_cases_cover_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
