/* The numbered attention kernels by name and by CPU reference, shared by the CUDA build and the
 * no-CUDA stub. The launchers themselves are chosen in optimized/strategies.c (ea_cuda_run). */
#include "ea_cuda.h"
#include "../reference/ea_fail.h"

#include <string.h>

static const struct {
    const char *name;
    int tensor_cores; /* 1: the tensor-core order, else the canonical order */
} kernels[EA_KERNEL_LAST + 1] = {
    [EA_KERNEL_NAIVE] = {"naive", 0},
    [EA_KERNEL_SMEM_TILES] = {"smem_tiles", 0},
    [EA_KERNEL_GQA_BLOCKING] = {"gqa_blocking", 0},
    [EA_KERNEL_VECTOR_GATHERS] = {"vector_gathers", 0},
    [EA_KERNEL_BITMASKS] = {"bitmasks", 0},
    [EA_KERNEL_TC] = {"tc", 1},
};

static int known(ea_kernel k) { return k >= EA_KERNEL_FIRST && k <= EA_KERNEL_LAST; }

const char *ea_kernel_name(ea_kernel k) { return known(k) ? kernels[k].name : "unknown"; }

ea_reference_fn ea_kernel_reference(ea_kernel k)
{
    if (!known(k))
        return NULL;
    return kernels[k].tensor_cores ? ea_reference_tc : ea_reference_canonical;
}

ea_status ea_kernel_parse(const char *s, ea_kernel *k)
{
    if (!s || !k)
        return ea_fail(EA_ERR_NULL, "a kernel word and a place for the kernel are required");
    for (int n = EA_KERNEL_FIRST; n <= EA_KERNEL_LAST; n++) {
        const char number[2] = {(char)('0' + n), 0};
        if (!strcmp(s, number) || !strcmp(s, kernels[n].name)) {
            *k = (ea_kernel)n;
            return EA_OK;
        }
    }
    if (!strcmp(s, "canonical")) {
        *k = EA_KERNEL_CANONICAL;
        return EA_OK;
    }
    return ea_fail(EA_ERR_ARG,
                   "unknown kernel '%.40s': 1 naive, 2 smem_tiles, 3 gqa_blocking, 4 vector_gathers, 5 bitmasks "
                   "(canonical), 6 tc",
                   s);
}
