/* Strategy and step names, and the host waits of each step: expanded from the tables of
 * ea_cuda.h, shared by the CUDA build and the no-CUDA stub. */
#include "ea_cuda.h"

/* The tables' values must number their rows 0..count-1 (the switches below reject a value used
 * twice), and the graph must come right after the strategies. */
#define EA_X_IN_RANGE(id, value, name, waits, what) \
    _Static_assert((value) >= 0 && (value) < EA_STEP_COUNT, "EA_STEP_TABLE: " name ": value outside 0..count-1");
EA_STEP_TABLE(EA_X_IN_RANGE)
#undef EA_X_IN_RANGE
_Static_assert(EA_STEP_GRAPH == (int)EA_SYNC_COUNT && EA_STEP_COUNT == EA_SYNC_COUNT + 1,
               "EA_STEP_TABLE: the strategies, then the graph");

const char *ea_sync_name(ea_sync s)
{
    switch (s) {
#define EA_X_NAME(id, value, name, waits, what) \
    case EA_SYNC_##id:                          \
        return name;
        EA_SYNC_TABLE(EA_X_NAME)
#undef EA_X_NAME
    default:
        return "unknown";
    }
}

const char *ea_step_name(ea_step s)
{
    switch (s) {
#define EA_X_NAME(id, value, name, waits, what) \
    case EA_STEP_##id:                          \
        return name;
        EA_STEP_TABLE(EA_X_NAME)
#undef EA_X_NAME
    default:
        return "unknown";
    }
}

ea_sync ea_step_strategy(ea_step s)
{
    if (s == EA_STEP_GRAPH)
        return EA_SYNC_DEVICE; /* what ea_cuda_graph_capture() records */
    return (unsigned)s < EA_SYNC_COUNT ? (ea_sync)s : EA_SYNC_COUNT;
}

int64_t ea_step_expected_waits(ea_step s, int32_t bs)
{
    switch (s) {
#define EA_X_WAITS(id, value, name, waits, what) \
    case EA_STEP_##id:                           \
        return (waits);
        EA_STEP_TABLE(EA_X_WAITS)
#undef EA_X_WAITS
    default:
        return -1;
    }
}
