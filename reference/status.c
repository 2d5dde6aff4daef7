/* Status strings and the per-thread error message. */
#include "ea_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[512];

const char *ea_status_str(ea_status s)
{
    switch (s) {
#define EA_X_CASE(code, text) \
    case code:                \
        return text;
        EA_STATUS_TABLE(EA_X_CASE)
#undef EA_X_CASE
    default:
        return "unknown status";
    }
}

const char *ea_last_error(void) { return last_error; }

ea_status ea_fail(ea_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return s;
}

size_t ea_dtype_size(ea_dtype t) { return t == EA_BF16 ? 2 : 4; }

ea_params ea_params_default(int32_t hq, int32_t hkv, int32_t dqk, int32_t dv)
{
    ea_params p;
    memset(&p, 0, sizeof p);
    p.hq = hq;
    p.hkv = hkv;
    p.dqk = dqk;
    p.dv = dv;
    p.sm_scale = dqk > 0 ? (float)(1.0 / sqrt((double)dqk)) : 1.0f;
    p.logit_cap = 0.0f;
    p.causal = 1;
    p.sliding_window = -1;
    p.sinks = NULL;
    p.dtype = EA_F32;
    return p;
}

int64_t ea_tensor_elems(int64_t rows, int64_t heads, int64_t dim)
{
    if (rows < 0 || heads < 0 || dim < 0)
        return -1;
    if (rows == 0 || heads == 0 || dim == 0)
        return 0;
    if (rows > EA_MAX_ELEMENTS / heads || rows * heads > EA_MAX_ELEMENTS / dim)
        return -1;
    return rows * heads * dim;
}
