/**
 * @file ea_mma_vectors.h
 * @brief Inputs that probe the tensor core (named distributions), and the file of outputs
 *        captured on a GPU that keeps the model of ea_mma.h honest where there is no GPU.
 *
 * @defgroup ea_mma_vectors Tensor-core test vectors (ea_mma_vectors.h)
 * @brief Seeded `mma.m16n8k16` input tiles and the captured-output file format.
 *
 * `ea-mma-probe` draws tiles from these distributions, runs the real instruction on them and
 * compares with ea_mma_m16n8k16_elem(); `--capture` writes what the GPU returned. A vector file
 * stores only the seed and tile count of each distribution (the inputs are drawn again, the same
 * on every machine, from integer arithmetic and IEEE `+ - *` alone) plus a hash of those inputs
 * and the output bits:
 *
 * @code
 *   ea-mma-vectors 1
 *   instruction mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
 *   card NVIDIA H200
 *   cc 9.0
 *   driver 580.159.04
 *   date 2026-11-30
 *   dist normal seed 0x1234 tiles 768 inputs 0x9f0c...
 *   ...
 *   data
 *   <for each dist line in order: tiles * 128 little-endian uint32, D of each tile row-major>
 * @endcode
 * @{
 */
#ifndef EA_MMA_VECTORS_H
#define EA_MMA_VECTORS_H

#include "ea.h"
#include "ea_mma.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The distributions, one X-macro table: name and what it probes. Each is a different corner of
 * the arithmetic, so that a model wrong in one corner fails in that corner's line.
 */
#define EA_MMA_DIST_TABLE(X)                                                                    \
    X(EXACT_INTS, "exact_ints", "small integers: every model agrees; checks the fragment layout") \
    X(NORMAL, "normal", "normal(0,1) inputs, the everyday case")                                 \
    X(WIDE_EXP, "wide_exp", "exponents over 2^-12..2^12 (accumulator 2^-24..2^24): truncation") \
    X(SOFTMAX, "softmax", "probabilities in (0,1] times normal values: the P V product")        \
    X(CANCEL, "cancel", "products that cancel in pairs, accumulators +-0 or tiny: zero signs")  \
    X(ZEROS, "zeros", "+0 and -0 mixed in, whole rows and columns of zeros")                    \
    X(SUBNORMAL, "subnormal", "subnormal inputs, and products and sums below 2^-126")          \
    X(UNDERFLOW, "underflow", "products around 2^-180..2^-120: the grid below 2^-149")          \
    X(INF, "inf", "+-inf mixed in, with zeros (inf * 0)")                                       \
    X(NAN, "nan", "NaNs of every payload and sign mixed in, with infinities")                   \
    X(OVERFLOW, "overflow", "sums near and beyond the largest float")                           \
    X(RANDOM_BITS, "random_bits", "uniformly random bit patterns: everything at once")

/** @cond */
#define EA_X_DIST_ENUM(id, name, what) EA_MMA_DIST_##id,
/** @endcond */
/** A distribution of input tiles. */
typedef enum ea_mma_dist {
    EA_MMA_DIST_TABLE(EA_X_DIST_ENUM)
    EA_MMA_DIST_COUNT /**< number of distributions */
} ea_mma_dist;

/** One `mma.m16n8k16` input tile. */
typedef struct ea_mma_tile {
    uint16_t A[EA_MMA_M * EA_MMA_K];  /**< [16, 16] bf16 bits, row-major */
    uint16_t Bt[EA_MMA_N * EA_MMA_K]; /**< [8, 16] bf16 bits: B transposed, `Bt[n*16 + k] = B[k][n]` */
    float C[EA_MMA_M * EA_MMA_N];     /**< [16, 8] fp32 accumulators, row-major */
} ea_mma_tile;

/** Outputs of one tile. */
#define EA_MMA_TILE_OUTPUTS (EA_MMA_M * EA_MMA_N)

/**
 * @brief The short name of a distribution (`"normal"`), or NULL for an unknown one.
 * @param d the distribution
 * @return its name
 */
const char *ea_mma_dist_name(ea_mma_dist d);

/**
 * @brief What a distribution probes, in a few words.
 * @param d the distribution
 * @return one line, or NULL for an unknown distribution
 */
const char *ea_mma_dist_what(ea_mma_dist d);

/**
 * @brief The distribution of a name.
 * @param name e.g. `"subnormal"`
 * @return the distribution, or -1 when no distribution has that name
 */
int ea_mma_dist_from_name(const char *name);

/**
 * @brief Draws tile number `index` of a distribution: the same bits on every machine.
 *
 * Tiles are independent (each has its own generator state), so any tile can be drawn alone, in
 * any order, on any thread.
 * @param d     the distribution
 * @param seed  the seed of the run
 * @param index the tile's number
 * @param t     the tile to fill
 */
void ea_mma_tile_draw(ea_mma_dist d, uint64_t seed, uint64_t index, ea_mma_tile *t);

/**
 * @brief FNV-1a hash of the input bits of tiles `0 .. tiles-1` of a distribution, so a vector file
 *        can tell "the generator changed" from "the model is wrong".
 * @param d     the distribution
 * @param seed  the seed
 * @param tiles how many tiles
 * @return the hash
 */
uint64_t ea_mma_inputs_hash(ea_mma_dist d, uint64_t seed, int64_t tiles);

/** Largest number of distribution lines in a vector file. */
#define EA_MMA_VECTORS_MAX_DISTS 64

/** One distribution's block of a vector file. */
typedef struct ea_mma_vector_block {
    ea_mma_dist dist;     /**< which distribution */
    uint64_t seed;        /**< its seed */
    int64_t tiles;        /**< how many tiles, from index 0 */
    uint64_t inputs_hash; /**< ea_mma_inputs_hash() of those tiles when they were captured */
    const uint32_t *d;    /**< tiles * 128 output bits, pointing into ea_mma_vectors::data */
} ea_mma_vector_block;

/** A vector file in memory. */
typedef struct ea_mma_vectors {
    char instruction[96]; /**< the PTX instruction the outputs came from */
    char card[128];       /**< the GPU's name */
    char cc[16];          /**< its compute capability, `"9.0"` */
    char driver[64];      /**< the driver version */
    char date[32];        /**< when they were captured, `YYYY-MM-DD` */
    int nblocks;          /**< distribution blocks */
    ea_mma_vector_block blocks[EA_MMA_VECTORS_MAX_DISTS]; /**< in file order */
    uint32_t *data;       /**< all output bits (owned) */
    int64_t outputs;      /**< their number */
} ea_mma_vectors;

/**
 * @brief Reads a vector file.
 * @param path the file
 * @param v    filled on success (free with ea_mma_vectors_free()); untouched on failure
 * @return EA_OK, EA_ERR_IO when the file cannot be read, EA_ERR_PARSE when it is malformed
 *         or truncated, EA_ERR_NOMEM
 */
ea_status ea_mma_vectors_read(const char *path, ea_mma_vectors *v);

/**
 * @brief Writes a vector file (to `path.tmp`, then renamed: never a partial file).
 * @param path the file
 * @param v    the header fields, the blocks and their output bits (`blocks[i].d`)
 * @return EA_OK, EA_ERR_IO, or EA_ERR_COUNT for a block without outputs
 */
ea_status ea_mma_vectors_write(const char *path, const ea_mma_vectors *v);

/**
 * @brief Frees what ea_mma_vectors_read() allocated.
 * @param v the vectors (may be NULL)
 */
void ea_mma_vectors_free(ea_mma_vectors *v);

#ifdef __cplusplus
}
#endif

/** @} */
#endif /* EA_MMA_VECTORS_H */
