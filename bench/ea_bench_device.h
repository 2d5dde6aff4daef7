/* What the benchmarks read from the device: its peak arithmetic rates and how much to write to
 * flush its L2 cache. Header-only (static functions) for the bench tools.
 *
 * Peak rates: SMs (cudaDevAttrMultiProcessorCount) x clock (cudaDevAttrClockRate, the highest
 * boost clock the driver reports) x what one SM does per clock, by compute capability:
 *
 *   cc    fp32 FMA lanes/SM   dense bf16 tensor FLOP/clk/SM (fp32 accumulation)
 *   8.0          64            2048   A100: 312 TFLOP/s = 108 SMs x 2048 x 1410 MHz; fp32 19.5 TFLOP/s
 *                                     = 108 x 64 x 2 x 1410 MHz (NVIDIA A100 Tensor Core GPU
 *                                     Architecture whitepaper, 2020, table 1)
 *   8.6         128            1024   RTX A4000: 153.4 TFLOP/s with 2:4 sparsity = 2 x 48 x 1024 x 1560 MHz;
 *                                     RTX A6000 fp32 38.7 TFLOP/s = 84 x 128 x 2 x 1800 MHz (product
 *                                     datasheets; NVIDIA Ampere GA102 GPU Architecture whitepaper v2.0)
 *   8.9         128            1024   Ada's SM keeps GA102's tensor rate per clock (NVIDIA Ada GPU
 *                                     Architecture whitepaper v2.01; RTX 6000 Ada, L40S); RTX 4090 fp32
 *                                     82.6 TFLOP/s = 128 x 128 x 2 x 2520 MHz
 *   9.0         128            4096   H100 SXM5: 989 TFLOP/s = 132 x 4096 x 1830 MHz, fp32 66.9 TFLOP/s
 *                                     = 132 x 128 x 2 x 1980 MHz (NVIDIA H100 Tensor Core GPU
 *                                     Architecture whitepaper, 2022, table 3)
 *
 * GeForce cards of 8.6 and 8.9 run bf16 with fp32 accumulation at half that tensor rate (GA102
 * whitepaper, appendix A: RTX 3090 71 TFLOP/s = 82 x 512 x 1695 MHz; Ada whitepaper: RTX 4090
 * 165.2 TFLOP/s = 128 x 512 x 2520 MHz), and so does the L40: there the figure is halved for a
 * name with "GeForce" only, so it stays an upper bound for an L40.
 *
 * Both peaks are upper bounds: the driver's clock is the highest boost clock, and NVIDIA's tensor
 * figures assume a lower one (H100 SXM5: 1830 MHz, while the driver reports 1980 MHz, so this
 * tensor peak reads 8% above the whitepaper's 989). The per-SM counts follow the NVIDIA forum
 * thread "How to calculate the Tensor Core FP16 performance of H100" (forums.developer.nvidia.com,
 * 244727), which derives them from the same whitepaper tables. An architecture not in the table
 * gets no peak: the tools print "peak unknown" rather than a ratio.
 *
 * L2 flush: a memset of max(2 x L2, 64 MB) before every timed repeat. Twice the L2: on A100 and
 * H100 the L2 is two partitions that may both hold a line, and the replacement is not strict LRU,
 * so writing exactly the L2's size can leave some of the inputs cached. At least 64 MB: where the
 * driver reports a small L2 or none (a MIG slice, say), the flush stays a sizeable write; 64 MB
 * take tens of microseconds to write, outside the timed span. (It used to be a fixed 256 MB.) */
#ifndef EA_BENCH_DEVICE_H
#define EA_BENCH_DEVICE_H

#include <cuda_runtime_api.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    struct cudaDeviceProp prop; /* name, major, minor, l2CacheSize */
    int sms;                    /* multiprocessors */
    int clock_khz;              /* highest boost clock the driver reports */
    double fp32_peak;           /* FLOP/s, fp32 FMA counted as 2; 0 when the architecture is not in the table */
    double bf16_peak;           /* FLOP/s, dense bf16 tensor-core mma with fp32 accumulation; 0 when unknown */
    size_t flush_bytes;         /* bytes to write to flush the L2 */
} ea_bench_device;

/* The table above. 0, 0 for an architecture it does not know. */
static void ea_bench_per_sm(const struct cudaDeviceProp *prop, int *fp32_lanes, int *bf16_flop_clk)
{
    static const struct { int major, minor, fp32_lanes, bf16_flop_clk; } TABLE[] = {
        {8, 0, 64, 2048}, {8, 6, 128, 1024}, {8, 9, 128, 1024}, {9, 0, 128, 4096},
    };
    *fp32_lanes = *bf16_flop_clk = 0;
    for (size_t k = 0; k < sizeof TABLE / sizeof TABLE[0]; k++)
        if (TABLE[k].major == prop->major && TABLE[k].minor == prop->minor) {
            *fp32_lanes = TABLE[k].fp32_lanes;
            /* GeForce: bf16 with fp32 accumulation at half rate (see above) */
            *bf16_flop_clk = TABLE[k].bf16_flop_clk / (prop->major == 8 && prop->minor > 0 &&
                                                       strstr(prop->name, "GeForce") ? 2 : 1);
        }
}

/* Fills d for device dev; the CUDA error of the first query that failed, else cudaSuccess. */
static cudaError_t ea_bench_device_query(int dev, ea_bench_device *d)
{
    cudaError_t e;
    memset(d, 0, sizeof *d);
    if ((e = cudaGetDeviceProperties(&d->prop, dev)) != cudaSuccess ||
        (e = cudaDeviceGetAttribute(&d->sms, cudaDevAttrMultiProcessorCount, dev)) != cudaSuccess ||
        (e = cudaDeviceGetAttribute(&d->clock_khz, cudaDevAttrClockRate, dev)) != cudaSuccess)
        return e;
    int lanes, tc;
    ea_bench_per_sm(&d->prop, &lanes, &tc);
    const double clock_hz = d->clock_khz * 1e3;
    d->fp32_peak = d->sms * (double)lanes * 2.0 * clock_hz;
    d->bf16_peak = d->sms * (double)tc * clock_hz;
    const size_t l2 = d->prop.l2CacheSize > 0 ? (size_t)d->prop.l2CacheSize : 0, floor = (size_t)64 << 20;
    d->flush_bytes = 2 * l2 > floor ? 2 * l2 : floor;
    return cudaSuccess;
}

/* "fp32 FMA peak 66.9 TFLOP/s, bf16 tensor peak 1070.5 TFLOP/s", or "... peak unknown (sm_100)". */
static const char *ea_bench_peaks(const ea_bench_device *d, char *buf, size_t len)
{
    if (d->fp32_peak > 0)
        snprintf(buf, len, "fp32 FMA peak %.1f TFLOP/s, bf16 tensor peak %.1f TFLOP/s", d->fp32_peak / 1e12,
                 d->bf16_peak / 1e12);
    else
        snprintf(buf, len, "fp32 FMA and bf16 tensor peak unknown (sm_%d%d is not in bench/ea_bench_device.h)",
                 d->prop.major, d->prop.minor);
    return buf;
}

#endif /* EA_BENCH_DEVICE_H */
