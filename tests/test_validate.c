/* Validation (DESIGN.md section 4): one test per error kind. Each starts
 * from a valid batch, breaks one thing, and checks the specific status, that
 * the message names the request and values, and that no output was written. */
#include "test_util.h"

#include <math.h>

typedef struct {
    ea_problem pr;
    ea_host_batch hb;
    ea_params p;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    ea_test_problem("name=v bs=3 extend=4,5,6 prefix=2,0,7 hq=4 hkv=2 d=8 mask=rand", &f->pr);
    EA_ASSERT_OK(ea_host_batch_make(&f->pr, NULL, 0, NULL, &f->hb));
    f->p = f->pr.params;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ea_host_batch_free(&f->hb);
    ea_problem_free(&f->pr);
    free(f);
    return 0;
}

/* Expects `st` from validation, and that the reference then leaves its output untouched. */
static void expect(fixture *f, ea_status st, const char *needle)
{
    EA_ASSERT_ERR(ea_validate(&f->hb.batch, &f->p), st, needle);
    const int64_t n = ea_test_out_elems(&f->pr, &f->hb);
    ea_fill_sentinel(f->hb.o, f->p.dtype, n);
    EA_ASSERT_ERR(ea_reference_canonical(&f->hb.batch, &f->p, &f->hb.in, f->hb.o), st, needle);
    ea_diff d = ea_compare_bits(f->hb.o, f->hb.o, f->p.dtype, n);
    assert_int_equal(d.sentinels, n); /* every element still the sentinel: nothing written */
    ea_unified u = {0};
    EA_ASSERT_ERR(ea_unified_build(&f->hb.batch, &f->p, &u), st, needle);
    assert_null(u.unified_kv_indices);
}

static void test_valid_batch_passes(void **state)
{
    fixture *f = *state;
    EA_ASSERT_OK(ea_validate(&f->hb.batch, &f->p));
}

static void test_null(void **state)
{
    fixture *f = *state;
    EA_ASSERT_ERR(ea_validate(NULL, &f->p), EA_ERR_NULL, "NULL");
    f->hb.batch.qo_indptr = NULL;
    expect(f, EA_ERR_NULL, "qo_indptr");
}

static void test_dims(void **state)
{
    fixture *f = *state;
    f->p.dqk = 0;
    expect(f, EA_ERR_DIM, "dqk=0");
    f->p.dqk = 8;
    f->p.dv = EA_MAX_HEAD_DIM + 1;
    expect(f, EA_ERR_DIM, "dv=257");
    f->p.dv = 8;
    f->p.hq = 0;
    expect(f, EA_ERR_DIM, "hq=0");
    f->p.hq = 4;
    f->hb.batch.bs = 0;
    expect(f, EA_ERR_DIM, "bs");
}

static void test_heads_ratio(void **state)
{
    fixture *f = *state;
    f->p.hkv = 3;
    expect(f, EA_ERR_HEADS, "hq=4 is not a multiple of hkv=3");
}

static void test_scalars(void **state)
{
    fixture *f = *state;
    f->p.sm_scale = NAN;
    expect(f, EA_ERR_SCALAR, "sm_scale");
    f->p.sm_scale = INFINITY;
    expect(f, EA_ERR_SCALAR, "sm_scale");
    f->p.sm_scale = 0.5f;
    f->p.logit_cap = INFINITY;
    expect(f, EA_ERR_SCALAR, "logit_cap");
    f->p.logit_cap = -1.0f;
    expect(f, EA_ERR_SCALAR, "logit_cap");
    f->p.logit_cap = 0.0f;
    f->p.sliding_window = -2;
    expect(f, EA_ERR_SCALAR, "sliding_window");
}

static void test_counts_disagree(void **state)
{
    fixture *f = *state;
    f->hb.extend_seq_lens[1] = 4;
    expect(f, EA_ERR_COUNT, "request 1: extend_seq_lens=4 but qo_indptr gives 5");
    f->hb.extend_seq_lens[1] = 5;
    f->hb.batch.max_extend_len = 5;
    expect(f, EA_ERR_COUNT, "max_extend_len=5");
    f->hb.batch.max_extend_len = 6;
    const int32_t start = f->hb.extend_start_loc[2];
    f->hb.extend_start_loc[2] = 10; /* 10 + 6 > N = 15 */
    expect(f, EA_ERR_COUNT, "request 2: extend_start_loc=10");
    f->hb.extend_start_loc[2] = start;
    f->hb.batch.num_prefix_indices = 8; /* prefix_kv_indptr ends at 9 */
    expect(f, EA_ERR_COUNT, "num_prefix_indices=8");
}

static void test_indptr_decreases(void **state)
{
    fixture *f = *state;
    f->hb.prefix_kv_indptr[2] = 1; /* 2 -> 1 */
    expect(f, EA_ERR_INDPTR, "request 1: prefix_kv_indptr decreases (2 -> 1)");
    f->hb.prefix_kv_indptr[2] = 2;
    f->hb.qo_indptr[0] = -1;
    expect(f, EA_ERR_INDPTR, "qo_indptr[0]");
    f->hb.qo_indptr[0] = 0;
    f->hb.prefix_kv_indptr[0] = -3;
    expect(f, EA_ERR_INDPTR, "prefix_kv_indptr[0]");
}

static void test_slot_outside_pool(void **state)
{
    fixture *f = *state;
    const int64_t pool = f->hb.batch.pool_size;
    f->hb.prefix_kv_indices[3] = pool; /* request 2's second prefix key */
    expect(f, EA_ERR_SLOT, "request 2: prefix key 1 has slot");
    f->hb.prefix_kv_indices[3] = 0;
    f->hb.extend_kv_indices[f->hb.extend_start_loc[1]] = -1; /* request 1's first new key */
    expect(f, EA_ERR_SLOT, "request 1: new key 0 has slot -1");
}

static void test_mask(void **state)
{
    fixture *f = *state;
    f->hb.mask_indptr[1] -= 1;
    expect(f, EA_ERR_MASK, "request 0: mask has 23 entries, E x (P+E) = 4 x 6 = 24");
    f->hb.mask_indptr[1] += 1;
    f->hb.batch.mask_size -= 1;
    expect(f, EA_ERR_MASK, "mask_size");
    f->hb.batch.mask_size += 1;
    f->hb.batch.mask_indptr = NULL;
    expect(f, EA_ERR_NULL, "mask_indptr");
}

/* Sizes past the limits are caught before any array is read: these batches
 * point at arrays far shorter than they claim, and ASan would see a read. */
static void test_overflow(void **state)
{
    fixture *f = *state;
    int32_t qo[2] = {0, 1 << 28}, zero[2] = {0, 0}, lens[1] = {1 << 28}, start[1] = {0};
    int64_t one_slot[1] = {0};
    ea_batch b = {.bs = 1, .pool_size = 1, .qo_indptr = qo, .prefix_kv_indptr = zero,
                  .extend_start_loc = start, .extend_seq_lens = lens, .extend_kv_indices = one_slot,
                  .max_extend_len = 1 << 28};
    ea_params p = ea_params_default(8, 2, 128, 128); /* 2^28 * 8 * 128 elements */
    EA_ASSERT_ERR(ea_validate(&b, &p), EA_ERR_OVERFLOW, "N=268435456");
    b.qo_indptr = zero;
    b.extend_seq_lens = start;
    b.max_extend_len = 0;
    b.pool_size = (int64_t)1 << 40;
    EA_ASSERT_ERR(ea_validate(&b, &p), EA_ERR_OVERFLOW, "pool");
    /* unified key count past INT32_MAX: a huge prefix plus 10 new tokens */
    int32_t pre[3] = {0, 2000000000, 2147483647}, qo2[3] = {0, 0, 10}, lens2[2] = {0, 10}, start2[2] = {0, 0};
    int64_t ext[10] = {0};
    ea_batch c = {.bs = 2, .pool_size = 1, .qo_indptr = qo2, .prefix_kv_indptr = pre,
                  .prefix_kv_indices = one_slot, .num_prefix_indices = 2147483647, .extend_start_loc = start2,
                  .extend_seq_lens = lens2, .extend_kv_indices = ext, .max_extend_len = 10};
    p = ea_params_default(1, 1, 1, 1);
    EA_ASSERT_ERR(ea_validate(&c, &p), EA_ERR_OVERFLOW, "request 1: the unified key count passes INT32_MAX");
    (void)f;
}

static void test_status_strings(void **state)
{
    (void)state;
    for (int s = 0; s < EA_STATUS_COUNT; s++)
        assert_true(strlen(ea_status_str((ea_status)s)) > 0);
    assert_string_equal(ea_status_str((ea_status)-1), "unknown status");
    assert_string_equal(ea_status_str(EA_OK), "ok");
}

int main(void)
{
    ea_test_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_batch_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heads_ratio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts_disagree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indptr_decreases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slot_outside_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
        cmocka_unit_test(test_status_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
