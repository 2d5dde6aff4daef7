#!/usr/bin/env python3
"""The tensor-core kernel's peers: what a user would run instead, on the same inputs.

    python3 bench/peers/attention_peers.py DIR...
    python3 bench/peers/attention_peers.py --scaling kernel-scaling-CARD.txt

DIR holds cases written by `ea-bench-kernel --dump DIR` (raw q, k_pool, v_pool, OUR tc output, each
request's unified slots, our medians). Every peer runs in bf16 on tensor cores (f32 cases are
rounded to bf16 first, as our tc kernel does), GQA included; preparation (gathering each
request's K/V rows, padding, building masks) is done once and not timed, like our plan:

  sdpa_req   torch.nn.functional.scaled_dot_product_attention, one call per request, bottom-right
             causal boolean mask (query r of request i sees keys u <= P_i + r)
  sdpa_pad   one SDPA call over the batch padded to [bs, Hq, max E, D] x [bs, Hq, max T, D] with a
             boolean mask [bs, 1, max E, max T] (padding keys hidden)
  flex       torch.nn.attention.flex_attention, compiled, over the packed batch [1, H, N, D] with
             a block mask from a document mask + causal offset, enable_gqa
  varlen     torch.nn.attention.varlen.varlen_attn where this torch has it (cumulative lengths,
             no paging; causal as is_causal or, from torch 2.11, window_size=(-1, 0)); only
             reported when its output matches ours (its causal rule must be bottom-right)

Timed with CUDA events, L2 flushed before every repeat, median of 20 after 3 warm-ups. Each peer's
output is compared with ours (max error relative to each token's largest output); a peer whose
error exceeds 2^-5 is marked WRONG and not counted. Cases with window, logit cap, sinks or a
custom mask are skipped (not every peer has them).

--scaling times the peers on the shapes of `ea-bench-kernel --scaling` (its output file gives our
times): dumping the larger shapes would take gigabytes, so each shape gets fresh random bf16 inputs
of the same lengths and heads (hq=8, hkv=2, d=128, every request the same lengths, keys in a
shuffled pool), and the peers' outputs are checked against each other (err vs sdpa_pad) instead of
against ours. Peers that run out of memory or fail on a shape are n/a.
"""
import glob
import inspect
import json
import os
import statistics
import sys

import numpy as np
import torch
import torch.nn.functional as F

WRONG = 2.0 ** -5


def load(dirpath, meta, ext, shape):
    bf16 = meta["dtype"] == "bf16"
    raw = np.fromfile(os.path.join(dirpath, f"{meta['name']}.{ext}.bin"), dtype=np.uint16 if bf16 else np.float32)
    t = torch.from_numpy(raw.view(np.int16) if bf16 else raw)
    t = t.view(torch.bfloat16) if bf16 else t
    return t.reshape(shape).cuda().to(torch.bfloat16)


def timed(fn, flush, reps=20):
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for rep in range(reps + 3):
        flush.random_(0, 255)
        e0.record()
        fn()
        e1.record()
        torch.cuda.synchronize()
        if rep >= 3:
            times.append(e0.elapsed_time(e1) * 1e3)
    return statistics.median(times)


def rel_err(got, ours):
    scale = ours.abs().amax(dim=(1, 2), keepdim=True).clamp_min(1e-30)
    return ((got.float() - ours).abs() / scale).max().item()


class Case:
    def __init__(self, meta, q, k, v, ours):
        self.meta = meta
        self.reqs = meta["requests"]
        self.N = sum(r["E"] for r in self.reqs)
        self.hq, self.hkv, self.dqk, self.dv = meta["hq"], meta["hkv"], meta["dqk"], meta["dv"]
        self.G = self.hq // self.hkv
        self.scale = meta["sm_scale"]
        self.causal = meta["causal"]
        self.q, self.k, self.v, self.ours = q, k, v, ours

    @classmethod
    def dumped(cls, dirpath, meta):
        """A case written by ea-bench-kernel --dump, with our output."""
        N = sum(r["E"] for r in meta["requests"])
        return cls(meta, load(dirpath, meta, "q", (N, meta["hq"], meta["dqk"])),
                   load(dirpath, meta, "k", (meta["pool"], meta["hkv"], meta["dqk"])),
                   load(dirpath, meta, "v", (meta["pool"], meta["hkv"], meta["dv"])),
                   load(dirpath, meta, "o", (N, meta["hq"], meta["dv"])).float())

    @classmethod
    def random(cls, bs, P, E, hq=8, hkv=2, d=128):
        """bs requests of P cached and E new keys, random bf16, keys in a shuffled pool; no output of ours."""
        pool = bs * (P + E)
        perm = torch.randperm(pool).tolist()
        reqs = [{"P": P, "E": E, "row0": i * E, "slots": perm[i * (P + E):(i + 1) * (P + E)]} for i in range(bs)]
        meta = {"name": f"bs{bs}_p{P}_e{E}", "requests": reqs, "hq": hq, "hkv": hkv, "dqk": d, "dv": d,
                "sm_scale": d ** -0.5, "causal": 1}
        randn = lambda *shape: torch.randn(*shape, device="cuda", dtype=torch.bfloat16)
        return cls(meta, randn(bs * E, hq, d), randn(pool, hkv, d), randn(pool, hkv, d), None)

    def scatter(self, outs):
        """Per-request outputs [1, Hq, E, Dv] back to [N, Hq, Dv]."""
        got = torch.empty(self.N, self.hq, self.dv, device="cuda")
        for o, r in zip(outs, self.reqs):
            got[r["row0"]:r["row0"] + r["E"]] = o[0].transpose(0, 1).float()
        return got

    def sdpa_per_request(self):
        work = []
        for r in self.reqs:
            P, E, row0 = r["P"], r["E"], r["row0"]
            slots = torch.tensor(r["slots"], device="cuda")
            kr = self.k[slots].repeat_interleave(self.G, dim=1).transpose(0, 1).unsqueeze(0)
            vr = self.v[slots].repeat_interleave(self.G, dim=1).transpose(0, 1).unsqueeze(0)
            qr = self.q[row0:row0 + E].transpose(0, 1).unsqueeze(0)
            u = torch.arange(P + E, device="cuda")[None, :]
            mask = (u <= (P + torch.arange(E, device="cuda"))[:, None]) if self.causal else None
            work.append((qr, kr, vr, mask))

        def step():
            return [F.scaled_dot_product_attention(qr, kr, vr, attn_mask=m, scale=self.scale) for qr, kr, vr, m in work]

        return step, lambda outs: self.scatter(outs)

    def sdpa_padded(self):
        bs = len(self.reqs)
        maxE = max(r["E"] for r in self.reqs)
        maxT = max(r["P"] + r["E"] for r in self.reqs)
        q = torch.zeros(bs, self.hq, maxE, self.dqk, device="cuda", dtype=torch.bfloat16)
        k = torch.zeros(bs, self.hq, maxT, self.dqk, device="cuda", dtype=torch.bfloat16)
        v = torch.zeros(bs, self.hq, maxT, self.dv, device="cuda", dtype=torch.bfloat16)
        mask = torch.zeros(bs, 1, maxE, maxT, device="cuda", dtype=torch.bool)
        mask[:, :, :, 0] = True  # padding rows see one key: no NaN rows
        for i, r in enumerate(self.reqs):
            P, E, row0 = r["P"], r["E"], r["row0"]
            slots = torch.tensor(r["slots"], device="cuda")
            q[i, :, :E] = self.q[row0:row0 + E].transpose(0, 1)
            k[i, :, :P + E] = self.k[slots].repeat_interleave(self.G, dim=1).transpose(0, 1)
            v[i, :, :P + E] = self.v[slots].repeat_interleave(self.G, dim=1).transpose(0, 1)
            u = torch.arange(maxT, device="cuda")[None, :]
            t = (P + torch.arange(E, device="cuda"))[:, None]
            mask[i, 0, :E] = (u <= t if self.causal else u < P + E) & (u < P + E)

        def step():
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale)

        def unpack(o):
            return self.scatter([o[i:i + 1, :, :r["E"]] for i, r in enumerate(self.reqs)])

        return step, unpack

    def flex(self):
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention

        slots = torch.cat([torch.tensor(r["slots"], device="cuda") for r in self.reqs])
        k = self.k[slots].transpose(0, 1).unsqueeze(0).contiguous()  # [1, Hkv, sum T, D]
        v = self.v[slots].transpose(0, 1).unsqueeze(0).contiguous()
        q = self.q.transpose(0, 1).unsqueeze(0).contiguous()  # [1, Hq, N, D]
        q_doc = torch.cat([torch.full((r["E"],), i, device="cuda") for i, r in enumerate(self.reqs)])
        q_pos = torch.cat([r["P"] + torch.arange(r["E"], device="cuda") for r in self.reqs])
        kv_doc = torch.cat([torch.full((r["P"] + r["E"],), i, device="cuda") for i, r in enumerate(self.reqs)])
        kv_pos = torch.cat([torch.arange(r["P"] + r["E"], device="cuda") for r in self.reqs])
        causal = self.causal

        def mask_mod(b, h, qi, ki):
            same = q_doc[qi] == kv_doc[ki]
            return (same & (kv_pos[ki] <= q_pos[qi])) if causal else same

        block_mask = create_block_mask(mask_mod, 1, None, q.shape[2], k.shape[2], device="cuda")
        compiled = torch.compile(flex_attention)

        def step():
            return compiled(q, k, v, block_mask=block_mask, scale=self.scale, enable_gqa=True)

        return step, lambda o: o[0].transpose(0, 1).float()

    def varlen(self):
        from torch.nn.attention import varlen as vl  # AttributeError/ImportError where absent

        slots = torch.cat([torch.tensor(r["slots"], device="cuda") for r in self.reqs])
        k = self.k[slots].repeat_interleave(self.G, dim=1).contiguous()  # [sum T, Hq, D]
        v = self.v[slots].repeat_interleave(self.G, dim=1).contiguous()
        cu_q = torch.tensor([0] + list(np.cumsum([r["E"] for r in self.reqs])), device="cuda", dtype=torch.int32)
        cu_k = torch.tensor([0] + list(np.cumsum([r["P"] + r["E"] for r in self.reqs])), device="cuda",
                            dtype=torch.int32)
        maxE = max(r["E"] for r in self.reqs)
        maxT = max(r["P"] + r["E"] for r in self.reqs)

        # torch 2.9/2.10 take is_causal; 2.11 a window (left, right), (-1, 0) being causal. Either way
        # the causal diagonal is the bottom-right one when a request has more keys than queries.
        params = inspect.signature(vl.varlen_attn).parameters
        extra = {"scale": self.scale} if "scale" in params else {}
        if "is_causal" in params:
            extra["is_causal"] = bool(self.causal)
        else:
            extra["window_size"] = (-1, 0) if self.causal else (-1, -1)

        def step():
            return vl.varlen_attn(self.q, k, v, cu_q, cu_k, maxE, maxT, **extra)

        return step, lambda o: o.float()


PEERS = ["sdpa_req", "sdpa_pad", "flex", "varlen"]


def run_peers(case, flush, reference):
    """Times every peer whose output is within WRONG of `reference` (ours, or sdpa_pad's)."""
    times, errs = {}, {}
    for name, make in (("sdpa_pad", case.sdpa_padded), ("sdpa_req", case.sdpa_per_request),
                       ("flex", case.flex), ("varlen", case.varlen)):
        try:
            step, unpack = make()
            got = unpack(step())
            if reference is None:  # --scaling: sdpa_pad (first) is the reference of the others
                reference = got
            errs[name] = rel_err(got, reference)
            del got
            if errs[name] <= WRONG:
                times[name] = timed(step, flush)
            del step, unpack
        except Exception as e:  # a peer this torch lacks, or one that fails on this shape
            first = str(e).strip().splitlines()[0][:60] if str(e).strip() else ""
            errs[name] = f"n/a ({type(e).__name__}{': ' + first if first else ''})"
        torch.cuda.empty_cache()
    return times, errs


def cells(times, errs):
    return " ".join(f"{times[p]:9.1f}" if p in times else
                    f"{'WRONG' if isinstance(errs.get(p), float) else 'n/a':>9s}" for p in PEERS)


def errors(errs):
    return " ".join(f"{p}={e:.1e}" if isinstance(e, float) else f"{p}={e}" for p, e in errs.items())


def scaling(results, flush):
    import torch._dynamo
    for knob in ("cache_size_limit", "recompile_limit"):  # one flex compilation per shape, never eager
        if hasattr(torch._dynamo.config, knob):
            setattr(torch._dynamo.config, knob, 256)
    print(f"tensor-core peers on the scaling grid, {torch.cuda.get_device_name()} (torch {torch.__version__}), "
          f"bf16, random inputs per shape, L2 flushed, median us; err vs sdpa_pad; ours from {results}")
    print(f"{'bs':>4s} {'prefix':>6s} {'extend':>6s} {'tc us':>9s} " + " ".join(f"{p:>9s}" for p in PEERS) +
          f" {'best peer':>10s} {'best/tc':>8s}  errors")
    with open(results) as f:
        rows = [line.split() for line in f if line.split() and line.split()[0].isdigit()]
    for row in rows:
        bs, P, E, tc = int(row[0]), int(row[1]), int(row[2]), float(row[4])
        case = Case.random(bs, P, E)
        times, errs = run_peers(case, flush, None)
        best = min(times, key=times.get) if times else None
        print(f"{bs:4d} {P:6d} {E:6d} {tc:9.1f} " + cells(times, errs) +
              (f" {best:>10s} {times[best] / tc:8.2f}" if best else f" {'-':>10s} {'-':>8s}") + "  " + errors(errs),
              flush=True)
        del case
        torch.cuda.empty_cache()


def main():
    # the flush of ea-bench-kernel (bench/ea_bench_device.h): max(2 x L2, 64 MB)
    l2 = getattr(torch.cuda.get_device_properties(0), "L2_cache_size", 128 << 20)
    flush = torch.empty(max(2 * l2, 64 << 20), dtype=torch.uint8, device="cuda")
    if sys.argv[1:2] == ["--scaling"]:
        return scaling(sys.argv[2], flush)
    dirs = sys.argv[1:] or ["/tmp/ea-dump"]
    print(f"tensor-core peers on {torch.cuda.get_device_name()} (torch {torch.__version__}), bf16, L2 flushed, "
          f"median us; err = max error vs our tc output relative to the token's largest output")
    print(f"{'case':20s} {'tc us':>8s} {'canon us':>9s} " + " ".join(f"{p:>9s}" for p in PEERS) +
          f" {'best peer':>10s} {'best/tc':>8s}  errors")
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(d, "*.json"))):
            with open(path) as f:
                meta = json.load(f)
            if meta["window"] >= 0 or meta["cap"] > 0 or meta["sinks"] or meta["mask"]:
                continue
            case = Case.dumped(d, meta)
            times, errs = run_peers(case, flush, case.ours)
            best = min(times, key=times.get) if times else None
            tc = meta["ours_us"]
            print(f"{meta['name']:20s} {tc:8.1f} {meta.get('canonical_us', 0):9.1f} " + cells(times, errs) +
                  (f" {best:>10s} {times[best] / tc:8.2f}" if best else f" {'-':>10s} {'-':>8s}") + "  " +
                  errors(errs), flush=True)


if __name__ == "__main__":
    main()
