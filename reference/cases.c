/* The case-file parser (DESIGN.md section 5). One case per line, `#` starts a
 * comment, `key=value` tokens. A bad line is reported with its line number and
 * key, and the caller's outputs are left untouched. */
#include "ea_cases.h"
#include "ea_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* `7`, `1,2,3` or `rand:LO:HI`; the list length is checked once bs is known. */
static int parse_len(const char *s, int32_t max, ea_len_spec *out, int *list_len)
{
    ea_len_spec v;
    memset(&v, 0, sizeof v);
    *list_len = 0;
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
            if (len == 0 || len >= sizeof num || *list_len >= EA_CASE_MAX_BS)
                return -1;
            memcpy(num, p, len);
            num[len] = 0;
            if (parse_i32(num, 0, max, &v.list[*list_len]))
                return -1;
            (*list_len)++;
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

#define BAD(key, fmt, ...) ea_fail(EA_ERR_PARSE, "line %d: key '%s': " fmt, lineno, key, __VA_ARGS__)

/* Parses one non-empty line (comment already cut) into c. */
static ea_status parse_line(char *line, int lineno, ea_case *c)
{
    int have_name = 0, have_bs = 0, have_extend = 0, have_d = 0, have_dqk = 0, have_dv = 0;
    int n_extend = 0, n_prefix = 0;
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
            if (parse_len(val, EA_CASE_MAX_EXTEND, &c->extend, &n_extend))
                return BAD(key, "expected N, a,b,c or rand:LO:HI with values in 0..%d, got '%s'",
                           EA_CASE_MAX_EXTEND, val);
            have_extend = 1;
        } else if (!strcmp(key, "prefix")) {
            if (parse_len(val, EA_CASE_MAX_PREFIX, &c->prefix, &n_prefix))
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
        } else if (!strcmp(key, "slots")) {
            if (!strcmp(val, "shuffle"))
                c->slots_linear = 0;
            else if (!strcmp(val, "linear"))
                c->slots_linear = 1;
            else
                return BAD(key, "expected shuffle or linear, got '%s'", val);
        } else {
            return ea_fail(EA_ERR_PARSE, "line %d: unknown key '%s'", lineno, key);
        }
    }
    if (!have_name)
        return ea_fail(EA_ERR_PARSE, "line %d: key 'name': required", lineno);
    if (!have_bs)
        return ea_fail(EA_ERR_PARSE, "line %d: key 'bs': required", lineno);
    if (!have_extend)
        return ea_fail(EA_ERR_PARSE, "line %d: key 'extend': required", lineno);
    if (n_extend && n_extend != c->bs)
        return BAD("extend", "has %d values for bs=%d", n_extend, c->bs);
    if (n_prefix && n_prefix != c->bs)
        return BAD("prefix", "has %d values for bs=%d", n_prefix, c->bs);
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

ea_status ea_cases_parse(const char *text, ea_case **cases, int *count)
{
    if (!text || !cases || !count)
        return ea_fail(EA_ERR_NULL, "text, cases and count are required");
    ea_case *list = NULL;
    int n = 0, cap = 0, lineno = 0;
    ea_status st = EA_OK;
    char *line = NULL;
    for (const char *p = text; *p && st == EA_OK;) {
        size_t len = strcspn(p, "\n");
        lineno++;
        free(line);
        line = malloc(len + 1);
        if (!line) {
            st = ea_fail(EA_ERR_NOMEM, "line %d: out of memory", lineno);
            break;
        }
        memcpy(line, p, len);
        line[len] = 0;
        p += len + (p[len] == '\n');
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        if (line[strspn(line, " \t\r")] == 0)
            continue; /* blank or comment-only line */
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            ea_case *grown = realloc(list, sizeof *list * (size_t)cap);
            if (!grown) {
                st = ea_fail(EA_ERR_NOMEM, "line %d: out of memory", lineno);
                break;
            }
            list = grown;
        }
        st = parse_line(line, lineno, &list[n]);
        for (int k = 0; st == EA_OK && k < n; k++)
            if (!strcmp(list[k].name, list[n].name))
                st = ea_fail(EA_ERR_PARSE, "line %d: key 'name': '%s' already used on line %d", lineno,
                             list[n].name, list[k].line);
        n++;
    }
    free(line);
    if (st == EA_OK && n == 0)
        st = ea_fail(EA_ERR_PARSE, "no cases (the file has no case lines)");
    if (st != EA_OK) {
        free(list);
        return st;
    }
    *cases = list;
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
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            if (cap > ((size_t)64 << 20)) {
                free(text);
                fclose(f);
                return ea_fail(EA_ERR_IO, "%s: larger than 64 MiB", path);
            }
            cap = cap ? 2 * cap : 8192;
            char *grown = realloc(text, cap);
            if (!grown) {
                free(text);
                fclose(f);
                return ea_fail(EA_ERR_NOMEM, "%s: out of memory", path);
            }
            text = grown;
        }
        size_t got = fread(text + len, 1, cap - len - 1, f);
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
