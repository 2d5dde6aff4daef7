#!/usr/bin/env python3
"""The kernel's peer: torch.nn.functional.scaled_dot_product_attention on the same inputs.

    python3 bench/peers/sdpa_torch.py DIR...

DIR holds cases written by `ea-bench-kernel --dump DIR` (the raw q, k_pool, v_pool, OUR output, each
request's unified slots and our median time). For each case and for bf16 and fp32, the K/V rows of
each request are gathered contiguous beforehand (SDPA has no paged KV cache; the gather is not
timed), then SDPA runs once per request with a bottom-right causal mask (query r of a request sees
keys u <= P + r). Timed with CUDA events, L2 flushed before every repeat, median of 20. Cases with
features SDPA lacks (window, cap, sinks, custom mask) are skipped. Also reports how far SDPA's
output is from ours (max error relative to each token's largest output).
"""
import glob
import json
import os
import statistics
import sys

import numpy as np
import torch
import torch.nn.functional as F


def load(dirpath, meta, ext, shape):
    raw = np.fromfile(os.path.join(dirpath, f"{meta['name']}.{ext}.bin"), dtype=np.uint16 if meta["dtype"] == "bf16" else np.float32)
    t = torch.from_numpy(raw.view(np.int16) if meta["dtype"] == "bf16" else raw)
    t = t.view(torch.bfloat16) if meta["dtype"] == "bf16" else t
    return t.reshape(shape).cuda()


def run_case(dirpath, meta, dtype, flush):
    N = sum(r["E"] for r in meta["requests"])
    hq, hkv, dqk, dv = meta["hq"], meta["hkv"], meta["dqk"], meta["dv"]
    q = load(dirpath, meta, "q", (N, hq, dqk)).float().to(dtype)
    k = load(dirpath, meta, "k", (meta["pool"], hkv, dqk)).float().to(dtype)
    v = load(dirpath, meta, "v", (meta["pool"], hkv, dv)).float().to(dtype)
    ours = load(dirpath, meta, "o", (N, hq, dv)).float()
    G = hq // hkv
    work = []
    for r in meta["requests"]:
        P, E, row0 = r["P"], r["E"], r["row0"]
        slots = torch.tensor(r["slots"], device="cuda")
        kr = k[slots].repeat_interleave(G, dim=1).transpose(0, 1).unsqueeze(0)  # [1, Hq, T, D]
        vr = v[slots].repeat_interleave(G, dim=1).transpose(0, 1).unsqueeze(0)
        qr = q[row0:row0 + E].transpose(0, 1).unsqueeze(0)                      # [1, Hq, E, D]
        mask = (torch.arange(P + E, device="cuda")[None, :] <= (P + torch.arange(E, device="cuda"))[:, None])
        work.append((qr, kr, vr, mask, row0, E))

    def step():
        return [F.scaled_dot_product_attention(qr, kr, vr, attn_mask=m, scale=meta["sm_scale"])
                for qr, kr, vr, m, _, _ in work]

    outs = step()
    got = torch.empty(N, hq, dv, device="cuda")
    for o, (_, _, _, _, row0, E) in zip(outs, work):
        got[row0:row0 + E] = o[0].transpose(0, 1).float()
    scale = ours.abs().amax(dim=(1, 2), keepdim=True).clamp_min(1e-30)
    err = ((got - ours).abs() / scale).max().item()
    times = []
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for rep in range(23):
        flush.random_(0, 255)
        e0.record()
        step()
        e1.record()
        torch.cuda.synchronize()
        if rep >= 3:
            times.append(e0.elapsed_time(e1) * 1e3)
    return statistics.median(times), err


def main():
    dirs = sys.argv[1:] or ["/tmp/ea-dump"]
    flush = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    print(f"SDPA peer on {torch.cuda.get_device_name()} (torch {torch.__version__}), per request, L2 flushed")
    print(f"{'case':20s} {'ours us':>9s} {'sdpa bf16 us':>13s} {'sdpa f32 us':>12s} {'ours/bf16':>10s} "
          f"{'ours/f32':>9s} {'bf16 err':>9s} {'f32 err':>9s}")
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(d, "*.json"))):
            with open(path) as f:
                meta = json.load(f)
            if meta["window"] >= 0 or meta["cap"] > 0 or meta["sinks"] or meta["mask"] or not meta["causal"]:
                continue
            tb, eb = run_case(d, meta, torch.bfloat16, flush)
            tf, ef = run_case(d, meta, torch.float32, flush)
            ours = meta["ours_us"]
            print(f"{meta['name']:20s} {ours:9.1f} {tb:13.1f} {tf:12.1f} {ours / tb:10.2f} {ours / tf:9.2f} "
                  f"{eb:9.1e} {ef:9.1e}")


if __name__ == "__main__":
    main()
