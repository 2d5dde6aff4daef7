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
            ea_cost cost;
            if (ea_case_cost(c, &cost) != EA_OK)
                abort(); /* every parsed case is a valid case */
            /* generate only what stays small: the point is the parser's output, not big allocations */
            if (cost.problem_bytes > (1 << 20) || cost.batch_bytes > (1 << 20))
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
