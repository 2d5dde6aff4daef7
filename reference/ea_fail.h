/* The library's one error reporter (defined in reference/status.c): the only part of the core's
 * internals that optimized/ includes (as "../reference/ea_fail.h"; reference/ea_internal.h, the
 * rest, stays out of its reach). Internal: not installed. */
#ifndef EA_FAIL_H
#define EA_FAIL_H

#include "ea.h"

#if defined(__GNUC__)
#define EA_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define EA_PRINTF(a, b)
#endif

/* Records the message for ea_last_error() and returns s, so callers write
 * `return ea_fail(EA_ERR_X, "request %d: ...", i);`. */
ea_status ea_fail(ea_status s, const char *fmt, ...) EA_PRINTF(2, 3);

#endif /* EA_FAIL_H */
