/* The case-file parser (DESIGN.md section 5). One case per line, `#` starts a
 * comment, `key=value` tokens. A bad line is reported with its line number and
 * key, and the caller's outputs are left untouched.
 *
 * Linear in the text, whatever it holds: each line is read once, names go into
 * a hash set, and the `a,b,c` lists of all cases share one array of exactly
 * their values, so a file of many small cases costs memory in proportion. */
#include "ea_cases.h"
#include "ea_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Parses a whole decimal integer in [lo, hi]; 0 on success. */
static int parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    if (!*s || isspace((unsigned char)*s))
        return -1;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_i32(const char *s, long long lo, long long hi, int32_t *out)
{
    long long v;
    if (parse_int(s, lo, hi, &v))
        return -1;
    *out = (int32_t)v;
    return 0;
}

/* `7`, `1,2,3` or `rand:LO:HI`; a list's values go to values[] (EA_CASE_MAX_BS of room), its
 * length to out->count, and is checked against bs once bs is known. */
static int parse_len(const char *s, int32_t max, ea_len_spec *out, int32_t *values)
{
    ea_len_spec v;
    memset(&v, 0, sizeof v);
    if (strncmp(s, "rand:", 5) == 0) {
        char lo[32], hi[32];
        const char *colon = strchr(s + 5, ':');
        if (!colon || (size_t)(colon - (s + 5)) >= sizeof lo || strlen(colon + 1) >= sizeof hi)
            return -1;
        memcpy(lo, s + 5, (size_t)(colon - (s + 5)));
        lo[colon - (s + 5)] = 0;
        strcpy(hi, colon + 1);
        if (parse_i32(lo, 0, max, &v.lo) || parse_i32(hi, 0, max, &v.hi) || v.lo > v.hi)
            return -1;
        v.kind = EA_LEN_RAND;
    } else if (strchr(s, ',')) {
        v.kind = EA_LEN_LIST;
        const char *p = s;
        for (;;) {
            char num[32];
            size_t len = strcspn(p, ",");
            if (len == 0 || len >= sizeof num || v.count >= EA_CASE_MAX_BS)
                return -1;
            memcpy(num, p, len);
            num[len] = 0;
            if (parse_i32(num, 0, max, &values[v.count]))
                return -1;
            v.count++;
            if (!p[len])
                break;
            p += len + 1;
        }
    } else {
        v.kind = EA_LEN_ALL;
        if (parse_i32(s, 0, max, &v.lo))
            return -1;
    }
    *out = v;
    return 0;
}

/* What one line sets: the case, and `d` (both head dimensions unless dqk and dv are given). */
typedef struct {
    ea_case c;
    int32_t d;
} line_values;

/* How a key's value is read. */
typedef enum {
    KEY_NAME,  /* an identifier into c.name */
    KEY_INT,   /* a whole number in [lo, hi] into an int32_t */
    KEY_LEN,   /* a per-request length (parse_len) into an ea_len_spec, hi its largest value */
    KEY_WORD,  /* one of two words, words[v] giving the int32_t value v */
    KEY_FLOAT, /* a finite float in [0, 1e30] into a float (cap) */
    KEY_U64,   /* an unsigned 64-bit integer into a uint64_t (seed) */
} key_kind;

/* One key of a case line. */
typedef struct {
    const char *key;
    key_kind kind;
    size_t at;            /* offset of the field in line_values */
    long long lo, hi;     /* KEY_INT: the range; KEY_LEN: hi is the largest value */
    int list;             /* KEY_LEN: the caller's list its values go to (0 extend, 1 prefix) */
    const char *words[2]; /* KEY_WORD */
    const char *expect;   /* "expected ..., got 'VALUE'"; NULL: "an integer in LO..HI" (KEY_INT) or
                             the length forms (KEY_LEN) */
} case_key;

/* The keys, in the order of their bits in `seen` (a key given twice is refused). */
enum { K_NAME, K_BS, K_EXTEND, K_PREFIX, K_HQ, K_HKV, K_D, K_DQK, K_DV, K_DTYPE, K_CAUSAL, K_WINDOW, K_CAP, K_SINKS,
       K_MASK, K_SEED, K_SLOTS, NKEYS };
#define SEEN(k) (1u << (k))

#define AT(field) offsetof(line_values, field)
static const case_key KEYS[NKEYS] = {
    [K_NAME] = {.key = "name", .kind = KEY_NAME, .at = AT(c.name)},
    [K_BS] = {.key = "bs", .kind = KEY_INT, .at = AT(c.bs), .lo = 1, .hi = EA_CASE_MAX_BS},
    [K_EXTEND] = {.key = "extend", .kind = KEY_LEN, .at = AT(c.extend), .hi = EA_CASE_MAX_EXTEND, .list = 0},
    [K_PREFIX] = {.key = "prefix", .kind = KEY_LEN, .at = AT(c.prefix), .hi = EA_CASE_MAX_PREFIX, .list = 1},
    [K_HQ] = {.key = "hq", .kind = KEY_INT, .at = AT(c.hq), .lo = 1, .hi = EA_MAX_HEADS},
    [K_HKV] = {.key = "hkv", .kind = KEY_INT, .at = AT(c.hkv), .lo = 1, .hi = EA_MAX_HEADS},
    [K_D] = {.key = "d", .kind = KEY_INT, .at = AT(d), .lo = 1, .hi = EA_MAX_HEAD_DIM},
    [K_DQK] = {.key = "dqk", .kind = KEY_INT, .at = AT(c.dqk), .lo = 1, .hi = EA_MAX_HEAD_DIM},
    [K_DV] = {.key = "dv", .kind = KEY_INT, .at = AT(c.dv), .lo = 1, .hi = EA_MAX_HEAD_DIM},
    [K_DTYPE] = {.key = "dtype", .kind = KEY_WORD, .at = AT(c.dtype), .words = {"f32", "bf16"},
                 .expect = "f32 or bf16"},
    [K_CAUSAL] = {.key = "causal", .kind = KEY_INT, .at = AT(c.causal), .lo = 0, .hi = 1, .expect = "0 or 1"},
    [K_WINDOW] = {.key = "window", .kind = KEY_INT, .at = AT(c.window), .lo = -1, .hi = INT32_MAX,
                  .expect = "-1 or an integer >= 0"},
    [K_CAP] = {.key = "cap", .kind = KEY_FLOAT, .at = AT(c.cap), .expect = "a finite float >= 0"},
    [K_SINKS] = {.key = "sinks", .kind = KEY_INT, .at = AT(c.sinks), .lo = 0, .hi = 1, .expect = "0 or 1"},
    [K_MASK] = {.key = "mask", .kind = KEY_WORD, .at = AT(c.mask), .words = {"none", "rand"},
                .expect = "none or rand"},
    [K_SEED] = {.key = "seed", .kind = KEY_U64, .at = AT(c.seed), .expect = "an unsigned 64-bit integer"},
    [K_SLOTS] = {.key = "slots", .kind = KEY_WORD, .at = AT(c.slots_linear), .words = {"shuffle", "linear"},
                 .expect = "shuffle or linear"},
};
#undef AT
/* KEY_WORD writes the word's index as an int32_t, also into the ea_dtype field (EA_F32 = 0, EA_BF16 = 1). */
_Static_assert(sizeof(ea_dtype) == sizeof(int32_t), "ea_dtype is read and written as an int32_t");

static const case_key *key_find(const char *key)
{
    for (int k = 0; k < NKEYS; k++)
        if (!strcmp(key, KEYS[k].key))
            return &KEYS[k];
    return NULL;
}

#define BAD(key, fmt, ...) ea_fail(EA_ERR_PARSE, "line %d: key '%s': " fmt, lineno, key, __VA_ARGS__)

/* An identifier of 1..63 characters: letters, digits, _ - . */
static ea_status set_name(char *name, const char *val, int lineno)
{
    const size_t len = strlen(val), size = sizeof((ea_case *)0)->name;
    if (len == 0 || len >= size)
        return BAD("name", "expected an identifier of 1..%zu characters, got '%s'", size - 1, val);
    for (size_t k = 0; k < len; k++)
        if (!isalnum((unsigned char)val[k]) && val[k] != '_' && val[k] != '-' && val[k] != '.')
            return BAD("name", "expected an identifier (letters, digits, _ - .), got '%s'", val);
    strcpy(name, val);
    return EA_OK;
}

/* Reads val into the field of v that k names; 0 on success, -1 when the value is not what k
 * expects (set_name() reports its own errors). list: room for the values of a KEY_LEN list. */
static int set_value(const case_key *k, const char *val, line_values *v, int32_t *list)
{
    void *field = (char *)v + k->at;
    char *end;
    switch (k->kind) {
    case KEY_INT:
        return parse_i32(val, k->lo, k->hi, field);
    case KEY_LEN:
        return parse_len(val, (int32_t)k->hi, field, list);
    case KEY_WORD:
        for (int32_t w = 0; w < 2; w++)
            if (!strcmp(val, k->words[w])) {
                memcpy(field, &w, sizeof w);
                return 0;
            }
        return -1;
    case KEY_FLOAT: {
        errno = 0;
        const double x = strtod(val, &end);
        if (!*val || *end || errno || !isfinite(x) || x < 0 || x > 1e30)
            return -1;
        *(float *)field = (float)x;
        return 0;
    }
    case KEY_U64: {
        errno = 0;
        if (!*val || *val == '-' || isspace((unsigned char)*val))
            return -1;
        const unsigned long long s = strtoull(val, &end, 10);
        if (*end || errno)
            return -1;
        *(uint64_t *)field = (uint64_t)s;
        return 0;
    }
    case KEY_NAME:
        break;
    }
    return -1;
}

/* What only the whole line can tell: required keys, list lengths against bs, d against dqk/dv,
 * hq against hkv. Fills dqk and dv from d when they were not given. */
static ea_status check_line(line_values *v, uint32_t seen, int lineno)
{
    ea_case *c = &v->c;
    if (!(seen & SEEN(K_NAME)))
        return ea_fail(EA_ERR_PARSE, "line %d: key 'name': required", lineno);
    if (!(seen & SEEN(K_BS)))
        return ea_fail(EA_ERR_PARSE, "line %d: key 'bs': required", lineno);
    if (!(seen & SEEN(K_EXTEND)))
        return ea_fail(EA_ERR_PARSE, "line %d: key 'extend': required", lineno);
    if (c->extend.kind == EA_LEN_LIST && c->extend.count != c->bs)
        return BAD("extend", "has %d values for bs=%d", c->extend.count, c->bs);
    if (c->prefix.kind == EA_LEN_LIST && c->prefix.count != c->bs)
        return BAD("prefix", "has %d values for bs=%d", c->prefix.count, c->bs);
    if ((seen & SEEN(K_D)) && (seen & (SEEN(K_DQK) | SEEN(K_DV))))
        return BAD("d", "%s", "give either d or dqk + dv, not both");
    if (!(seen & SEEN(K_DQK)) != !(seen & SEEN(K_DV)))
        return BAD(seen & SEEN(K_DQK) ? "dv" : "dqk", "%s", "dqk and dv go together");
    if (!(seen & SEEN(K_DQK)))
        c->dqk = c->dv = v->d;
    if (c->hq % c->hkv != 0)
        return BAD("hkv", "hq=%d is not a multiple of hkv=%d", c->hq, c->hkv);
    return EA_OK;
}

/* Parses one non-empty line (comment already cut) into c; the values of its lists go to
 * lists[0] (extend) and lists[1] (prefix), and c's list pointers stay NULL. */
static ea_status parse_line(char *line, int lineno, ea_case *c, int32_t lists[2][EA_CASE_MAX_BS])
{
    line_values v;
    memset(&v, 0, sizeof v);
    v.c.line = lineno;
    v.c.hq = 8;
    v.c.hkv = 2;
    v.c.dtype = EA_F32;
    v.c.causal = 1;
    v.c.window = -1;
    v.c.seed = 1;
    v.d = 128;
    uint32_t seen = 0;
    for (char *tok = strtok(line, " \t\r"); tok; tok = strtok(NULL, " \t\r")) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok)
            return ea_fail(EA_ERR_PARSE, "line %d: expected key=value, got '%s'", lineno, tok);
        *eq = 0;
        const char *key = tok, *val = eq + 1;
        const case_key *k = key_find(key);
        if (!k)
            return ea_fail(EA_ERR_PARSE, "line %d: unknown key '%s'", lineno, key);
        const uint32_t bit = SEEN(k - KEYS);
        if (seen & bit)
            return BAD(key, "given twice (second value '%s')", val);
        seen |= bit;
        if (k->kind == KEY_NAME) {
            const ea_status st = set_name(v.c.name, val, lineno);
            if (st != EA_OK)
                return st;
        } else if (set_value(k, val, &v, lists[k->list])) {
            char expect[80];
            if (k->expect)
                snprintf(expect, sizeof expect, "%s", k->expect);
            else if (k->kind == KEY_INT)
                snprintf(expect, sizeof expect, "an integer in %lld..%lld", k->lo, k->hi);
            else
                snprintf(expect, sizeof expect, "N, a,b,c or rand:LO:HI with values in 0..%lld", k->hi);
            return BAD(key, "expected %s, got '%s'", expect, val);
        }
    }
    const ea_status st = check_line(&v, seen, lineno);
    if (st == EA_OK)
        *c = v.c;
    return st;
}

/* What the parse builds before it knows the final sizes: the cases, their lists' values (one
 * array for all), each case's offsets into it, and an open-addressing hash set of the names. */
typedef struct {
    ea_case *cases;
    int64_t (*list_at)[2]; /* per case: offset of its extend and prefix values, -1 for none */
    int n, cap;
    int32_t *values;
    size_t nvalues, values_cap;
    int32_t *slots; /* hash set: case index + 1, 0 = empty; size a power of two, at most half full */
    size_t nslots;
    uint64_t hash_start;
} parse_state;

static void state_free(parse_state *ps)
{
    free(ps->cases);
    free(ps->list_at);
    free(ps->values);
    free(ps->slots);
}

/* FNV-1a from a per-parse random start, mixed at the end: a file cannot be written to make its
 * names collide in the set, since it cannot know the start. */
static uint64_t name_hash(const char *s, uint64_t start)
{
    uint64_t h = start;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return ea_splitmix64(&h);
}

/* The case with this name, or -1; with insert, adds case `index` when absent. */
static int name_find(parse_state *ps, const char *name, int insert, int index)
{
    const size_t mask = ps->nslots - 1;
    for (size_t k = name_hash(name, ps->hash_start) & mask;; k = (k + 1) & mask) {
        if (!ps->slots[k]) {
            if (insert)
                ps->slots[k] = index + 1;
            return -1;
        }
        if (!strcmp(ps->cases[ps->slots[k] - 1].name, name))
            return ps->slots[k] - 1;
    }
}

/* Room for one more case (and its two hash-set slots). */
static int state_grow(parse_state *ps)
{
    if (ps->n < ps->cap)
        return 0;
    const int cap = ps->cap ? 2 * ps->cap : 16;
    ea_case *cases = realloc(ps->cases, sizeof *cases * (size_t)cap);
    if (cases)
        ps->cases = cases;
    int64_t(*list_at)[2] = realloc(ps->list_at, sizeof *list_at * (size_t)cap);
    if (list_at)
        ps->list_at = list_at;
    int32_t *slots = calloc((size_t)cap * 2, sizeof *slots);
    if (!cases || !list_at || !slots) {
        free(slots);
        return -1;
    }
    free(ps->slots);
    ps->slots = slots;
    ps->nslots = (size_t)cap * 2;
    ps->cap = cap;
    for (int k = 0; k < ps->n; k++)
        name_find(ps, ps->cases[k].name, 1, k);
    return 0;
}

/* Appends a list's values; its offset, or -1 for no list. */
static int64_t values_add(parse_state *ps, const ea_len_spec *spec, const int32_t *values)
{
    if (spec->kind != EA_LEN_LIST)
        return -1;
    const size_t need = ps->nvalues + (size_t)spec->count;
    if (need > ps->values_cap) {
        const size_t cap = need > 2 * ps->values_cap ? need : 2 * ps->values_cap;
        int32_t *grown = realloc(ps->values, sizeof *grown * cap);
        if (!grown)
            return -2;
        ps->values = grown;
        ps->values_cap = cap;
    }
    memcpy(ps->values + ps->nvalues, values, sizeof *values * (size_t)spec->count);
    ps->nvalues = need;
    return (int64_t)(need - (size_t)spec->count);
}

/* One block: the cases, then the values their lists point to (free() once). */
static ea_case *state_finish(const parse_state *ps)
{
    const size_t head = sizeof(ea_case) * (size_t)ps->n;
    ea_case *out = malloc(head + sizeof(int32_t) * ps->nvalues);
    if (!out)
        return NULL;
    memcpy(out, ps->cases, head);
    int32_t *values = (int32_t *)((char *)out + head);
    if (ps->nvalues)
        memcpy(values, ps->values, sizeof(int32_t) * ps->nvalues);
    for (int k = 0; k < ps->n; k++) {
        out[k].extend.list = ps->list_at[k][0] >= 0 ? values + ps->list_at[k][0] : NULL;
        out[k].prefix.list = ps->list_at[k][1] >= 0 ? values + ps->list_at[k][1] : NULL;
    }
    return out;
}

/* Length of the line at p, without its end: LF, CRLF or a lone CR. */
static size_t line_length(const char *p) { return strcspn(p, "\r\n"); }

static const char *next_line(const char *p, size_t len)
{
    p += len;
    if (*p == '\r')
        p++;
    return *p == '\n' ? p + 1 : p;
}

/* Parses one case line (comment already cut) and adds it to the state. */
static ea_status add_line(parse_state *ps, char *line, int lineno)
{
    int32_t lists[2][EA_CASE_MAX_BS];
    if (ps->n >= EA_CASE_MAX_COUNT)
        return ea_fail(EA_ERR_PARSE, "line %d: more than %d cases in one file", lineno, EA_CASE_MAX_COUNT);
    if (state_grow(ps))
        return ea_fail(EA_ERR_NOMEM, "line %d: out of memory", lineno);
    ea_case *c = &ps->cases[ps->n];
    ea_status st = parse_line(line, lineno, c, lists);
    if (st != EA_OK)
        return st;
    const int earlier = name_find(ps, c->name, 0, 0);
    if (earlier >= 0)
        return ea_fail(EA_ERR_PARSE, "line %d: key 'name': '%s' already used on line %d", lineno, c->name,
                       ps->cases[earlier].line);
    const int64_t e = values_add(ps, &c->extend, lists[0]), p = values_add(ps, &c->prefix, lists[1]);
    if (e == -2 || p == -2)
        return ea_fail(EA_ERR_NOMEM, "line %d: out of memory", lineno);
    ps->list_at[ps->n][0] = e;
    ps->list_at[ps->n][1] = p;
    name_find(ps, c->name, 1, ps->n);
    ps->n++;
    return EA_OK;
}

ea_status ea_cases_parse(const char *text, ea_case **cases, int *count)
{
    if (!text || !cases || !count)
        return ea_fail(EA_ERR_NULL, "text, cases and count are required");
    parse_state ps;
    memset(&ps, 0, sizeof ps);
    struct timespec now;
    timespec_get(&now, TIME_UTC);
    ps.hash_start = (uint64_t)now.tv_nsec ^ (uint64_t)now.tv_sec << 32 ^ (uint64_t)(uintptr_t)&ps;
    ea_status st = EA_OK;
    char *line = NULL;
    size_t line_cap = 0;
    int lineno = 0;
    for (const char *p = text; *p && st == EA_OK; ) {
        const size_t len = line_length(p);
        if (lineno == INT32_MAX) {
            st = ea_fail(EA_ERR_PARSE, "more than %d lines", INT32_MAX);
            break;
        }
        lineno++;
        if (len + 1 > line_cap) {
            char *grown = realloc(line, len + 1);
            if (!grown) {
                st = ea_fail(EA_ERR_NOMEM, "line %d: out of memory", lineno);
                break;
            }
            line = grown;
            line_cap = len + 1;
        }
        memcpy(line, p, len);
        line[len] = 0;
        p = next_line(p, len);
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        if (line[strspn(line, " \t")] == 0)
            continue; /* blank or comment-only line */
        st = add_line(&ps, line, lineno);
    }
    free(line);
    if (st == EA_OK && ps.n == 0)
        st = ea_fail(EA_ERR_PARSE, "no cases (the file has no case lines)");
    ea_case *out = NULL;
    if (st == EA_OK && !(out = state_finish(&ps)))
        st = ea_fail(EA_ERR_NOMEM, "out of memory for %d cases", ps.n);
    const int n = ps.n;
    state_free(&ps);
    if (st != EA_OK)
        return st;
    *cases = out;
    *count = n;
    return EA_OK;
}

ea_status ea_cases_load(const char *path, ea_case **cases, int *count)
{
    if (!path)
        return ea_fail(EA_ERR_NULL, "path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f)
        return ea_fail(EA_ERR_IO, "%s: %s", path, strerror(errno));
    /* read at most one byte past the limit: enough to know the file is too large */
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (len > EA_CASE_MAX_FILE_BYTES) {
                free(text);
                fclose(f);
                return ea_fail(EA_ERR_IO, "%s: larger than %zu MiB (%zu bytes)", path, EA_CASE_MAX_FILE_BYTES >> 20,
                               EA_CASE_MAX_FILE_BYTES);
            }
            cap = cap ? 2 * cap : 8192;
            if (cap > EA_CASE_MAX_FILE_BYTES + 1)
                cap = EA_CASE_MAX_FILE_BYTES + 1;
            char *grown = realloc(text, cap + 1);
            if (!grown) {
                free(text);
                fclose(f);
                return ea_fail(EA_ERR_NOMEM, "%s: out of memory", path);
            }
            text = grown;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(text);
        return ea_fail(EA_ERR_IO, "%s: read error", path);
    }
    text[len] = 0;
    if (strlen(text) != len) {
        free(text);
        return ea_fail(EA_ERR_PARSE, "%s: contains a NUL byte", path);
    }
    ea_status st = ea_cases_parse(text, cases, count);
    free(text);
    if (st != EA_OK) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", ea_last_error());
        return ea_fail(st, "%s: %s", path, msg);
    }
    return EA_OK;
}
