/* The fuzz targets' view of their input: bytes taken in order, zeros once it runs out, so that
 * every input, however short, describes a whole call. */
#ifndef FUZZ_READER_H
#define FUZZ_READER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *p;
    size_t n;
} reader;

static inline uint8_t rd_u8(reader *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

/* little-endian, as the corpus files were written */
static inline uint32_t rd_u32(reader *r)
{
    uint32_t v = 0;
    for (int k = 0; k < 4; k++)
        v |= (uint32_t)rd_u8(r) << (8 * k);
    return v;
}

static inline int32_t rd_i32(reader *r) { return (int32_t)rd_u32(r); }

#endif /* FUZZ_READER_H */
