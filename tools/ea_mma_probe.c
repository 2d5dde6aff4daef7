#define _POSIX_C_SOURCE 200809L /* sysconf */
/* ea-mma-probe: runs the real tensor-core instruction on tiles from every distribution of
 * include/ea_mma_vectors.h and counts, per distribution, the outputs that the CPU model of
 * include/ea_mma.h reproduces bit for bit.
 *
 *   ea-mma-probe [--outputs N] [--dist NAME,...] [--seed S] [--examples K]
 *                [--instruction mma|wgmma|wgmma-a-shared|wgmma-b-mn-major]
 *                [--capture FILE --capture-tiles T]
 *
 * --instruction mma (default): mma.sync.m16n8k16, the instruction kernel 6 uses; wgmma: the same
 *             tiles through Hopper's wgmma.mma_async.m64n64k16 (sm_90a), to learn whether the model
 *             holds for it too, with A in registers and B K-major in shared memory;
 *             wgmma-a-shared: A in shared memory too; wgmma-b-mn-major: B transposed (MN-major),
 *             as V is for O += P V (kernels/wgmma_probe.cu)
 * --outputs   outputs in all, split evenly over the distributions (default 110000000)
 * --seed      the inputs' seed (default: a fresh one, printed)
 * --examples  mismatches printed in full (inputs and both outputs in %a) per distribution (3)
 * --capture   also write the first T tiles of each distribution (default 768) with the GPU's
 *             outputs as a vector file (tests/vectors/, replayed by tests/test_mma.c)
 *
 * Exit status: 0 every output matched; 1 some did not (or the card's architecture is one the
 * model was never verified on); 2 bad arguments; 3 no CUDA device, or --instruction wgmma... on a
 * card that is not sm_90. */
#include "ea.h"
#include "ea_math.h"
#include "ea_kernels.h"
#include "ea_mma.h"
#include "ea_mma_vectors.h"

#include <cuda_runtime_api.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_TILES 32768
#define MAX_EXAMPLES 16

#define CHECK(call)                                                                                 \
    do {                                                                                            \
        cudaError_t e_ = (call);                                                                    \
        if (e_ != cudaSuccess) {                                                                    \
            fprintf(stderr, "ea-mma-probe: %s:%d: %s: %s\n", __FILE__, __LINE__, #call,             \
                    cudaGetErrorString(e_));                                                        \
            exit(1);                                                                                \
        }                                                                                           \
    } while (0)

/* What a float is, for the table of mismatch classes. */
static const char *float_class(uint32_t u)
{
    const uint32_t mag = u & 0x7fffffffu;
    if (mag > 0x7f800000u)
        return "nan";
    if (mag == 0x7f800000u)
        return u >> 31 ? "-inf" : "+inf";
    if (mag == 0)
        return u >> 31 ? "-0" : "+0";
    if (mag < 0x00800000u)
        return "subnormal";
    return mag == 0x7f7fffffu ? "max" : "normal";
}

typedef struct {
    int64_t tile;
    int out;
    uint32_t hw, model;
} mismatch;

/* A slice of one chunk for one thread: draw the inputs, or check the outputs. */
typedef struct {
    ea_mma_dist dist;
    uint64_t seed;
    int64_t first_tile; /* index of the chunk's first tile */
    int64_t lo, hi;     /* tiles of the chunk this thread does */
    ea_mma_tile *tiles;
    uint16_t *A, *Bt;
    float *C;
    const uint32_t *D;
    int check;
    /* results of a check */
    int64_t mismatches;
    int nexamples;
    mismatch examples[MAX_EXAMPLES];
    int64_t classes[8][8];
} slice;

static const char *const class_names[] = {"nan", "+inf", "-inf", "+0", "-0", "subnormal", "max", "normal"};

static int class_index(uint32_t u)
{
    const char *c = float_class(u);
    for (int i = 0; i < 8; i++)
        if (strcmp(c, class_names[i]) == 0)
            return i;
    return 7;
}

static void *work(void *arg)
{
    slice *s = arg;
    for (int64_t i = s->lo; i < s->hi; i++) {
        ea_mma_tile *t = &s->tiles[i];
        if (!s->check) {
            ea_mma_tile_draw(s->dist, s->seed, (uint64_t)(s->first_tile + i), t);
            memcpy(s->A + i * 256, t->A, sizeof t->A);
            memcpy(s->Bt + i * 128, t->Bt, sizeof t->Bt);
            memcpy(s->C + i * 128, t->C, sizeof t->C);
            continue;
        }
        float model[EA_MMA_TILE_OUTPUTS];
        ea_mma_m16n8k16(t->A, t->Bt, t->C, model);
        for (int o = 0; o < EA_MMA_TILE_OUTPUTS; o++) {
            const uint32_t hw = s->D[i * EA_MMA_TILE_OUTPUTS + o], mo = ea_f32_bits(model[o]);
            if (hw == mo)
                continue;
            s->mismatches++;
            s->classes[class_index(hw)][class_index(mo)]++;
            if (s->nexamples < MAX_EXAMPLES)
                s->examples[s->nexamples++] = (mismatch){s->first_tile + i, o, hw, mo};
        }
    }
    return NULL;
}

static int nthreads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* Runs `work` over tiles [0, n) of a chunk on every core. */
static void parallel(const slice *proto, int64_t n, slice *out)
{
    const int T = nthreads();
    pthread_t th[64];
    int started[64];
    for (int i = 0; i < T; i++) {
        out[i] = *proto;
        out[i].lo = n * i / T;
        out[i].hi = n * (i + 1) / T;
        started[i] = pthread_create(&th[i], NULL, work, &out[i]) == 0;
        if (!started[i])
            work(&out[i]); /* no thread to be had: do this share here */
    }
    for (int i = 0; i < T; i++)
        if (started[i])
            pthread_join(th[i], NULL);
}

static void print_example(ea_mma_dist d, uint64_t seed, const mismatch *x)
{
    ea_mma_tile t;
    ea_mma_tile_draw(d, seed, (uint64_t)x->tile, &t);
    const int m = x->out / EA_MMA_N, n = x->out % EA_MMA_N;
    printf("    tile %" PRId64 " D[%d][%d]: hw 0x%08x (%a, %s)  model 0x%08x (%a, %s)\n", x->tile, m, n, x->hw,
           ea_f32_from_bits(x->hw), float_class(x->hw), x->model, ea_f32_from_bits(x->model), float_class(x->model));
    printf("      c = %a (0x%08x)\n      a*b =", t.C[x->out], ea_f32_bits(t.C[x->out]));
    for (int k = 0; k < EA_MMA_K; k++)
        printf(" %a*%a", ea_bf16_to_f32(t.A[m * 16 + k]), ea_bf16_to_f32(t.Bt[n * 16 + k]));
    printf("\n");
}

/* The installed driver's version: the first dotted number after "Module" in the kernel module's
 * version file ("NVRM version: NVIDIA UNIX ... Kernel Module  580.159.04  ..."). */
static void driver_version(char *out, size_t size)
{
    int v = 0;
    cudaDriverGetVersion(&v);
    snprintf(out, size, "unknown (CUDA %d.%d)", v / 1000, v % 1000 / 10);
    FILE *f = fopen("/proc/driver/nvidia/version", "r");
    char line[512];
    if (f && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "Module");
        for (char *tok = p ? strtok(line + (p - line), " \t\n") : NULL; tok; tok = strtok(NULL, " \t\n"))
            if (tok[0] >= '0' && tok[0] <= '9' && strchr(tok, '.')) {
                snprintf(out, size, "%s", tok);
                break;
            }
    }
    if (f)
        fclose(f);
}

static int usage(const char *msg)
{
    fprintf(stderr,
            "ea-mma-probe: %s\nusage: ea-mma-probe [--outputs N] [--dist NAME,...] [--seed S] [--examples K]\n"
            "                    [--instruction mma|wgmma|wgmma-a-shared|wgmma-b-mn-major]\n"
            "                    [--capture FILE [--capture-tiles T]]\n",
            msg);
    return 2;
}

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 0);
    if (!*s || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

int main(int argc, char **argv)
{
    int64_t outputs = 110000000, examples = 3, capture_tiles = 768;
    uint64_t seed = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
    const char *capture = NULL;
    int wgmma = -1; /* --instruction wgmma...: an ea_wgmma_variant; -1 for mma.sync */
    int want[EA_MMA_DIST_COUNT], nwant = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--outputs") && v && parse_i64(v, 1, (int64_t)1 << 40, &outputs))
            i++;
        else if (!strcmp(argv[i], "--examples") && v && parse_i64(v, 0, MAX_EXAMPLES, &examples))
            i++;
        else if (!strcmp(argv[i], "--capture-tiles") && v && parse_i64(v, 1, 1 << 20, &capture_tiles))
            i++;
        else if (!strcmp(argv[i], "--seed") && v) {
            char *end;
            seed = strtoull(v, &end, 0);
            if (!*v || *end)
                return usage("--seed takes a number");
            i++;
        } else if (!strcmp(argv[i], "--instruction") && v) {
            if (!strcmp(v, "mma"))
                wgmma = -1;
            else if (!strcmp(v, "wgmma"))
                wgmma = EA_WGMMA_A_REGS;
            else if (!strcmp(v, "wgmma-a-shared"))
                wgmma = EA_WGMMA_A_SHARED;
            else if (!strcmp(v, "wgmma-b-mn-major"))
                wgmma = EA_WGMMA_B_MN_MAJOR;
            else
                return usage("--instruction takes mma, wgmma, wgmma-a-shared or wgmma-b-mn-major");
            i++;
        } else if (!strcmp(argv[i], "--capture") && v) {
            capture = v;
            i++;
        } else if (!strcmp(argv[i], "--dist") && v) {
            char buf[512];
            snprintf(buf, sizeof buf, "%s", v);
            for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                const int d = ea_mma_dist_from_name(tok);
                if (d < 0 || nwant == EA_MMA_DIST_COUNT)
                    return usage("unknown distribution in --dist");
                want[nwant++] = d;
            }
            i++;
        } else {
            return usage("bad or incomplete option");
        }
    }
    if (nwant == 0)
        for (int d = 0; d < EA_MMA_DIST_COUNT; d++)
            want[nwant++] = d;

    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("ea-mma-probe: no CUDA device: nothing probed\n");
        return 3;
    }
    struct cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, 0));
    char cc[16], driver[64];
    snprintf(cc, sizeof cc, "%d.%d", prop.major, prop.minor);
    driver_version(driver, sizeof driver);
    const int is_verified = ea_mma_verified_cc(prop.major, prop.minor);
    printf("card: %s, compute capability %s, driver %s\n", prop.name, cc, driver);
    static const char *const wgmma_names[] = {
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 (A in registers, B K-major)",
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 (A and B K-major in shared memory)",
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 (A in registers, B MN-major)",
    };
    const char *instruction = wgmma >= 0 ? wgmma_names[wgmma] : "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32";
    if (wgmma >= 0 && prop.major != 9) {
        printf("ea-mma-probe: wgmma needs an sm_90 card (this one is %d.%d): nothing probed\n", prop.major, prop.minor);
        return 3;
    }
    printf("instruction: %s\n", instruction);
    printf("model: %s\n", is_verified ? "verified on this architecture (include/ea_mma.h; DESIGN.md 6.1 names the "
                                        "instructions)"
                                      : "UNVERIFIED on this architecture: the counts below say whether the sm_90 "
                                        "model holds here; do not assume it");
    printf("seed: 0x%" PRIx64 " (--seed reproduces this run)\n\n", seed);

    const int64_t per_dist = (outputs / nwant + EA_MMA_TILE_OUTPUTS - 1) / EA_MMA_TILE_OUTPUTS;
    ea_mma_tile *tiles = malloc(CHUNK_TILES * sizeof *tiles);
    uint16_t *hA = malloc(CHUNK_TILES * 256 * sizeof *hA), *hB = malloc(CHUNK_TILES * 128 * sizeof *hB);
    float *hC = malloc(CHUNK_TILES * 128 * sizeof *hC);
    uint32_t *hD = malloc(CHUNK_TILES * 128 * sizeof *hD);
    uint32_t *cap = capture ? malloc((size_t)nwant * capture_tiles * EA_MMA_TILE_OUTPUTS * sizeof *cap) : NULL;
    slice *sl = malloc(64 * sizeof *sl);
    if (!tiles || !hA || !hB || !hC || !hD || (capture && !cap) || !sl) {
        fprintf(stderr, "ea-mma-probe: out of host memory\n");
        return 1;
    }
    uint16_t *dA, *dB;
    float *dC, *dD;
    CHECK(cudaMalloc((void **)&dA, CHUNK_TILES * 256 * sizeof *dA));
    CHECK(cudaMalloc((void **)&dB, CHUNK_TILES * 128 * sizeof *dB));
    CHECK(cudaMalloc((void **)&dC, CHUNK_TILES * 128 * sizeof *dC));
    CHECK(cudaMalloc((void **)&dD, CHUNK_TILES * 128 * sizeof *dD));

    printf("%-12s %12s %12s %10s  %s\n", "distribution", "outputs", "matched", "mismatched", "probes");
    int64_t all = 0, all_bad = 0;
    ea_mma_vectors vec = {.nblocks = 0};
    for (int w = 0; w < nwant; w++) {
        const ea_mma_dist d = (ea_mma_dist)want[w];
        const int64_t ntiles = capture && per_dist < capture_tiles ? capture_tiles : per_dist;
        int64_t bad = 0, classes[8][8] = {{0}};
        mismatch ex[MAX_EXAMPLES];
        int nex = 0;
        for (int64_t first = 0; first < ntiles; first += CHUNK_TILES) {
            const int64_t n = ntiles - first < CHUNK_TILES ? ntiles - first : CHUNK_TILES;
            slice proto = {.dist = d, .seed = seed, .first_tile = first, .tiles = tiles, .A = hA, .Bt = hB, .C = hC,
                           .D = hD};
            parallel(&proto, n, sl);
            CHECK(cudaMemcpy(dA, hA, n * 256 * sizeof *hA, cudaMemcpyHostToDevice));
            CHECK(cudaMemcpy(dB, hB, n * 128 * sizeof *hB, cudaMemcpyHostToDevice));
            CHECK(cudaMemcpy(dC, hC, n * 128 * sizeof *hC, cudaMemcpyHostToDevice));
            CHECK(cudaMemset(dD, 0xff, n * 128 * sizeof *dD)); /* a NaN sentinel the kernel must overwrite */
            CHECK(wgmma >= 0 ? ea_launch_wgmma_probe(dA, dB, dC, dD, n, wgmma, 0)
                             : ea_launch_mma_probe(dA, dB, dC, dD, n, 0));
            CHECK(cudaMemcpy(hD, dD, n * 128 * sizeof *hD, cudaMemcpyDeviceToHost));
            if (cap && first < capture_tiles) {
                const int64_t keep = capture_tiles - first < n ? capture_tiles - first : n;
                memcpy(cap + ((int64_t)w * capture_tiles + first) * EA_MMA_TILE_OUTPUTS, hD,
                       (size_t)keep * EA_MMA_TILE_OUTPUTS * sizeof *hD);
            }
            proto.check = 1;
            parallel(&proto, n, sl);
            for (int i = 0; i < nthreads(); i++) {
                bad += sl[i].mismatches;
                for (int a = 0; a < 8; a++)
                    for (int b = 0; b < 8; b++)
                        classes[a][b] += sl[i].classes[a][b];
                for (int e = 0; e < sl[i].nexamples && nex < examples; e++)
                    ex[nex++] = sl[i].examples[e];
            }
        }
        const int64_t total = ntiles * EA_MMA_TILE_OUTPUTS;
        printf("%-12s %12" PRId64 " %12" PRId64 " %10" PRId64 "  %s\n", ea_mma_dist_name(d), total, total - bad, bad,
               ea_mma_dist_what(d));
        for (int a = 0; a < 8; a++)
            for (int b = 0; b < 8; b++)
                if (classes[a][b])
                    printf("    hw %-9s model %-9s %12" PRId64 "\n", class_names[a], class_names[b], classes[a][b]);
        for (int e = 0; e < nex; e++)
            print_example(d, seed, &ex[e]);
        all += total;
        all_bad += bad;
        if (cap)
            vec.blocks[vec.nblocks++] = (ea_mma_vector_block){
                d, seed, capture_tiles, ea_mma_inputs_hash(d, seed, capture_tiles),
                cap + (int64_t)w * capture_tiles * EA_MMA_TILE_OUTPUTS};
    }
    printf("%-12s %12" PRId64 " %12" PRId64 " %10" PRId64 "\n", "all", all, all - all_bad, all_bad);
    printf("%s\n", all_bad == 0 ? "the model reproduces every output bit for bit"
                                : "the model DIFFERS from this card: see the classes and examples above");

    int rc = all_bad != 0 || !is_verified;
    if (cap) {
        snprintf(vec.instruction, sizeof vec.instruction, "%s", instruction);
        snprintf(vec.card, sizeof vec.card, "%.127s", prop.name);
        snprintf(vec.cc, sizeof vec.cc, "%s", cc);
        snprintf(vec.driver, sizeof vec.driver, "%s", driver);
        const time_t now = time(NULL);
        strftime(vec.date, sizeof vec.date, "%Y-%m-%d", gmtime(&now));
        if (ea_mma_vectors_write(capture, &vec) != EA_OK) {
            fprintf(stderr, "ea-mma-probe: %s\n", ea_last_error());
            rc = 1;
        } else {
            printf("captured %d x %" PRId64 " tiles (%" PRId64 " outputs) into %s\n", vec.nblocks, capture_tiles,
                   vec.nblocks * capture_tiles * EA_MMA_TILE_OUTPUTS, capture);
        }
    }
    cudaFree(dA);
    cudaFree(dB);
    cudaFree(dC);
    cudaFree(dD);
    free(tiles);
    free(hA);
    free(hB);
    free(hC);
    free(hD);
    free(cap);
    free(sl);
    return rc;
}
