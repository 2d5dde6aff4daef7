/* Strategy names, shared by the CUDA build and the no-CUDA stub. */
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
