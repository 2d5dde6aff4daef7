/* Internal helpers shared by the library's .c files (not part of the public API). */
#ifndef EA_INTERNAL_H
#define EA_INTERNAL_H

#include "ea.h"
#include "ea_cases.h"
#include "ea_math.h"
#include "ea_fail.h" /* ea_fail(): record a message, return a status */
#include "ea_rules.h"

#include <stdint.h>

/* The layer parameters' part of ea_validate(). */
ea_status ea_check_params(const ea_params *p);

/* Request i's length as a case draws it (LIST: its value; RAND: the next draw of s). */
int32_t ea_draw_len(const ea_len_spec *spec, int32_t i, uint64_t *s);

/* What every reference checks first: a valid batch, and all of q, k_pool, v_pool and o given. */
ea_status ea_check_call(const ea_batch *b, const ea_params *p, const ea_inputs *in, const void *o);

/* Element count of a [rows, heads, dim] tensor, or -1 past EA_MAX_ELEMENTS. */
int64_t ea_tensor_elems(int64_t rows, int64_t heads, int64_t dim);

/* Element i of a f32 or bf16 tensor as float, and back (ea_rules.h, shared with the GPU). */
static inline float ea_load(const void *t, ea_dtype dt, int64_t i) { return ea_load_elem(t, dt == EA_BF16, i); }
static inline void ea_store(void *t, ea_dtype dt, int64_t i, float x) { ea_store_elem(t, dt == EA_BF16, i, x); }

/* Slot of unified key u of request i: prefix slots first, then new slots. */
static inline int64_t ea_key_slot(const ea_batch *b, int32_t i, int32_t P, int32_t u)
{
    return u < P ? b->prefix_kv_indices[b->prefix_kv_indptr[i] + u]
                 : b->extend_kv_indices[b->extend_start_loc[i] + (u - P)];
}

/* The visibility rule of DESIGN.md section 1 for query position t and key u (ea_rules.h).
 * mask_row is the row's mask (P+E entries) or NULL. */
static inline int ea_visible(const ea_params *p, const uint8_t *mask_row, int32_t t, int32_t u)
{
    return ea_visible_rule(p->causal, p->sliding_window, mask_row, t, u);
}

/* Request i's mask row r (P+E entries) or NULL without a custom mask. */
static inline const uint8_t *ea_mask_row(const ea_batch *b, int32_t i, int32_t r, int32_t P, int32_t E)
{
    (void)E;
    return b->custom_mask ? b->custom_mask + b->mask_indptr[i] + (int64_t)r * (P + E) : NULL;
}

/* ---- The canonical engine (reference/canonical.c), shared with the two-stage variant ----
 * One (request i, KV head g) at a time: the E query rows x G query heads of the
 * group keep their online-softmax state (m, l, acc) while tiles of EA_TILE keys
 * stream past, exactly as one GPU block does. */
typedef struct {
    const ea_batch *b;
    const ea_params *p;
    const ea_inputs *in;
    int32_t G;  /* query heads per KV head */
    float *q;   /* [E, G, Dqk] the group's query rows in fp32 */
    float *kT;  /* [Dqk, EA_TILE] the tile's keys, transposed so 64 scores advance together */
    float *v;   /* [EA_TILE, Dv] the tile's values */
    float *m;   /* [E*G] running max */
    float *l;   /* [E*G] running sum of exp */
    float *acc; /* [E*G, Dv] running sum of p*v */
} ea_canon;

/* Allocates scratch for the batch's longest request (b and p must be valid). */
ea_status ea_canon_init(ea_canon *c, const ea_batch *b, const ea_params *p, const ea_inputs *in);
void ea_canon_free(ea_canon *c);
/* Loads the query rows of request i, KV head g and clears the state. */
void ea_canon_begin(ea_canon *c, int32_t i, int32_t g);
/* Streams unified keys [u_begin, u_end) of request i through the state, in
 * tiles aligned at tile_origin (0 for the unified design). */
void ea_canon_keys(ea_canon *c, int32_t i, int32_t g, int32_t u_begin, int32_t u_end, int32_t tile_origin);

#endif /* EA_INTERNAL_H */
