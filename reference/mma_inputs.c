/* Input tiles for probing the tensor core: one generator per distribution of
 * include/ea_mma_vectors.h. Every draw uses integers and exactly rounded IEEE + - * (and ea_expf,
 * itself built from those), never libm, so a seed gives the same tile on every machine: the
 * committed vectors store only seeds, not inputs. */
#include "ea_internal.h"
#include "ea_mma_vectors.h"

#include <string.h>

/* ---- the distribution table ---- */

static const char *const dist_names[] = {
#define EA_X_NAME(id, name, what) name,
    EA_MMA_DIST_TABLE(EA_X_NAME)
#undef EA_X_NAME
};
static const char *const dist_whats[] = {
#define EA_X_WHAT(id, name, what) what,
    EA_MMA_DIST_TABLE(EA_X_WHAT)
#undef EA_X_WHAT
};

const char *ea_mma_dist_name(ea_mma_dist d)
{
    return (unsigned)d < EA_MMA_DIST_COUNT ? dist_names[d] : NULL;
}

const char *ea_mma_dist_what(ea_mma_dist d)
{
    return (unsigned)d < EA_MMA_DIST_COUNT ? dist_whats[d] : NULL;
}

int ea_mma_dist_from_name(const char *name)
{
    for (int d = 0; name && d < EA_MMA_DIST_COUNT; d++)
        if (strcmp(name, dist_names[d]) == 0)
            return d;
    return -1;
}

/* ---- small draws ---- */

/* Uniform integer in [lo, hi]. */
static int uniform_int(uint64_t *s, int lo, int hi)
{
    return lo + (int)(ea_splitmix64(s) % (uint64_t)(hi - lo + 1));
}

/* 1 with probability 1/n. */
static int one_in(uint64_t *s, int n)
{
    return ea_splitmix64(s) % (uint64_t)n == 0;
}

/* About normal(0,1): the sum of four uniforms (Irwin-Hall), centred and scaled. Integer sum, one
 * rounding to float, one exact multiplication by 2^-24, one rounded multiplication. */
static float normal(uint64_t *s)
{
    int64_t sum = 0;
    for (int i = 0; i < 4; i++)
        sum += (int64_t)(ea_splitmix64(s) >> 40);
    return (float)(sum - ((int64_t)2 << 24)) * 0x1p-24f * 1.7320508f;
}

/* A normal bf16 with a random sign, the given exponent (-126..127) and a random fraction. */
static uint16_t bf16_at(uint64_t *s, int exp)
{
    return (uint16_t)((ea_splitmix64(s) & 0x807fu) | (uint32_t)(exp + 127) << 7);
}

/* The same for fp32. */
static float f32_at(uint64_t *s, int exp)
{
    return ea_f32_from_bits((uint32_t)(ea_splitmix64(s) & 0x807fffffu) | (uint32_t)(exp + 127) << 23);
}

static uint16_t bf16_normal(uint64_t *s)
{
    return ea_f32_to_bf16(normal(s));
}

static uint16_t signed_zero16(uint64_t *s)
{
    return (uint16_t)(ea_splitmix64(s) & 0x8000u);
}

static float signed_zero(uint64_t *s)
{
    return ea_f32_from_bits((uint32_t)ea_splitmix64(s) & 0x80000000u);
}

static uint16_t signed_inf16(uint64_t *s)
{
    return (uint16_t)(0x7f80u | (ea_splitmix64(s) & 0x8000u));
}

/* A NaN: random sign and payload, quiet or signalling. */
static uint16_t nan16(uint64_t *s)
{
    const uint64_t r = ea_splitmix64(s);
    const uint16_t frac = (uint16_t)(r & 0x7fu) ? (uint16_t)(r & 0x7fu) : 1u;
    return (uint16_t)(0x7f80u | (r >> 32 & 0x8000u) | frac);
}

static float nan32(uint64_t *s)
{
    const uint64_t r = ea_splitmix64(s);
    const uint32_t frac = (uint32_t)(r & 0x7fffffu) ? (uint32_t)(r & 0x7fffffu) : 1u;
    return ea_f32_from_bits(0x7f800000u | ((uint32_t)(r >> 32) & 0x80000000u) | frac);
}

/* ---- one function per distribution: an element of A or B, then of C ---- */

#define FILL_AB(t, expr)                                                                        \
    do {                                                                                        \
        for (int i_ = 0; i_ < EA_MMA_M * EA_MMA_K; i_++)                                        \
            (t)->A[i_] = (expr);                                                                \
        for (int i_ = 0; i_ < EA_MMA_N * EA_MMA_K; i_++)                                        \
            (t)->Bt[i_] = (expr);                                                               \
    } while (0)
#define FILL_C(t, expr)                                                                         \
    do {                                                                                        \
        for (int i_ = 0; i_ < EA_MMA_M * EA_MMA_N; i_++)                                        \
            (t)->C[i_] = (expr);                                                                \
    } while (0)

static void draw_exact_ints(uint64_t *s, ea_mma_tile *t)
{
    FILL_AB(t, ea_f32_to_bf16((float)uniform_int(s, -8, 8)));
    FILL_C(t, (float)uniform_int(s, -64, 64));
}

static void draw_normal(uint64_t *s, ea_mma_tile *t)
{
    FILL_AB(t, bf16_normal(s));
    FILL_C(t, 4.0f * normal(s));
}

static void draw_wide_exp(uint64_t *s, ea_mma_tile *t)
{
    FILL_AB(t, bf16_at(s, uniform_int(s, -12, 12)));
    FILL_C(t, one_in(s, 8) ? 0.0f : f32_at(s, uniform_int(s, -24, 24)));
}

/* A (the probabilities) = e^-x with x = |normal| * 3, in (0, 1]; B (the values) normal; C (the
 * running output) larger. */
static void draw_softmax(uint64_t *s, ea_mma_tile *t)
{
    for (int i = 0; i < EA_MMA_M * EA_MMA_K; i++) {
        const float x = normal(s);
        t->A[i] = ea_f32_to_bf16(ea_expf(-3.0f * (x < 0 ? -x : x)));
    }
    for (int i = 0; i < EA_MMA_N * EA_MMA_K; i++)
        t->Bt[i] = bf16_normal(s);
    FILL_C(t, 8.0f * normal(s));
}

/* Products cancel in pairs: A[m][2j+1] = A[m][2j] and B[2j+1][n] = -B[2j][n], over exponents
 * 2^-20..2^20, so the cancelled pairs still set emax. The accumulator is +0, -0, tiny or normal.
 * In half of the tiles one element of A is changed, so that row no longer cancels. */
static void draw_cancel(uint64_t *s, ea_mma_tile *t)
{
    for (int i = 0; i < EA_MMA_M * EA_MMA_K; i += 2)
        t->A[i] = t->A[i + 1] = bf16_at(s, uniform_int(s, -20, 20));
    for (int i = 0; i < EA_MMA_N * EA_MMA_K; i += 2) {
        t->Bt[i] = bf16_at(s, uniform_int(s, -20, 20));
        t->Bt[i + 1] = t->Bt[i] ^ 0x8000u;
    }
    for (int i = 0; i < EA_MMA_M * EA_MMA_N; i++) {
        switch (uniform_int(s, 0, 3)) {
        case 0: t->C[i] = 0.0f; break;
        case 1: t->C[i] = -0.0f; break;
        case 2: t->C[i] = f32_at(s, uniform_int(s, -140, -100)); break;
        default: t->C[i] = f32_at(s, uniform_int(s, -30, 30)); break;
        }
    }
    if (one_in(s, 2)) {
        const int i = uniform_int(s, 0, EA_MMA_M * EA_MMA_K - 1);
        t->A[i] = bf16_at(s, uniform_int(s, -20, 20));
    }
}

/* Normal values with +0 and -0 mixed in; sometimes a whole row of A or column of B is zero. */
static void draw_zeros(uint64_t *s, ea_mma_tile *t)
{
    FILL_AB(t, one_in(s, 4) ? signed_zero16(s) : bf16_normal(s));
    FILL_C(t, one_in(s, 3) ? signed_zero(s) : normal(s));
    for (int m = 0; m < EA_MMA_M; m++)
        if (one_in(s, 4))
            for (int k = 0; k < EA_MMA_K; k++)
                t->A[m * EA_MMA_K + k] = signed_zero16(s);
    for (int n = 0; n < EA_MMA_N; n++)
        if (one_in(s, 4))
            for (int k = 0; k < EA_MMA_K; k++)
                t->Bt[n * EA_MMA_K + k] = signed_zero16(s);
}

/* bf16 subnormals, tiny normals, and values around 2^-64 whose products land at or below the
 * fp32 normal range; the accumulator subnormal, tiny or zero. */
static uint16_t subnormal_elem(uint64_t *s)
{
    switch (uniform_int(s, 0, 7)) {
    case 0:
    case 1: {
        const uint16_t sign = (uint16_t)(ea_splitmix64(s) & 0x8000u);
        return (uint16_t)(sign | (uint16_t)uniform_int(s, 1, 0x7f)); /* exponent field 0 */
    }
    case 2:
    case 3: return bf16_at(s, uniform_int(s, -126, -110));
    case 4:
    case 5: return bf16_at(s, uniform_int(s, -76, -55));
    case 6: return signed_zero16(s);
    default: return one_in(s, 2) ? bf16_at(s, uniform_int(s, -20, 0)) : bf16_at(s, uniform_int(s, -60, -40));
    }
}

static float subnormal_acc(uint64_t *s)
{
    switch (uniform_int(s, 0, 5)) {
    case 0:
    case 1: return ea_f32_from_bits(((uint32_t)ea_splitmix64(s) & 0x807fffffu) | 1u);
    case 2:
    case 3: return f32_at(s, uniform_int(s, -126, -100));
    default: return signed_zero(s);
    }
}

static void draw_subnormal(uint64_t *s, ea_mma_tile *t)
{
    FILL_AB(t, subnormal_elem(s));
    FILL_C(t, subnormal_acc(s));
}

/* Every product between 2^-180 and 2^-120: sums in the subnormal range whose terms reach far
 * below 2^-149, the smallest subnormal. */
static void draw_underflow(uint64_t *s, ea_mma_tile *t)
{
    FILL_AB(t, one_in(s, 16) ? signed_zero16(s) : bf16_at(s, uniform_int(s, -90, -60)));
    FILL_C(t, one_in(s, 2) ? signed_zero(s) : subnormal_acc(s));
}

static uint16_t inf_elem(uint64_t *s)
{
    if (one_in(s, 64))
        return signed_inf16(s);
    return one_in(s, 16) ? signed_zero16(s) : bf16_normal(s);
}

static void draw_inf(uint64_t *s, ea_mma_tile *t)
{
    FILL_AB(t, inf_elem(s));
    FILL_C(t, one_in(s, 16) ? ea_f32_from_bits(0x7f800000u | ((uint32_t)ea_splitmix64(s) & 0x80000000u))
                            : normal(s));
}

static uint16_t nan_elem(uint64_t *s)
{
    if (one_in(s, 128))
        return nan16(s);
    if (one_in(s, 128))
        return signed_inf16(s);
    return one_in(s, 32) ? signed_zero16(s) : bf16_normal(s);
}

static void draw_nan(uint64_t *s, ea_mma_tile *t)
{
    FILL_AB(t, nan_elem(s));
    FILL_C(t, one_in(s, 32) ? nan32(s) : normal(s));
}

/* Large values. In half of the tiles the products are 2^112..2^130, around the largest float
 * (2^128 - 2^104); in the other half anywhere up to 2^255. In half of the tiles every sign is
 * positive, so the sum cannot cancel back below the overflow. */
static void draw_overflow(uint64_t *s, ea_mma_tile *t)
{
    const int near = one_in(s, 2);
    FILL_AB(t, bf16_at(s, near ? uniform_int(s, 56, 64) : uniform_int(s, 40, 127)));
    FILL_C(t, one_in(s, 4) ? 0.0f : f32_at(s, uniform_int(s, 100, 127)));
    if (one_in(s, 2)) {
        for (int i = 0; i < EA_MMA_M * EA_MMA_K; i++)
            t->A[i] = bf16_at(s, uniform_int(s, 56, 64)) & 0x7fffu;
        for (int i = 0; i < EA_MMA_N * EA_MMA_K; i++)
            t->Bt[i] = bf16_at(s, uniform_int(s, 56, 64)) & 0x7fffu;
        for (int i = 0; i < EA_MMA_M * EA_MMA_N; i++)
            t->C[i] = ea_f32_from_bits(ea_f32_bits(t->C[i]) & 0x7fffffffu);
    }
}

static void draw_random_bits(uint64_t *s, ea_mma_tile *t)
{
    FILL_AB(t, (uint16_t)ea_splitmix64(s));
    FILL_C(t, ea_f32_from_bits((uint32_t)ea_splitmix64(s)));
}

void ea_mma_tile_draw(ea_mma_dist d, uint64_t seed, uint64_t index, ea_mma_tile *t)
{
    /* Each tile its own stream: tile i of a seed never depends on how many tiles came before. */
    uint64_t s = seed ^ (index + 1) * 0xd1342543de82ef95ull ^ (uint64_t)d << 56;
    ea_splitmix64(&s);
    switch (d) {
    case EA_MMA_DIST_EXACT_INTS: draw_exact_ints(&s, t); break;
    case EA_MMA_DIST_NORMAL: draw_normal(&s, t); break;
    case EA_MMA_DIST_WIDE_EXP: draw_wide_exp(&s, t); break;
    case EA_MMA_DIST_SOFTMAX: draw_softmax(&s, t); break;
    case EA_MMA_DIST_CANCEL: draw_cancel(&s, t); break;
    case EA_MMA_DIST_ZEROS: draw_zeros(&s, t); break;
    case EA_MMA_DIST_SUBNORMAL: draw_subnormal(&s, t); break;
    case EA_MMA_DIST_UNDERFLOW: draw_underflow(&s, t); break;
    case EA_MMA_DIST_INF: draw_inf(&s, t); break;
    case EA_MMA_DIST_NAN: draw_nan(&s, t); break;
    case EA_MMA_DIST_OVERFLOW: draw_overflow(&s, t); break;
    case EA_MMA_DIST_RANDOM_BITS: draw_random_bits(&s, t); break;
    default: memset(t, 0, sizeof *t); break;
    }
}

uint64_t ea_mma_inputs_hash(ea_mma_dist d, uint64_t seed, int64_t tiles)
{
    uint64_t h = 0xcbf29ce484222325ull;
    ea_mma_tile t;
    for (int64_t i = 0; i < tiles; i++) {
        ea_mma_tile_draw(d, seed, (uint64_t)i, &t);
        const unsigned char *p = (const unsigned char *)&t;
        for (size_t j = 0; j < sizeof t; j++)
            h = (h ^ p[j]) * 0x100000001b3ull;
    }
    return h;
}
