#define _POSIX_C_SOURCE 200809L /* clock_gettime */
/* The CUDA context (stream, scratch, wait counter), errors, and the device
 * batch: upload, poison, download. */
#include "cuda_internal.h"
#include "ea_mma.h"
#include "ea_cases.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

ea_status ea_cuda_fail(cudaError_t e, const char *call, const char *file, int line)
{
    ea_status s = EA_ERR_CUDA;
    if (e == cudaErrorMemoryAllocation)
        s = EA_ERR_NOMEM;
    else if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver)
        s = EA_ERR_NO_DEVICE;
    return ea_fail(s, "%s:%d: %s failed: %s (%s)", file, line, call, cudaGetErrorString(e), cudaGetErrorName(e));
}

ea_status ea_cuda_available(void)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaErrorInsufficientDriver) {
        /* the runtime says "insufficient" both for an old driver and for none at all;
         * the driver version tells them apart (0: no driver library was found) */
        int driver = 0, runtime = 0;
        cudaDriverGetVersion(&driver);
        cudaRuntimeGetVersion(&runtime);
        if (driver == 0)
            return ea_fail(EA_ERR_NO_DEVICE, "no CUDA device: no NVIDIA driver is installed on this machine");
        return ea_fail(EA_ERR_NO_DEVICE, "no CUDA device: the NVIDIA driver supports CUDA %d.%d, older than the %d.%d "
                       "this was built with", driver / 1000, driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10);
    }
    if (e != cudaSuccess || n == 0)
        return ea_fail(EA_ERR_NO_DEVICE, "no CUDA device: %s",
                       e != cudaSuccess ? cudaGetErrorString(e) : "the driver reports 0 devices");
    return EA_OK;
}

ea_status ea_cuda_create(ea_cuda_ctx **out)
{
    if (!out)
        return ea_fail(EA_ERR_NULL, "ctx is NULL");
    ea_status st = ea_cuda_available();
    if (st != EA_OK)
        return st;
    ea_cuda_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return ea_fail(EA_ERR_NOMEM, "out of host memory");
    ctx->kernel = EA_KERNEL_CANONICAL;
    cudaError_t e = cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        free(ctx);
        return ea_cuda_fail(e, "cudaStreamCreateWithFlags", __FILE__, __LINE__);
    }
    *out = ctx;
    return EA_OK;
}

ea_status ea_cuda_mem_free(ea_cuda_ctx *ctx, int64_t *free_bytes)
{
    if (!ctx || !free_bytes)
        return ea_fail(EA_ERR_NULL, "ctx and free_bytes are required");
    size_t free_now = 0, total = 0;
    EA_CUDA_TRY(cudaMemGetInfo(&free_now, &total));
    *free_bytes = free_now > (size_t)INT64_MAX ? INT64_MAX : (int64_t)free_now;
    return EA_OK;
}

void ea_cuda_destroy(ea_cuda_ctx *ctx)
{
    if (!ctx)
        return;
    cudaStreamSynchronize(ctx->stream);
    ea_cuda_plan_free(&ctx->own_plan);
    cudaFreeHost(ctx->pinned);
    cudaFree(ctx->d_packed);
    cudaStreamDestroy(ctx->stream);
    free(ctx);
}

void *ea_cuda_stream(const ea_cuda_ctx *ctx) { return ctx ? (void *)ctx->stream : NULL; }

int64_t ea_cuda_host_waits(const ea_cuda_ctx *ctx) { return ctx ? ctx->waits : 0; }

void ea_cuda_reset_waits(ea_cuda_ctx *ctx)
{
    if (ctx)
        ctx->waits = 0;
}

ea_status ea_cuda_set_kernel(ea_cuda_ctx *ctx, ea_kernel k)
{
    if (!ctx)
        return ea_fail(EA_ERR_NULL, "ctx is NULL");
    if (k < EA_KERNEL_FIRST || k > EA_KERNEL_LAST)
        return ea_fail(EA_ERR_ARG, "unknown kernel %d", (int)k);
    ctx->kernel = k;
    return EA_OK;
}

int ea_cuda_mma_model_verified(void)
{
    int dev, major = 0, minor = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess)
        return 0;
    return ea_mma_verified_cc(major, minor);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void ea_cuda_trace_waits(ea_cuda_ctx *ctx, int64_t *buf, int cap)
{
    if (!ctx)
        return;
    ctx->trace = cap > 0 ? buf : NULL;
    ctx->trace_cap = buf ? cap : 0;
    ctx->trace_n = 0;
}

int ea_cuda_traced_waits(const ea_cuda_ctx *ctx) { return ctx ? ctx->trace_n : 0; }

ea_status ea_cuda_wait(ea_cuda_ctx *ctx)
{
    ctx->waits++;
    const int64_t t0 = ctx->trace ? now_ns() : 0;
    cudaError_t e = cudaStreamSynchronize(ctx->stream);
    if (ctx->trace && ctx->trace_n < ctx->trace_cap) {
        ctx->trace[2 * ctx->trace_n] = t0;
        ctx->trace[2 * ctx->trace_n + 1] = now_ns();
        ctx->trace_n++;
    }
    if (e != cudaSuccess)
        return ea_cuda_fail(e, "cudaStreamSynchronize", __FILE__, __LINE__);
    return EA_OK;
}

ea_status ea_cuda_sync(ea_cuda_ctx *ctx)
{
    if (!ctx)
        return ea_fail(EA_ERR_NULL, "ctx is NULL");
    return ea_cuda_wait(ctx);
}

ea_status ea_cuda_pinned_reserve(ea_cuda_ctx *ctx, size_t n)
{
    if (ctx->pinned_len >= n)
        return EA_OK;
    /* copies from the old buffer may still be queued: let them finish first */
    ea_status st = ea_cuda_wait(ctx);
    if (st != EA_OK)
        return st;
    cudaFreeHost(ctx->pinned);
    ctx->pinned = NULL;
    ctx->pinned_len = 0;
    EA_CUDA_TRY(cudaMallocHost((void **)&ctx->pinned, n * sizeof(int32_t)));
    ctx->pinned_len = n;
    return EA_OK;
}

ea_status ea_cuda_pinned_poison(ea_cuda_ctx *ctx)
{
    ea_status st = ea_cuda_wait(ctx); /* no queued copy may still read the scratch */
    if (st == EA_OK && ctx->pinned)
        memset(ctx->pinned, 0, ctx->pinned_len * sizeof(int32_t));
    return st;
}

ea_status ea_cuda_malloc(ea_cuda_ctx *ctx, size_t bytes, void **ptr)
{
    (void)ctx;
    if (!ptr)
        return ea_fail(EA_ERR_NULL, "ptr is NULL");
    *ptr = NULL;
    cudaError_t e = cudaMalloc(ptr, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        *ptr = NULL;
        cudaGetLastError(); /* allocation errors are not sticky: clear it */
        ea_status s = ea_cuda_fail(e, "cudaMalloc", __FILE__, __LINE__);
        char msg[512];
        strncpy(msg, ea_last_error(), sizeof msg - 1);
        msg[sizeof msg - 1] = 0;
        return ea_fail(s, "cannot allocate %zu bytes of device memory: %s", bytes, msg);
    }
    return EA_OK;
}

void ea_cuda_free(void *ptr) { cudaFree(ptr); }

void ea_cuda_batch_free(ea_dev_batch *db)
{
    if (!db)
        return;
    void *bufs[] = {db->qo_indptr, db->prefix_kv_indptr, db->prefix_kv_indices, db->extend_start_loc,
                    db->extend_seq_lens, db->extend_kv_indices, db->custom_mask, db->mask_indptr,
                    (void *)db->params.sinks, db->q, db->k_pool, db->v_pool, db->o};
    for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++)
        cudaFree(bufs[k]);
    free(db);
}

/* Allocates *dst on the device and queues a copy of bytes from src. */
static ea_status upload(ea_cuda_ctx *ctx, void **dst, const void *src, size_t bytes)
{
    ea_status st = ea_cuda_malloc(ctx, bytes, dst);
    if (st == EA_OK && bytes && src) {
        cudaError_t e = cudaMemcpyAsync(*dst, src, bytes, cudaMemcpyHostToDevice, ctx->stream);
        if (e != cudaSuccess)
            return ea_cuda_fail(e, "cudaMemcpyAsync(upload)", __FILE__, __LINE__);
    }
    return st;
}

ea_status ea_cuda_batch_upload(ea_cuda_ctx *ctx, const ea_batch *b, const ea_params *p, const ea_inputs *in,
                               ea_dev_batch **out)
{
    if (!ctx || !out || !in || !in->q || !in->k_pool || !in->v_pool)
        return ea_fail(EA_ERR_NULL, "ctx, out, q, k_pool and v_pool are required");
    ea_status st = ea_validate(b, p);
    if (st != EA_OK)
        return st;
    ea_dev_batch *db = calloc(1, sizeof *db);
    if (!db)
        return ea_fail(EA_ERR_NOMEM, "out of host memory");
    const size_t bs = (size_t)b->bs, es = ea_dtype_size(p->dtype);
    const int32_t N = b->qo_indptr[b->bs];
    db->params = *p;
    db->params.sinks = NULL;
    db->bs = b->bs;
    db->num_tokens = N;
    db->max_extend_len = b->max_extend_len;
    db->pool_size = b->pool_size;
    db->num_prefix_indices = b->num_prefix_indices;
    db->mask_size = b->custom_mask ? b->mask_size : 0;
    void *sinks = NULL;
    if ((st = upload(ctx, (void **)&db->qo_indptr, b->qo_indptr, 4 * (bs + 1))) != EA_OK ||
        (st = upload(ctx, (void **)&db->prefix_kv_indptr, b->prefix_kv_indptr, 4 * (bs + 1))) != EA_OK ||
        (st = upload(ctx, (void **)&db->prefix_kv_indices, b->prefix_kv_indices, 8 * (size_t)b->num_prefix_indices)) != EA_OK ||
        (st = upload(ctx, (void **)&db->extend_start_loc, b->extend_start_loc, 4 * bs)) != EA_OK ||
        (st = upload(ctx, (void **)&db->extend_seq_lens, b->extend_seq_lens, 4 * bs)) != EA_OK ||
        (st = upload(ctx, (void **)&db->extend_kv_indices, b->extend_kv_indices, 8 * (size_t)N)) != EA_OK ||
        (st = upload(ctx, &db->q, in->q, es * (size_t)N * (size_t)p->hq * (size_t)p->dqk)) != EA_OK ||
        (st = upload(ctx, &db->k_pool, in->k_pool, es * (size_t)b->pool_size * (size_t)p->hkv * (size_t)p->dqk)) != EA_OK ||
        (st = upload(ctx, &db->v_pool, in->v_pool, es * (size_t)b->pool_size * (size_t)p->hkv * (size_t)p->dv)) != EA_OK ||
        (st = upload(ctx, &db->o, NULL, es * (size_t)N * (size_t)p->hq * (size_t)p->dv)) != EA_OK)
        goto fail;
    if (b->custom_mask &&
        ((st = upload(ctx, (void **)&db->custom_mask, b->custom_mask, (size_t)b->mask_size)) != EA_OK ||
         (st = upload(ctx, (void **)&db->mask_indptr, b->mask_indptr, 4 * (bs + 1))) != EA_OK))
        goto fail;
    if (p->sinks) {
        if ((st = upload(ctx, &sinks, p->sinks, sizeof(float) * (size_t)p->hq)) != EA_OK)
            goto fail;
        db->params.sinks = sinks;
    }
    /* the host arrays may be freed when we return: wait for the copies */
    if ((st = ea_cuda_wait(ctx)) != EA_OK)
        goto fail;
    *out = db;
    return EA_OK;
fail:
    cudaStreamSynchronize(ctx->stream);
    if (sinks && !db->params.sinks)
        cudaFree(sinks);
    ea_cuda_batch_free(db);
    return st;
}

ea_status ea_cuda_poison_output(ea_cuda_ctx *ctx, ea_dev_batch *db)
{
    if (!ctx || !db)
        return ea_fail(EA_ERR_NULL, "ctx and db are required");
    const int bf16 = db->params.dtype == EA_BF16;
    const int64_t n = (int64_t)db->num_tokens * db->params.hq * db->params.dv;
    EA_CUDA_TRY(ea_launch_fill(db->o, n, bf16 ? 2 : 4, bf16 ? EA_SENTINEL_BF16 : EA_SENTINEL_F32, ctx->stream));
    return EA_OK;
}

ea_status ea_cuda_download_output(ea_cuda_ctx *ctx, const ea_dev_batch *db, void *host_o)
{
    if (!ctx || !db || !host_o)
        return ea_fail(EA_ERR_NULL, "ctx, db and host_o are required");
    const size_t bytes =
        ea_dtype_size(db->params.dtype) * (size_t)db->num_tokens * (size_t)db->params.hq * (size_t)db->params.dv;
    EA_CUDA_TRY(cudaMemcpyAsync(host_o, db->o, bytes, cudaMemcpyDeviceToHost, ctx->stream));
    return ea_cuda_wait(ctx);
}

ea_status ea_cuda_queue_busy(ea_cuda_ctx *ctx, int64_t ns)
{
    if (!ctx)
        return ea_fail(EA_ERR_NULL, "ctx is NULL");
    EA_CUDA_TRY(ea_launch_spin(ns, ctx->stream));
    return EA_OK;
}
