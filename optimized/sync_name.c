/* Strategy and kernel names, shared by the CUDA build and the no-CUDA stub. */
#include "ea_cuda.h"

const char *ea_sync_name(ea_sync s)
{
    switch (s) {
    case EA_SYNC_PER_REQUEST:
        return "per_request";
    case EA_SYNC_BATCHED:
        return "batched";
    case EA_SYNC_DEVICE:
        return "device";
    default:
        return "unknown";
    }
}

const char *ea_kernel_name(ea_kernel k)
{
    switch (k) {
    case EA_KERNEL_CANONICAL:
        return "canonical";
    case EA_KERNEL_TC:
        return "tc";
    default:
        return "unknown";
    }
}
