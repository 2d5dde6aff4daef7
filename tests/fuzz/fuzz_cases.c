/* Fuzz target: the case-file parser, and the generator on the tiny cases it accepts.
 * Any crash, sanitizer report or leak is a finding. Built with libFuzzer
 * (make fuzz) or with tests/fuzz/replay_main.c (make test replays the corpus). */
#include "ea_cases.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    ea_case *cases = NULL;
    int n = 0;
    if (ea_cases_parse(text, &cases, &n) == EA_OK) {
        if (n < 1 || !cases)
            abort(); /* success must return cases */
        for (int k = 0; k < n; k++) {
            const ea_case *c = &cases[k];
            /* generate only what stays small: the point is the parser's output, not big allocations */
            const int32_t e_max = c->extend.kind == EA_LEN_ALL ? c->extend.lo : c->extend.kind == EA_LEN_RAND ? c->extend.hi : 64;
            const int32_t p_max = c->prefix.kind == EA_LEN_ALL ? c->prefix.lo : c->prefix.kind == EA_LEN_RAND ? c->prefix.hi : 64;
            if (c->bs > 4 || e_max > 64 || p_max > 64 || c->hq > 8 || c->dqk > 32 || c->dv > 32)
                continue;
            ea_problem pr;
            ea_host_batch hb;
            if (ea_problem_make(c, &pr) != EA_OK)
                continue;
            if (ea_host_batch_make(&pr, NULL, 0, NULL, &hb) == EA_OK) {
                if (ea_validate(&hb.batch, &pr.params) != EA_OK)
                    abort(); /* the generator must make valid batches */
                ea_host_batch_free(&hb);
            }
            ea_problem_free(&pr);
        }
        free(cases);
    } else if (cases || n) {
        abort(); /* failure must leave the outputs untouched */
    }
    free(text);
    return 0;
}
