#!/usr/bin/env python3
"""The peer, side by side: SGLang's three ways to build the unified indices, in PyTorch.

    python3 bench/peers/sync_torch.py --batch BATCH.json [--ours bench/results/sync.csv] [--layers 36]

BATCH.json is written by `ea-bench-sync --dump` (the bs=32, prefix rand:0:512 batch and OUR unified
indices). Each orchestration is checked to build the same indices as ours, then timed in the same
layer model as ea-bench-sync: per layer, the Qwen3-8B TP4 shard's bf16 GEMMs are queued first, then
the index build runs.

  per_request  the loop before SGLang's fix: four .item() per request, slicing, torch.cat
  batched      one .cpu() of the stacked scalars, then the same host loop
  zero_sync    torch.cumsum on the GPU + a small Triton copy kernel, no host wait

Measured (medians over repeats): host latency of the index build per layer, and the overhead per
layer over precomputed indices ((end-to-end - end-to-end with no index build) / layers).
"""
import argparse
import csv
import json
import statistics
import time

import torch
import triton
import triton.language as tl

HIDDEN, QKV_OUT, ATTN_OUT, GATE_UP, DOWN_IN = 4096, (32 + 8 + 8) * 128 // 4, 32 * 128 // 4, 2 * 12288 // 4, 12288 // 4


@triton.jit
def unified_copy_kernel(prefix_indptr, prefix_indices, extend_start, extend_indices, unified_indptr, out,
                        BLOCK: tl.constexpr):
    """Request i's prefix slots, then its new slots, into out[unified_indptr[i]:]."""
    i = tl.program_id(0)
    ps = tl.load(prefix_indptr + i)
    P = tl.load(prefix_indptr + i + 1) - ps
    es = tl.load(extend_start + i)
    us = tl.load(unified_indptr + i)
    T = tl.load(unified_indptr + i + 1) - us
    for start in range(0, T, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        inside = offs < T
        from_prefix = offs < P
        vp = tl.load(prefix_indices + ps + offs, mask=inside & from_prefix, other=0)
        ve = tl.load(extend_indices + es + offs - P, mask=inside & (offs >= P), other=0)
        tl.store(out + us + offs, tl.where(from_prefix, vp, ve), mask=inside)


class Batch:
    def __init__(self, d):
        dev = "cuda"
        self.bs = d["bs"]
        self.qo_indptr = torch.tensor(d["qo_indptr"], dtype=torch.int32, device=dev)
        self.prefix_kv_indptr = torch.tensor(d["prefix_kv_indptr"], dtype=torch.int32, device=dev)
        self.prefix_kv_indices = torch.tensor(d["prefix_kv_indices"], dtype=torch.int64, device=dev)
        self.extend_start_loc = torch.tensor(d["extend_start_loc"], dtype=torch.int32, device=dev)
        self.extend_seq_lens = torch.tensor(d["extend_seq_lens"], dtype=torch.int32, device=dev)
        self.extend_kv_indices = torch.tensor(d["extend_kv_indices"], dtype=torch.int64, device=dev)
        self.upper_bound = len(d["prefix_kv_indices"]) + len(d["extend_kv_indices"])


def build_per_request(b):
    parts, indptr, prefix_lens = [], [0], []
    for i in range(b.bs):
        prefix_start = b.prefix_kv_indptr[i].item()
        prefix_end = b.prefix_kv_indptr[i + 1].item()
        extend_start = b.extend_start_loc[i].item()
        extend_len = b.extend_seq_lens[i].item()
        parts.append(b.prefix_kv_indices[prefix_start:prefix_end])
        parts.append(b.extend_kv_indices[extend_start:extend_start + extend_len])
        prefix_lens.append(prefix_end - prefix_start)
        indptr.append(indptr[-1] + prefix_end - prefix_start + extend_len)
    return (torch.tensor(indptr, dtype=torch.int32, device="cuda"), torch.cat(parts),
            torch.tensor(prefix_lens, dtype=torch.int32, device="cuda"))


def build_batched(b):
    scalars = torch.stack([b.prefix_kv_indptr[:-1], b.prefix_kv_indptr[1:], b.extend_start_loc,
                           b.extend_seq_lens], dim=1).cpu().tolist()  # the one transfer
    parts, indptr, prefix_lens = [], [0], []
    for prefix_start, prefix_end, extend_start, extend_len in scalars:
        parts.append(b.prefix_kv_indices[prefix_start:prefix_end])
        parts.append(b.extend_kv_indices[extend_start:extend_start + extend_len])
        prefix_lens.append(prefix_end - prefix_start)
        indptr.append(indptr[-1] + prefix_end - prefix_start + extend_len)
    return (torch.tensor(indptr, dtype=torch.int32, device="cuda"), torch.cat(parts),
            torch.tensor(prefix_lens, dtype=torch.int32, device="cuda"))


def build_zero_sync(b):
    prefix_lens = b.prefix_kv_indptr[1:] - b.prefix_kv_indptr[:-1]
    indptr = torch.zeros(b.bs + 1, dtype=torch.int32, device="cuda")
    indptr[1:] = torch.cumsum(prefix_lens + b.extend_seq_lens, dim=0)
    out = torch.empty(b.upper_bound, dtype=torch.int64, device="cuda")
    unified_copy_kernel[(b.bs,)](b.prefix_kv_indptr, b.prefix_kv_indices, b.extend_start_loc, b.extend_kv_indices,
                                 indptr, out, BLOCK=256)
    return indptr, out, prefix_lens


STRATEGIES = {"per_request": build_per_request, "batched": build_batched, "zero_sync": build_zero_sync}
OURS_NAME = {"per_request": "per_request", "batched": "batched", "zero_sync": "device"}


class Layer:
    """The layer's other work: the same four bf16 GEMMs as ea-bench-sync."""

    def __init__(self, tokens):
        g = torch.Generator(device="cuda").manual_seed(1)
        r = lambda *s: (torch.rand(*s, device="cuda", generator=g, dtype=torch.float32) * 0.02 - 0.01).bfloat16()
        self.x, self.w_qkv = r(tokens, HIDDEN), r(HIDDEN, QKV_OUT)
        self.attn, self.w_o = r(tokens, ATTN_OUT), r(ATTN_OUT, HIDDEN)
        self.w_gu, self.w_down = r(HIDDEN, GATE_UP), r(DOWN_IN, HIDDEN)

    def queue(self):
        torch.matmul(self.x, self.w_qkv)
        hid = torch.matmul(self.attn, self.w_o)
        gu = torch.matmul(hid, self.w_gu)
        torch.matmul(gu[:, :DOWN_IN], self.w_down)


def forward(layer, b, build, layers):
    torch.cuda.synchronize()
    lat = []
    t0 = time.perf_counter()
    for _ in range(layers):
        layer.queue()
        if build is not None:
            s = time.perf_counter()
            build(b)
            lat.append((time.perf_counter() - s) * 1e6)
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) * 1e6, lat


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", required=True)
    ap.add_argument("--ours", help="ea-bench-sync CSV, for the ours/theirs ratios")
    ap.add_argument("--layers", type=int, default=36)
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    with open(args.batch) as f:
        d = json.load(f)
    b = Batch(d)
    want = [torch.tensor(d["unified_kv_indptr"], dtype=torch.int32), torch.tensor(d["unified_kv_indices"]),
            torch.tensor(d["prefix_lens"], dtype=torch.int32)]
    for name, build in STRATEGIES.items():
        indptr, idx, plens = build(b)
        total = int(want[0][-1])
        same = (torch.equal(indptr.cpu(), want[0]) and torch.equal(idx[:total].cpu(), want[1])
                and torch.equal(plens.cpu().int(), want[2]))
        print(f"{name:12s} builds the same unified indices as ours: {'yes' if same else 'NO'}")
        if not same:
            raise SystemExit(1)

    layer = Layer(d["num_tokens"])
    results = {}
    for name, build in [("precomputed", None)] + list(STRATEGIES.items()):
        e2e, lat = [], []
        for r in range(args.repeats + 2):
            t, l = forward(layer, b, build, args.layers)
            if r >= 2:
                e2e.append(t)
                lat += l
        results[name] = (statistics.median(e2e), statistics.median(lat) if lat else 0.0, min(e2e), max(e2e))

    ours = {}
    if args.ours:
        with open(args.ours) as f:
            for row in csv.DictReader(f):
                if row["bs"] == str(d["bs"]) and row["prefix"] == "rand:0:512":
                    ours[row["strategy"]] = row
    print(f"\nPyTorch peer on {torch.cuda.get_device_name()}, bs={d['bs']}, prefix rand:0:512, "
          f"{args.layers} layers, {args.repeats} repeats")
    print(f"{'strategy':12s} {'host us/layer':>14s} {'e2e ms':>9s} {'overhead us/layer':>18s} "
          f"{'ours host us':>13s} {'ours over. us':>14s} {'ours/theirs over.':>18s}")
    base = results["precomputed"][0]
    for name in STRATEGIES:
        e2e, lat, _, _ = results[name]
        over = (e2e - base) / args.layers
        line = f"{name:12s} {lat:14.1f} {e2e / 1e3:9.2f} {over:18.1f}"
        row = ours.get(OURS_NAME[name])
        if row:
            o_lat, o_over = float(row["host_lat_us_med"]), float(row["overhead_us_per_layer"])
            line += f" {o_lat:13.1f} {o_over:14.1f} {o_over / over if over > 0 else float('nan'):18.3f}"
        print(line)
    print(f"{'precomputed':12s} {'-':>14s} {base / 1e3:9.2f}")
    pr, bt, zs = (results[k][1] for k in STRATEGIES)
    print(f"ratios (theirs): host latency per_request/batched {pr / bt:.2f}x, per_request/zero_sync {pr / zs:.1f}x")


if __name__ == "__main__":
    main()
