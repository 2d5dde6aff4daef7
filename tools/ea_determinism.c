#define _POSIX_C_SOURCE 200809L /* clock_gettime */
/* ea-determinism: the determinism test of SGLang's deterministic inference, on this project's
 * backends.
 *
 *   build/bin/ea-determinism [--samples N] [--seed S] [--backend cpu|gpu|all]
 *
 * SGLang measured determinism by sending four prompts, with cached prefixes of 1, 511, 2048 and
 * 4097 tokens, about 300 times each among other traffic, and counting the distinct outputs:
 * "Prompt 1 with prefix length 511: total samples: 304, Unique samples: 1". Here one sample is one
 * extend step of one attention layer:
 *
 *   the prompt    L shared tokens (L = 1, 511, 2048, 4097) and a QUESTION-token question: fixed
 *                 q, k and v for each of its T = L + QUESTION positions;
 *   the split     a radix cache holds the first P tokens: P uniform in [max(0, L - EVICTED), T - 1]
 *                 (the shared prefix, perhaps with its last tokens evicted, perhaps with part of
 *                 the question cached by an earlier request); the other E = T - P tokens are new,
 *                 and their K/V are written to freshly drawn pool slots, as a server does;
 *   the traffic   0 to MAX_OTHERS other requests of random lengths, the prompt at a random place
 *                 among them: every sample is a different batch;
 *   the output    the prompt's last token's output row (all heads), hashed; then a fixed random
 *                 output projection (VOCAB rows) applied to that row: its logits, hashed, and the
 *                 greedy next token, their argmax. Differing bits in the row become differing
 *                 logits; whether they also change the token depends on how close the two best
 *                 logits are (the tool counts both).
 *
 * Backends: the CPU canonical reference, the two-stage design (reference/two_stage.c, which must
 * show more than one unique output: the problem the unified design solves), and, where there is a
 * GPU, the canonical kernel and the tensor-core kernel (device strategy). The shapes are small
 * (HQ, HKV, D below) so that the CPU part runs in well under a minute on 2 cores: determinism
 * is about the order of operations, which these shapes exercise as fully as big ones do (every
 * prompt spans many 64-key tiles, and the split moves the tile boundaries of a two-stage pass).
 *
 * Exit status: 0 when every unified backend run gives one unique output per prompt and the
 * two-stage design more than one for every prompt; 1 otherwise; 2 bad arguments. */
#include "ea.h"
#include "ea_cases.h" /* ea_splitmix64: the project's PRNG */
#include "ea_cuda.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HQ 4
#define HKV 1
#define D 32           /* Dqk = Dv */
#define QUESTION 32    /* tokens of each prompt after its shared prefix */
#define EVICTED 64     /* at most this many of the shared prefix's last tokens are not cached */
#define MAX_OTHERS 7   /* other requests in a sample's batch */
#define OTHER_MAX_P 256
#define OTHER_MAX_E 32
#define VOCAB 4096     /* rows of the output projection */
#define NPROMPTS 4

static const int32_t SHARED[NPROMPTS] = {1, 511, 2048, 4097};

/* The pool: each prompt's home slots (where its cached tokens live), then free slots that new
 * tokens are written to. Row x of a [slots, HKV, D] tensor holds one token. */
typedef struct {
    int64_t home[NPROMPTS];  /* first home slot of each prompt */
    int64_t free_begin;      /* first free slot */
    int64_t pool_size;
    float *k_pool, *v_pool;  /* [pool, HKV, D] */
    float *k_src[NPROMPTS];  /* [T, HKV, D] each prompt's keys and values by position */
    float *v_src[NPROMPTS];
    float *q_src[NPROMPTS];  /* [T, HQ, D] */
    float *w_out;            /* [VOCAB, HQ * D] the output projection */
} world;

/* One sample: a batch with the prompt at position `at`. */
typedef struct {
    int32_t bs, at, P, E;
    int32_t qo_indptr[MAX_OTHERS + 2], prefix_kv_indptr[MAX_OTHERS + 2];
    int32_t extend_start_loc[MAX_OTHERS + 1], extend_seq_lens[MAX_OTHERS + 1];
    int64_t *prefix_kv_indices, *extend_kv_indices;
    float *q, *o; /* [N, HQ, D] */
    ea_batch batch;
} sample;

static int32_t prompt_len(int j) { return SHARED[j] + QUESTION; }

/* uniform in [-1, 1) from 24 random bits */
static float uniform(uint64_t *s) { return (float)(ea_splitmix64(s) >> 40) * 0x1p-23f - 1.0f; }

static void fill(float *x, int64_t n, uint64_t *s)
{
    for (int64_t k = 0; k < n; k++)
        x[k] = uniform(s);
}

static int world_make(world *w, uint64_t seed)
{
    memset(w, 0, sizeof *w);
    int64_t slot = 0;
    for (int j = 0; j < NPROMPTS; j++) {
        w->home[j] = slot;
        slot += prompt_len(j);
    }
    w->free_begin = slot;
    w->pool_size = slot + QUESTION + EVICTED + MAX_OTHERS * (OTHER_MAX_P + OTHER_MAX_E);
    w->k_pool = malloc(sizeof(float) * (size_t)(w->pool_size * HKV * D));
    w->v_pool = malloc(sizeof(float) * (size_t)(w->pool_size * HKV * D));
    w->w_out = malloc(sizeof(float) * VOCAB * HQ * D);
    if (!w->k_pool || !w->v_pool || !w->w_out)
        return 0;
    uint64_t s = seed;
    for (int j = 0; j < NPROMPTS; j++) {
        const int64_t T = prompt_len(j);
        w->k_src[j] = malloc(sizeof(float) * (size_t)(T * HKV * D));
        w->v_src[j] = malloc(sizeof(float) * (size_t)(T * HKV * D));
        w->q_src[j] = malloc(sizeof(float) * (size_t)(T * HQ * D));
        if (!w->k_src[j] || !w->v_src[j] || !w->q_src[j])
            return 0;
        fill(w->k_src[j], T * HKV * D, &s);
        fill(w->v_src[j], T * HKV * D, &s);
        fill(w->q_src[j], T * HQ * D, &s);
        /* the home slots hold the prompt's tokens in position order */
        memcpy(w->k_pool + w->home[j] * HKV * D, w->k_src[j], sizeof(float) * (size_t)(T * HKV * D));
        memcpy(w->v_pool + w->home[j] * HKV * D, w->v_src[j], sizeof(float) * (size_t)(T * HKV * D));
    }
    fill(w->w_out, VOCAB * HQ * D, &s);
    return 1;
}

static void world_free(world *w)
{
    for (int j = 0; j < NPROMPTS; j++)
        free(w->k_src[j]), free(w->v_src[j]), free(w->q_src[j]);
    free(w->k_pool), free(w->v_pool), free(w->w_out);
}

static int32_t draw(uint64_t *s, int32_t lo, int32_t hi) /* uniform in [lo, hi] */
{
    return lo + (int32_t)(ea_splitmix64(s) % (uint64_t)(hi - lo + 1));
}

/* Sample number n of prompt j: the same batch for every backend (its own seed). Writes the new
 * tokens' K/V into the free slots it draws. Returns 0 when out of memory. */
static int sample_make(world *w, int j, int n, uint64_t seed, sample *sm)
{
    uint64_t s = seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(j * 100003 + n + 1));
    memset(sm, 0, sizeof *sm);
    const int32_t T = prompt_len(j);
    sm->bs = 1 + draw(&s, 0, MAX_OTHERS);
    sm->at = draw(&s, 0, sm->bs - 1);
    sm->P = draw(&s, SHARED[j] > EVICTED ? SHARED[j] - EVICTED : 0, T - 1);
    sm->E = T - sm->P;
    int32_t P[MAX_OTHERS + 1], E[MAX_OTHERS + 1];
    int64_t nprefix = 0, N = 0;
    for (int32_t i = 0; i < sm->bs; i++) {
        P[i] = i == sm->at ? sm->P : draw(&s, 0, OTHER_MAX_P);
        E[i] = i == sm->at ? sm->E : draw(&s, 1, OTHER_MAX_E);
        nprefix += P[i];
        N += E[i];
    }
    sm->prefix_kv_indices = malloc(sizeof(int64_t) * (size_t)(nprefix + 1));
    sm->extend_kv_indices = malloc(sizeof(int64_t) * (size_t)N);
    sm->q = malloc(sizeof(float) * (size_t)(N * HQ * D));
    sm->o = malloc(sizeof(float) * (size_t)(N * HQ * D));
    if (!sm->prefix_kv_indices || !sm->extend_kv_indices || !sm->q || !sm->o)
        return 0;
    /* free slots in a random order: a partial Fisher-Yates shuffle over the free region */
    const int64_t nfree = w->pool_size - w->free_begin;
    int64_t *order = malloc(sizeof(int64_t) * (size_t)nfree), taken = 0;
    if (!order)
        return 0;
    for (int64_t x = 0; x < nfree; x++)
        order[x] = w->free_begin + x;
    sm->qo_indptr[0] = sm->prefix_kv_indptr[0] = 0;
    for (int32_t i = 0; i < sm->bs; i++) {
        sm->qo_indptr[i + 1] = sm->qo_indptr[i] + E[i];
        sm->prefix_kv_indptr[i + 1] = sm->prefix_kv_indptr[i] + P[i];
        sm->extend_start_loc[i] = sm->qo_indptr[i];
        sm->extend_seq_lens[i] = E[i];
        if (E[i] > sm->batch.max_extend_len)
            sm->batch.max_extend_len = E[i];
        for (int32_t u = 0; u < P[i] + E[i]; u++) {
            int64_t slot;
            if (i == sm->at && u < P[i]) {
                slot = w->home[j] + u; /* cached: where the radix cache keeps it */
            } else {
                const int64_t pick = taken + (int64_t)(ea_splitmix64(&s) % (uint64_t)(nfree - taken));
                slot = order[pick];
                order[pick] = order[taken];
                order[taken++] = slot;
                float *k = w->k_pool + slot * HKV * D, *v = w->v_pool + slot * HKV * D;
                if (i == sm->at) { /* the prompt's new token u: its K/V written to a fresh slot */
                    memcpy(k, w->k_src[j] + (int64_t)u * HKV * D, sizeof(float) * HKV * D);
                    memcpy(v, w->v_src[j] + (int64_t)u * HKV * D, sizeof(float) * HKV * D);
                } else { /* another request's token: any data */
                    fill(k, HKV * D, &s);
                    fill(v, HKV * D, &s);
                }
            }
            if (u < P[i])
                sm->prefix_kv_indices[sm->prefix_kv_indptr[i] + u] = slot;
            else
                sm->extend_kv_indices[sm->qo_indptr[i] + u - P[i]] = slot;
        }
        float *q = sm->q + (int64_t)sm->qo_indptr[i] * HQ * D;
        if (i == sm->at)
            memcpy(q, w->q_src[j] + (int64_t)P[i] * HQ * D, sizeof(float) * (size_t)E[i] * HQ * D);
        else
            fill(q, (int64_t)E[i] * HQ * D, &s);
    }
    free(order);
    sm->batch.bs = sm->bs;
    sm->batch.pool_size = w->pool_size;
    sm->batch.qo_indptr = sm->qo_indptr;
    sm->batch.prefix_kv_indptr = sm->prefix_kv_indptr;
    sm->batch.prefix_kv_indices = sm->prefix_kv_indices;
    sm->batch.num_prefix_indices = nprefix;
    sm->batch.extend_start_loc = sm->extend_start_loc;
    sm->batch.extend_seq_lens = sm->extend_seq_lens;
    sm->batch.extend_kv_indices = sm->extend_kv_indices;
    return 1;
}

static void sample_free(sample *sm)
{
    free(sm->prefix_kv_indices), free(sm->extend_kv_indices), free(sm->q), free(sm->o);
}

/* A backend computes o for a sample's batch. */
typedef struct {
    const char *name;
    int unified;           /* 1: must give one unique output; 0: the two-stage design */
    ea_cuda_ctx *gpu;      /* NULL for the CPU ones */
    ea_kernel kernel;
    ea_status (*cpu)(const ea_batch *, const ea_params *, const ea_inputs *, void *);
} backend;

static ea_status run(const backend *be, const world *w, const ea_params *p, sample *sm)
{
    const ea_inputs in = {sm->q, w->k_pool, w->v_pool};
    if (!be->gpu)
        return be->cpu(&sm->batch, p, &in, sm->o);
    ea_dev_batch *db;
    ea_status st = ea_cuda_batch_upload(be->gpu, &sm->batch, p, &in, &db);
    if (st != EA_OK)
        return st;
    if ((st = ea_cuda_set_kernel(be->gpu, be->kernel)) == EA_OK &&
        (st = ea_cuda_extend(be->gpu, db, EA_SYNC_DEVICE)) == EA_OK)
        st = ea_cuda_download_output(be->gpu, db, sm->o);
    ea_cuda_batch_free(db);
    return st;
}

/* FNV-1a over n floats' bytes: bits in, a 64-bit name out. */
static uint64_t hash_floats(const float *x, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char *b = (const unsigned char *)x;
    for (size_t k = 0; k < sizeof(float) * n; k++)
        h = (h ^ b[k]) * 0x100000001b3ull;
    return h;
}

/* What the output projection makes of one row. */
typedef struct {
    uint64_t logits_hash; /* all VOCAB logits, hashed */
    int32_t token;        /* the greedy next token: their argmax */
    float top, lead;      /* its logit, and by how much it beats the runner-up */
} next;

static next next_token(const float *w_out, const float *row)
{
    static float logits[VOCAB];
    next nx = {0, 0, -INFINITY, INFINITY};
    float second = -INFINITY;
    for (int32_t v = 0; v < VOCAB; v++) {
        float logit = 0.0f;
        for (int x = 0; x < HQ * D; x++) /* one fmaf chain per logit */
            logit = fmaf(w_out[(int64_t)v * HQ * D + x], row[x], logit);
        logits[v] = logit;
        if (logit > nx.top)
            second = nx.top, nx.top = logit, nx.token = v;
        else if (logit > second)
            second = logit;
    }
    nx.logits_hash = hash_floats(logits, VOCAB);
    nx.lead = nx.top - second;
    return nx;
}

static int cmp_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int64_t unique(uint64_t *v, int64_t n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_u64);
    int64_t u = n > 0;
    for (int64_t k = 1; k < n; k++)
        u += v[k] != v[k - 1];
    return u;
}

/* Every prompt, every sample, on one backend; prints SGLang's line per prompt. Returns 1 when the
 * backend behaved as its design says (unified: 1 unique output; two-stage: more than 1), 0 if
 * not, -1 on an error. */
static int measure(const backend *be, world *w, const ea_params *p, int samples, uint64_t seed)
{
    uint64_t *hashes = malloc(sizeof(uint64_t) * (size_t)samples);
    uint64_t *tokens = malloc(sizeof(uint64_t) * (size_t)samples);
    uint64_t *logits = malloc(sizeof(uint64_t) * (size_t)samples);
    if (!hashes || !tokens || !logits) {
        free(hashes), free(tokens), free(logits);
        return -1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    printf("%s\n", be->name);
    int ok = 1;
    for (int j = 0; j < NPROMPTS && ok >= 0; j++) {
        int32_t first_token = -1;
        float top_min = 0, top_max = 0, lead_min = 0;
        for (int n = 0; n < samples; n++) {
            sample sm;
            ea_status st = sample_make(w, j, n, seed, &sm) ? run(be, w, p, &sm) : EA_ERR_NOMEM;
            if (st != EA_OK) {
                printf("  error: prompt %d, sample %d: %s: %s\n", j + 1, n, ea_status_str(st), ea_last_error());
                sample_free(&sm);
                ok = -1;
                break;
            }
            const float *row = sm.o + ((int64_t)sm.qo_indptr[sm.at] + sm.E - 1) * HQ * D;
            const next nx = next_token(w->w_out, row);
            hashes[n] = hash_floats(row, HQ * D);
            logits[n] = nx.logits_hash;
            tokens[n] = (uint64_t)nx.token;
            if (n == 0)
                first_token = nx.token, top_min = top_max = nx.top, lead_min = nx.lead;
            top_min = fminf(top_min, nx.top), top_max = fmaxf(top_max, nx.top), lead_min = fminf(lead_min, nx.lead);
            sample_free(&sm);
        }
        if (ok < 0)
            break;
        const int64_t u = unique(hashes, samples), ul = unique(logits, samples), ut = unique(tokens, samples);
        printf("Prompt %d with prefix length %d: total samples: %d, Unique samples: %lld", j + 1, SHARED[j],
               samples, (long long)u);
        printf("\n    logits: %lld unique, the top one spread over %.2g; next token: ", (long long)ul,
               (double)(top_max - top_min));
        if (ut == 1)
            printf("always %d, ahead by at least %.2g\n", first_token, (double)lead_min);
        else
            printf("%lld different ones\n", (long long)ut);
        if (be->unified ? u != 1 : u < 2)
            ok = 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("  (%.1f s)\n", (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    free(hashes), free(tokens), free(logits);
    return ok;
}

static int usage(void)
{
    fprintf(stderr, "usage: ea-determinism [--samples N (>= 2, default 300)] [--seed S] [--backend cpu|gpu|all]\n");
    return 2;
}

int main(int argc, char **argv)
{
    int samples = 300, want_cpu = 1, want_gpu = 1;
    uint64_t seed = 1;
    for (int a = 1; a < argc; a++) {
        char *end = NULL;
        if (!strcmp(argv[a], "--samples") && a + 1 < argc) {
            const long n = strtol(argv[++a], &end, 10);
            if (*end || n < 2 || n > 1000000)
                return usage();
            samples = (int)n;
        } else if (!strcmp(argv[a], "--seed") && a + 1 < argc) {
            seed = strtoull(argv[++a], &end, 0);
            if (*end)
                return usage();
        } else if
 (!strcmp(argv[a], "--backend") && a + 1 < argc) {
            const char *b = argv[++a];
            want_cpu = !strcmp(b, "cpu") || !strcmp(b, "all");
            want_gpu = !strcmp(b, "gpu") || !strcmp(b, "all");
            if (!want_cpu && !want_gpu)
                return usage();
        } else
            return usage();
    }

    world w;
    if (!world_make(&w, seed)) {
        fprintf(stderr, "ea-determinism: out of memory\n");
        world_free(&w);
        return 1;
    }
    const ea_params p = ea_params_default(HQ, HKV, D, D);
    printf("ea-determinism: %d prompts x %d samples, each sample in its own random batch; seed %llu\n"
           "  layer: Hq=%d Hkv=%d d=%d f32, causal; prompt = shared prefix of L tokens + %d question tokens;\n"
           "  cached part P uniform in [max(0, L-%d), L+%d], new tokens to fresh slots; 0-%d other requests;\n"
           "  output: the prompt's last row, hashed; logits: a fixed random %dx%d projection of it; next token: argmax\n\n",
           NPROMPTS, samples, (unsigned long long)seed, HQ, HKV, D, QUESTION, EVICTED, QUESTION - 1, MAX_OTHERS,
           VOCAB, HQ * D);

    int failed = 0;
    if (want_cpu) {
        const backend cpu[] = {
            {"CPU canonical (reference/canonical.c)", 1, NULL, EA_KERNEL_CANONICAL, ea_reference_canonical},
            {"CPU two-stage (reference/two_stage.c: prefix pass, extend pass, merge)", 0, NULL, EA_KERNEL_CANONICAL,
             ea_reference_two_stage},
        };
        for (int b = 0; b < 2; b++)
            failed |= measure(&cpu[b], &w, &p, samples, seed) != 1;
    }
    if (want_gpu) {
        ea_cuda_ctx *ctx = NULL;
        if (ea_cuda_create(&ctx) != EA_OK) {
            printf("GPU canonical kernel and GPU tensor-core kernel: skipped: %s\n", ea_last_error());
        } else {
            const backend gpu[] = {
                {"GPU canonical kernel (kernels/attention/5_bitmasks.cu, device strategy)", 1, ctx, EA_KERNEL_CANONICAL, NULL},
                {"GPU tensor-core kernel (kernels/attention/6_tensor_cores.cu, device strategy)", 1, ctx, EA_KERNEL_TC, NULL},
            };
            for (int b = 0; b < 2; b++)
                failed |= measure(&gpu[b], &w, &p, samples, seed) != 1;
            ea_cuda_destroy(ctx);
        }
    }
    printf("\n%s\n", failed ? "FAIL: a unified backend gave more than one output, or the two-stage design only one"
                            : "PASS: one output per prompt from every unified backend; the two-stage design varies");
    world_free(&w);
    return failed;
}
