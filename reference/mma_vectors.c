/* The vector file of include/ea_mma_vectors.h: a text header (what was captured, where, and which
 * inputs), the word "data", then the output bits as little-endian uint32. */
#include "ea_internal.h"
#include "ea_mma_vectors.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "ea-mma-vectors 1"

static int is_little_endian(void)
{
    const uint32_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

/* Copies the rest of a "key value" line into a fixed field, or fails when it does not fit. */
static int take_field(char *dst, size_t size, const char *value)
{
    size_t n = strlen(value);
    if (n && value[n - 1] == '\n')
        n--;
    if (n == 0 || n >= size)
        return 0;
    memcpy(dst, value, n);
    dst[n] = '\0';
    return 1;
}

static ea_status parse_dist(const char *line, int lineno, ea_mma_vector_block *b)
{
    char name[64];
    uint64_t seed, hash;
    int64_t tiles;
    int used = 0;
    if (sscanf(line, "dist %63s seed %" SCNx64 " tiles %" SCNd64 " inputs %" SCNx64 "%n", name, &seed, &tiles,
               &hash, &used) != 4 || (line[used] != '\n' && line[used] != '\0'))
        return ea_fail(EA_ERR_PARSE, "line %d: expected 'dist NAME seed 0xS tiles T inputs 0xH'", lineno);
    const int d = ea_mma_dist_from_name(name);
    if (d < 0)
        return ea_fail(EA_ERR_PARSE, "line %d: unknown distribution '%s'", lineno, name);
    if (tiles <= 0 || tiles > ((int64_t)1 << 24))
        return ea_fail(EA_ERR_PARSE, "line %d: tiles %" PRId64 " is not in 1..2^24", lineno, tiles);
    *b = (ea_mma_vector_block){(ea_mma_dist)d, seed, tiles, hash, NULL};
    return EA_OK;
}

ea_status ea_mma_vectors_read(const char *path, ea_mma_vectors *out)
{
    if (!path || !out)
        return ea_fail(EA_ERR_NULL, "ea_mma_vectors_read: NULL argument");
    if (!is_little_endian())
        return ea_fail(EA_ERR_IO, "%s: vector files are little-endian and this host is not", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return ea_fail(EA_ERR_IO, "%s: %s", path, strerror(errno));
    ea_mma_vectors v;
    memset(&v, 0, sizeof v);
    ea_status st = EA_OK;
    char line[512];
    int lineno = 0, done = 0;
    while (st == EA_OK && !done && fgets(line, sizeof line, f)) {
        lineno++;
        if (lineno == 1) {
            if (strncmp(line, MAGIC "\n", sizeof MAGIC) != 0)
                st = ea_fail(EA_ERR_PARSE, "%s: not a vector file (first line is not '" MAGIC "')", path);
        } else if (strcmp(line, "data\n") == 0) {
            done = 1;
        } else if (strncmp(line, "dist ", 5) == 0) {
            if (v.nblocks == EA_MMA_VECTORS_MAX_DISTS)
                st = ea_fail(EA_ERR_PARSE, "%s: more than %d dist lines", path, EA_MMA_VECTORS_MAX_DISTS);
            else
                st = parse_dist(line, lineno, &v.blocks[v.nblocks++]);
        } else {
            char *sp = strchr(line, ' ');
            struct { const char *key; char *dst; size_t size; } fields[] = {
                {"instruction", v.instruction, sizeof v.instruction}, {"card", v.card, sizeof v.card},
                {"cc", v.cc, sizeof v.cc}, {"driver", v.driver, sizeof v.driver}, {"date", v.date, sizeof v.date}};
            int known = 0;
            for (size_t i = 0; sp && i < sizeof fields / sizeof fields[0]; i++)
                if ((size_t)(sp - line) == strlen(fields[i].key) && strncmp(line, fields[i].key, (size_t)(sp - line)) == 0)
                    known = take_field(fields[i].dst, fields[i].size, sp + 1) ? 1 : -1;
            if (known <= 0)
                st = ea_fail(EA_ERR_PARSE, "%s: line %d: %s", path, lineno,
                             known < 0 ? "value missing or too long" : "unknown header line");
        }
    }
    if (st == EA_OK && !done)
        st = ea_fail(EA_ERR_PARSE, "%s: no 'data' line", path);
    if (st == EA_OK && (v.nblocks == 0 || !v.card[0] || !v.cc[0]))
        st = ea_fail(EA_ERR_PARSE, "%s: the header needs card, cc and at least one dist line", path);
    for (int i = 0; st == EA_OK && i < v.nblocks; i++)
        v.outputs += v.blocks[i].tiles * EA_MMA_TILE_OUTPUTS;
    if (st == EA_OK && !(v.data = malloc((size_t)v.outputs * sizeof *v.data)))
        st = ea_fail(EA_ERR_NOMEM, "%s: %" PRId64 " outputs", path, v.outputs);
    if (st == EA_OK && fread(v.data, sizeof *v.data, (size_t)v.outputs, f) != (size_t)v.outputs)
        st = ea_fail(EA_ERR_PARSE, "%s: truncated: fewer than the %" PRId64 " outputs the header announces", path,
                     v.outputs);
    if (st == EA_OK && fgetc(f) != EOF)
        st = ea_fail(EA_ERR_PARSE, "%s: bytes after the %" PRId64 " outputs", path, v.outputs);
    fclose(f);
    if (st != EA_OK) {
        free(v.data);
        return st;
    }
    const uint32_t *d = v.data;
    for (int i = 0; i < v.nblocks; i++) {
        v.blocks[i].d = d;
        d += v.blocks[i].tiles * EA_MMA_TILE_OUTPUTS;
    }
    *out = v;
    return EA_OK;
}

ea_status ea_mma_vectors_write(const char *path, const ea_mma_vectors *v)
{
    if (!path || !v)
        return ea_fail(EA_ERR_NULL, "ea_mma_vectors_write: NULL argument");
    if (!is_little_endian())
        return ea_fail(EA_ERR_IO, "%s: vector files are little-endian and this host is not", path);
    for (int i = 0; i < v->nblocks; i++)
        if (!v->blocks[i].d || v->blocks[i].tiles <= 0 || !ea_mma_dist_name(v->blocks[i].dist))
            return ea_fail(EA_ERR_COUNT, "block %d: no outputs, no tiles or no distribution", i);
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return ea_fail(EA_ERR_IO, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return ea_fail(EA_ERR_IO, "%s: %s", tmp, strerror(errno));
    fprintf(f, MAGIC "\ninstruction %s\ncard %s\ncc %s\ndriver %s\ndate %s\n", v->instruction, v->card, v->cc,
            v->driver, v->date);
    for (int i = 0; i < v->nblocks; i++) {
        const ea_mma_vector_block *b = &v->blocks[i];
        fprintf(f, "dist %s seed 0x%" PRIx64 " tiles %" PRId64 " inputs 0x%016" PRIx64 "\n", ea_mma_dist_name(b->dist),
                b->seed, b->tiles, b->inputs_hash);
    }
    fputs("data\n", f);
    int ok = 1;
    for (int i = 0; ok && i < v->nblocks; i++) {
        const size_t n = (size_t)v->blocks[i].tiles * EA_MMA_TILE_OUTPUTS;
        ok = fwrite(v->blocks[i].d, sizeof(uint32_t), n, f) == n;
    }
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return ea_fail(EA_ERR_IO, "%s: cannot write", path);
    }
    return EA_OK;
}

void ea_mma_vectors_free(ea_mma_vectors *v)
{
    if (v) {
        free(v->data);
        v->data = NULL;
    }
}
