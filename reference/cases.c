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

/* The keys of a line, one bit each, to refuse a key given twice. */
static const char *const KEYS[] = {"name", "bs",   "extend", "prefix", "hq",   "hkv",  "d",    "dqk", "dv",
                                   "dtype", "causal", "window", "cap",  "sinks", "mask", "seed", "slots"};
enum { NKEYS = sizeof KEYS / sizeof KEYS[0] };

static int key_index(const char *key)
{
    for (int k = 0; k < NKEYS; k++)
        if (!strcmp(key, KEYS[k]))
            return k;
    return -1;
}

#define BAD(key, fmt, ...) ea_fail(EA_ERR_PARSE, "line %d: key '%s': " fmt, lineno, key, __VA_ARGS__)

/* Parses one non-empty line (comment already cut) into c; the values of its lists go to
 * lists[0] (extend) and lists[1] (prefix), and c's list pointers stay NULL. */
static ea_status parse_line(char *line, int lineno, ea_case *c, int32_t lists[2][EA_CASE_MAX_BS])
{
    int have_name = 0, have_bs = 0, have_extend = 0, have_d = 0, have_dqk = 0, have_dv = 0;
    uint32_t seen = 0;
    int32_t d = 128;
    memset(c, 0, sizeof *c);
    c->line = lineno;
    c->hq = 8;
    c->hkv = 2;
    c->dtype = EA_F32;
    c->causal = 1;
    c->window = -1;
    c->seed = 1;

    for (char *tok = strtok(line, " \t\r"); tok; tok = strtok(NULL, " \t\r")) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok)
            return ea_fail(EA_ERR_PARSE, "line %d: expected key=value, got '%s'", lineno, tok);
        *eq = 0;
        const char *key = tok, *val = eq + 1;
        const int ki = key_index(key);
        if (ki < 0)
            return ea_fail(EA_ERR_PARSE, "line %d: unknown key '%s'", lineno, key);
        if (seen & (1u << ki))
            return BAD(key, "given twice (second value '%s')", val);
        seen |= 1u << ki;
        if (!strcmp(key, "name")) {
            size_t len = strlen(val);
            if (len == 0 || len >= sizeof c->name)
                return BAD(key, "expected an identifier of 1..%zu characters, got '%s'", sizeof c->name - 1, val);
            for (size_t k = 0; k < len; k++)
                if (!isalnum((unsigned char)val[k]) && val[k] != '_' && val[k] != '-' && val[k] != '.')
                    return BAD(key, "expected an identifier (letters, digits, _ - .), got '%s'", val);
            strcpy(c->name, val);
            have_name = 1;
        } else if (!strcmp(key, "bs")) {
            if (parse_i32(val, 1, EA_CASE_MAX_BS, &c->bs))
                return BAD(key, "expected an integer in 1..%d, got '%s'", EA_CASE_MAX_BS, val);
            have_bs = 1;
        } else if (!strcmp(key, "extend")) {
            if (parse_len(val, EA_CASE_MAX_EXTEND, &c->extend, lists[0]))
                return BAD(key, "expected N, a,b,c or rand:LO:HI with values in 0..%d, got '%s'",
                           EA_CASE_MAX_EXTEND, val);
            have_extend = 1;
        } else if (!strcmp(key, "prefix")) {
            if (parse_len(val, EA_CASE_MAX_PREFIX, &c->prefix, lists[1]))
                return BAD(key, "expected N, a,b,c or rand:LO:HI with values in 0..%d, got '%s'",
                           EA_CASE_MAX_PREFIX, val);
        } else if (!strcmp(key, "hq") || !strcmp(key, "hkv")) {
            int32_t *dst = key[1] == 'q' ? &c->hq : &c->hkv;
            if (parse_i32(val, 1, EA_MAX_HEADS, dst))
                return BAD(key, "expected an integer in 1..%d, got '%s'", EA_MAX_HEADS, val);
        } else if (!strcmp(key, "d") || !strcmp(key, "dqk") || !strcmp(key, "dv")) {
            int32_t *dst = !strcmp(key, "d") ? &d : !strcmp(key, "dqk") ? &c->dqk : &c->dv;
            if (parse_i32(val, 1, EA_MAX_HEAD_DIM, dst))
                return BAD(key, "expected an integer in 1..%d, got '%s'", EA_MAX_HEAD_DIM, val);
            have_d |= !strcmp(key, "d");
            have_dqk |= !strcmp(key, "dqk");
            have_dv |= !strcmp(key, "dv");
        } else if (!strcmp(key, "dtype")) {
            if (!strcmp(val, "f32"))
                c->dtype = EA_F32;
            else if (!strcmp(val, "bf16"))
                c->dtype = EA_BF16;
            else
                return BAD(key, "expected f32 or bf16, got '%s'", val);
        } else if (!strcmp(key, "causal") || !strcmp(key, "sinks")) {
            if (parse_i32(val, 0, 1, key[0] == 'c' ? &c->causal : &c->sinks))
                return BAD(key, "expected 0 or 1, got '%s'", val);
        } else if (!strcmp(key, "window")) {
            if (parse_i32(val, -1, INT32_MAX, &c->window))
                return BAD(key, "expected -1 or an integer >= 0, got '%s'", val);
        } else if (!strcmp(key, "cap")) {
            char *end;
            errno = 0;
            double x = strtod(val, &end);
            if (!*val || *end || errno || !isfinite(x) || x < 0 || x > 1e30)
                return BAD(key, "expected a finite float >= 0, got '%s'", val);
            c->cap = (float)x;
        } else if (!strcmp(key, "mask")) {
            if (!strcmp(val, "none"))
                c->mask = 0;
            else if (!strcmp(val, "rand"))
                c->mask = 1;
            else
                return BAD(key, "expected none or rand, got '%s'", val);
        } else if (!strcmp(key, "seed")) {
            char *end;
            errno = 0;
            if (!*val || *val == '-' || isspace((unsigned char)*val))
                return BAD(key, "expected an unsigned 64-bit integer, got '%s'", val);
            unsigned long long s = strtoull(val, &end, 10);
            if (*end || errno)
                return BAD(key, "expected an unsigned 64-bit integer, got '%s'", val);
            c->seed = (uint64_t)s;
        } else { /* slots: key_index() let nothing else through */
            if (!strcmp(val, "shuffle"))
                c->slots_linear = 0;
            else if (!strcmp(val, "linear"))
                c->slots_linear = 1;
            else
                return BAD(key, "expected shuffle or linear, got '%s'", val);
        }
    }
    if (!have_name)
        return ea_fail(EA_ERR_PARSE, "line %d: key 'name': required", lineno);
    if (!have_bs)
        return ea_fail(EA_ERR_PARSE, "line %d: key 'bs': required", lineno);
    if (!have_extend)
        return ea_fail(EA_ERR_PARSE, "line %d: key 'extend': required", lineno);
    if (c->extend.kind == EA_LEN_LIST && c->extend.count != c->bs)
        return BAD("extend", "has %d values for bs=%d", c->extend.count, c->bs);
    if (c->prefix.kind == EA_LEN_LIST && c->prefix.count != c->bs)
        return BAD("prefix", "has %d values for bs=%d", c->prefix.count, c->bs);
    if (have_d && (have_dqk || have_dv))
        return BAD("d", "%s", "give either d or dqk + dv, not both");
    if (have_dqk != have_dv)
        return BAD(have_dqk ? "dv" : "dqk", "%s", "dqk and dv go together");
    if (!have_dqk)
        c->dqk = c->dv = d;
    if (c->hq % c->hkv != 0)
        return BAD("hkv", "hq=%d is not a multiple of hkv=%d", c->hq, c->hkv);
    return EA_OK;
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
