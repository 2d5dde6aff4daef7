/* The longest request a batch may hold: EA_MAX_UNIFIED keys, two tiles below
 * INT32_MAX. One longer is refused; one that long validates and its last
 * tiles run through the canonical loop without a wrapped index (UBSan, in
 * `make test`, would report one).
 *
 * It costs no memory: the 2^31 prefix slots are one slot (0) repeated, read
 * from an anonymous mapping that is never written, so every page is the
 * kernel's shared zero page. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE */
#include "test_util.h"
#include "ea_internal.h"

#include <sys/mman.h>

typedef struct {
    int64_t *slots; /* [EA_MAX_UNIFIED + 1] zeros, mapped */
    size_t bytes;
    float q[1], k[1], v[1];
    int32_t qo_indptr[2], prefix_kv_indptr[2], extend_start_loc[1], extend_seq_lens[1];
    int64_t extend_kv_indices[1];
    ea_batch b;
    ea_params p;
    ea_inputs in;
} long_request;

static int setup(void **state)
{
    long_request *f = calloc(1, sizeof *f);
    f->bytes = sizeof(int64_t) * (size_t)(EA_MAX_UNIFIED + 1);
    f->slots = mmap(NULL, f->bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (f->slots == MAP_FAILED) {
        free(f);
        return -1;
    }
    f->q[0] = 1.0f, f->k[0] = 0.5f, f->v[0] = 0.25f;
    f->qo_indptr[1] = f->extend_seq_lens[0] = 1; /* one new token, slot 0 like every key */
    f->p = ea_params_default(1, 1, 1, 1);
    f->in = (ea_inputs){f->q, f->k, f->v};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    long_request *f = *state;
    munmap(f->slots, f->bytes);
    free(f);
    return 0;
}

/* A batch of one request with `prefix` cached keys and one new one. */
static const ea_batch *batch_with_prefix(long_request *f, int64_t prefix)
{
    f->prefix_kv_indptr[1] = (int32_t)prefix;
    f->b = (ea_batch){.bs = 1, .pool_size = 1, .qo_indptr = f->qo_indptr, .prefix_kv_indptr = f->prefix_kv_indptr,
                      .prefix_kv_indices = f->slots, .num_prefix_indices = prefix, .extend_start_loc = f->extend_start_loc,
                      .extend_seq_lens = f->extend_seq_lens, .extend_kv_indices = f->extend_kv_indices,
                      .max_extend_len = 1};
    return &f->b;
}

static void test_longer_than_the_cap_refused(void **state)
{
    long_request *f = *state;
    EA_ASSERT_ERR(ea_validate(batch_with_prefix(f, EA_MAX_UNIFIED), &f->p), EA_ERR_OVERFLOW, "INT32_MAX less two tiles");
    EA_ASSERT_ERR(ea_validate(batch_with_prefix(f, INT32_MAX - 1), &f->p), EA_ERR_OVERFLOW, "request 0");
}

/* The last keys of the longest request, through the canonical engine: every one of them is slot 0,
 * so the state after them is exact (70 probabilities of 1, 70 values of 0.25). */
static void test_longest_request_runs(void **state)
{
    long_request *f = *state;
    const ea_batch *b = batch_with_prefix(f, EA_MAX_UNIFIED - 1);
    EA_ASSERT_OK(ea_validate(b, &f->p));
    const int32_t T = (int32_t)EA_MAX_UNIFIED, from = T - 70;
    ea_canon c;
    EA_ASSERT_OK(ea_canon_init(&c, b, &f->p, &f->in));
    ea_canon_begin(&c, 0, 0);
    ea_canon_keys(&c, 0, 0, from, T, from / EA_TILE * EA_TILE);
    assert_true(c.m[0] == 0.5f * f->p.sm_scale);
    assert_true(c.l[0] == 70.0f);
    assert_true(c.acc[0] == 70.0f * 0.25f);
    ea_canon_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_longer_than_the_cap_refused),
        cmocka_unit_test(test_longest_request_runs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
