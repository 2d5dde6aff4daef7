/* ea-bench-sync --tp N: the sync bubble under tensor parallelism (sync_tp.c). */
#ifndef EA_BENCH_SYNC_TP_H
#define EA_BENCH_SYNC_TP_H

#include "ea_cuda.h"

typedef struct {
    int tp_list[8], ntp;     /* the tensor-parallel sizes, run one after the other */
    const int *bs_list;
    int nbs;
    const char *prefix_mode; /* "0", "rand" or "both" */
    int layers, repeats;
    ea_kernel kernel;
    const char *csv_path, *trace_path; /* NULL: not written */
} tp_options;

/* Runs every (tp, prefix, bs) configuration and prints its table; the program's exit status
 * (2, with a message, where NCCL was not built in). */
int tp_bench(const tp_options *o);

#endif
