/* Fuzz target: long case files, made from a short one. The input's text is
 * written K times (K from its first byte, up to 64), each copy's `name=` values
 * replaced by names unique to the copy, one newline between copies. Parsing the
 * long file must agree with parsing one copy: the same first error, or K times
 * the cases with the same fields. This drives the parser's growth (the case
 * array, the lists' values, the name set's rehashing) far past what an 8 KB
 * input reaches, at the fuzzer's speed. */
#include "ea_cases.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends the text with every name value replaced by `c<copy>_<occurrence>`; returns the new end. */
static char *write_copy(char *out, const char *text, int copy)
{
    int occurrence = 0;
    for (const char *p = text; *p;) {
        if (!strncmp(p, "name=", 5)) {
            out += sprintf(out, "name=c%d_%d", copy, occurrence++);
            p += 5 + strcspn(p + 5, " \t\r\n#");
        } else {
            *out++ = *p++;
        }
    }
    *out = 0;
    return out;
}

/* The same case, names and line numbers aside. */
static int same_case(const ea_case *a, const ea_case *b)
{
    int same = a->bs == b->bs && a->hq == b->hq && a->hkv == b->hkv && a->dqk == b->dqk && a->dv == b->dv &&
               a->dtype == b->dtype && a->causal == b->causal && a->window == b->window && a->cap == b->cap &&
               a->sinks == b->sinks && a->mask == b->mask && a->seed == b->seed && a->slots_linear == b->slots_linear;
    const ea_len_spec *s[2][2] = {{&a->extend, &a->prefix}, {&b->extend, &b->prefix}};
    for (int k = 0; k < 2; k++) {
        const ea_len_spec *x = s[0][k], *y = s[1][k];
        same &= x->kind == y->kind && x->lo == y->lo && x->hi == y->hi && x->count == y->count;
        if (same && x->kind == EA_LEN_LIST)
            same &= !memcmp(x->list, y->list, sizeof(int32_t) * (size_t)x->count);
    }
    return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const int copies = 1 + data[0] % 64;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0; /* a NUL inside ends the text, as for a file */
    /* a copy grows by at most 12 characters per name= (5 bytes): 3x its length is room enough */
    const size_t room = 3 * strlen(text) + 16;
    char *one = malloc(room), *many = malloc(room * (size_t)copies + 1), *end = many;
    write_copy(one, text, 0);
    for (int k = 0; k < copies; k++) {
        end = write_copy(end, text, k);
        *end++ = '\n';
        *end = 0;
    }
    ea_case *c1 = NULL, *cn = NULL;
    int n1 = 0, nn = 0;
    const ea_status s1 = ea_cases_parse(one, &c1, &n1);
    char msg1[512];
    snprintf(msg1, sizeof msg1, "%s", ea_last_error());
    const ea_status sn = ea_cases_parse(many, &cn, &nn);
    if (s1 != EA_OK) {
        if (sn == EA_OK || strcmp(msg1, ea_last_error()))
            abort(); /* the first copy's first error comes first */
    } else if ((int64_t)n1 * copies <= EA_CASE_MAX_COUNT) {
        if (sn != EA_OK || nn != n1 * copies)
            abort();
        for (int k = 0; k < nn; k++)
            if (!same_case(&cn[k], &c1[k % n1]))
                abort();
    }
    free(c1);
    free(cn);
    free(one);
    free(many);
    free(text);
    return 0;
}
