#!/usr/bin/env python3
"""Draws the timeline picture of the sync strategies from a Chrome trace written by ea-bench-sync.

    python3 bench/plot_timeline.py TRACE.json OUT.svg [strategy ...]

One panel per strategy (default: per_request, batched, device), stacked on a shared time axis that
starts at each panel's first event; rows: the host's calls, the host's blocking waits, the GPU --
once per rank for a trace of `ea-bench-sync --tp N` (rows "rank R host", "rank R waits",
"rank R GPU", with the all-reduces on the GPU rows).
The same file opens in Perfetto or chrome://tracing for interactive reading.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {
    "queue GEMMs": "#9ecae1",
    "attention step": "#fdae6b",
    "blocking read (wait)": "#de2d26",
    "GEMMs (QKV, O, MLP)": "#3182bd",
    "index build / idle": "#d9d9d9",
    "attention kernel": "#e6550d",
    # the tensor-parallel trace: the layer's work in stream order, the all-reduces in purple
    "layer (host)": "#c6dbef",
    "QKV GEMM": "#3182bd",
    "O GEMM": "#6baed6",
    "MLP GEMMs": "#08519c",
    "all-reduce": "#756bb1",
}
ROWS = ["host", "host waits", "GPU"]
KINDS = ["host", "waits", "GPU"]


def rows_of(evs):
    """The panel's rows: the one-GPU trace's three, or three per rank ("rank R host/waits/GPU")."""
    tids = {e["tid"] for e in evs}
    if tids <= set(ROWS):
        return ROWS
    ranks = sorted({int(t.split()[1]) for t in tids})
    return [f"rank {r} {k}" for r in ranks for k in KINDS]


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    trace, out = sys.argv[1], sys.argv[2]
    strategies = sys.argv[3:] or ["per_request", "batched", "device"]
    with open(trace) as f:
        data = json.load(f)
    events = data["traceEvents"]
    card = data.get("otherData", {}).get("card", "")
    tp = len({e["tid"].split()[1] for e in events if e["tid"].startswith("rank ")})
    height = 1.6 if tp == 0 else 0.45 * 3 * tp + 0.4
    fig, axes = plt.subplots(len(strategies), 1, figsize=(12, height * len(strategies) + 0.8), sharex=True)
    if len(strategies) == 1:
        axes = [axes]
    for ax, s in zip(axes, strategies):
        evs = [e for e in events if e["pid"] == s]
        if not evs:
            raise SystemExit(f"no events for strategy '{s}' in {trace}")
        rows = rows_of(evs)
        t0 = min(e["ts"] for e in evs)
        for e in evs:
            y = rows.index(e["tid"])
            ax.broken_barh([((e["ts"] - t0) / 1e3, max(e["dur"], 0.5) / 1e3)], (y - 0.38, 0.76),
                           facecolors=COLORS.get(e["name"], "#999999"), edgecolor="none")
        waits = sum(1 for e in evs if e["tid"] in ("host waits", "rank 0 waits"))
        ax.set_yticks(range(len(rows)), rows)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.invert_yaxis()
        per = " per rank" if rows is not ROWS else ""
        ax.set_title(f"{s}: {waits} blocking reads{per} in two layers", loc="left", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[-1].set_xlabel("time (ms) from the start of layer 0")
    names = [n for n in COLORS if any(e["name"] == n for e in events)]
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLORS[n]) for n in names]
    fig.legend(handles, names, loc="lower center", ncol=4, fontsize=8, frameon=False)
    if tp == 0:
        fig.suptitle(f"Two layers of a prefill forward, bs=32, prefix rand:0:512 ({card})", fontsize=11)
    else:
        other = data.get("otherData", {})
        fig.suptitle(f"Two layers under tensor parallelism over {tp} GPUs, bs={other.get('bs', '?')}, prefix "
                     f"{other.get('prefix', '?')} ({card}, NCCL {other.get('nccl', '')})", fontsize=11)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(out, format="svg")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
