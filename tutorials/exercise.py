#!/usr/bin/env python3
"""Workshop exercises that check themselves.

    python3 tutorials/exercise.py run N [--from exercises|solutions]   (make exercise N [FROM=solutions])
    python3 tutorials/exercise.py gen                                   (rewrite exercises/ and solutions/)
    python3 tutorials/exercise.py check-fresh                           (CI: they match the sources)

Each exercise is a region of the real source between `EXERCISE N BEGIN` and `EXERCISE N END`
comments. `gen` writes tutorials/exercises/NN/<file> (the source with that region replaced by a
TODO) and tutorials/solutions/NN/<file> (the region itself, the reference solution). `run` copies the
project into build/exercise/NN, puts the participant's file (or the exercise with the solution filled
in) in place of the real one, builds it and runs the real tests and comparison against it.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECK_CASES = "tutorials/exercises/check.cases"
EXERCISES = {
    1: dict(path="reference/blas.c", page="01-extend-attention-cpu.md", gpu=False,
            checks=[["build/tests/test_reference"], ["build/bin/ea-compare", "--cases", CHECK_CASES, "--backend", "cpu"]]),
    2: dict(path="reference/unified.c", page="02-unified-key-sequence.md", gpu=False,
            checks=[["build/tests/test_reference"], ["build/tests/test_validate"]]),
    3: dict(path="reference/canonical.c", page="03-canonical-order.md", gpu=False,
            checks=[["build/tests/test_reference"], ["build/bin/ea-compare", "--cases", CHECK_CASES, "--backend", "cpu"]]),
    4: dict(path="kernels/attention.cu", page="04-gpu-kernel.md", gpu=True,
            checks=[["build/tests/test_gpu"], ["build/bin/ea-compare", "--cases", CHECK_CASES, "--backend", "gpu"]]),
    5: dict(path="optimized/strategies.c", page="05-sync-bubble.md", gpu=True, checks=[["build/tests/test_gpu"]]),
    6: dict(path="optimized/strategies.c", page="06-one-batched-transfer.md", gpu=True,
            checks=[["build/tests/test_gpu"]]),
    7: dict(path="kernels/index.cu", page="07-no-sync-and-graphs.md", gpu=True, checks=[["build/tests/test_gpu"]]),
    8: dict(path="reference/mma.c", page="08-tensor-core-bits.md", gpu=False, checks=[["build/tests/test_mma"]]),
}
COPY = ["Makefile", "include", "reference", "kernels", "optimized", "tests", "tools", "bench", "tutorials/exercises"]


def region(text, n):
    """(before, indent, hint, body, after) of exercise n's region in text."""
    m = re.search(r"^([ \t]*)/\* EXERCISE %d BEGIN: (.*?) \*/\n(.*?)^[ \t]*/\* EXERCISE %d END \*/\n" % (n, n),
                  text, re.S | re.M)
    if not m:
        raise SystemExit(f"exercise {n}: no EXERCISE {n} BEGIN/END region in the source")
    return text[:m.start()], m.group(1), m.group(2), m.group(3), text[m.end():]


def todo(n, indent, hint):
    page = EXERCISES[n]["page"]
    return (f"{indent}/* TODO (exercise {n}): {hint}.\n"
            f"{indent}   The page tutorials/{page} explains it; `make exercise {n}` checks your code. */\n")


def solution_header(n):
    base = os.path.basename(EXERCISES[n]["path"])
    return (f"/* Reference solution of exercise {n}: the lines that replace the TODO in "
            f"tutorials/exercises/{n:02d}/{base}. */\n")


def generated(n):
    """The exercise file and the solution file of exercise n, from the real source."""
    with open(os.path.join(ROOT, EXERCISES[n]["path"])) as f:
        text = f.read()
    before, indent, hint, body, after = region(text, n)
    return before + todo(n, indent, hint) + after, solution_header(n) + body


def files(n):
    base = os.path.basename(EXERCISES[n]["path"])
    return (os.path.join(ROOT, "tutorials/exercises/%02d" % n, base),
            os.path.join(ROOT, "tutorials/solutions/%02d" % n, base))


def gen():
    for n in EXERCISES:
        ex, sol = generated(n)
        for path, text in zip(files(n), (ex, sol)):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
    print("exercises and solutions written from the sources")


def check_fresh():
    stale = []
    for n in EXERCISES:
        for path, text in zip(files(n), generated(n)):
            if not os.path.exists(path) or open(path).read() != text:
                stale.append(os.path.relpath(path, ROOT))
    if stale:
        print("stale (the source changed; run `python3 tutorials/exercise.py gen`):", *stale, sep="\n  ")
        return 1
    print(f"all {len(EXERCISES)} exercises and solutions match the sources")
    return 0


def have_gpu():
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0
    except OSError:
        return False


def run(n, source):
    ex = EXERCISES.get(n)
    if not ex:
        raise SystemExit(f"no exercise {n}: choose one of {sorted(EXERCISES)}")
    ex_path, sol_path = files(n)
    with open(ex_path) as f:
        text = f.read()
    if source == "solutions":
        with open(sol_path) as f:
            body = f.read()
        if not body.startswith(solution_header(n)):
            raise SystemExit(f"exercise {n}: {os.path.relpath(sol_path, ROOT)} lost its first line")
        body = body[len(solution_header(n)):]
        m = re.search(r"^[ \t]*/\* TODO \(exercise %d\):.*?\*/\n" % n, text, re.S | re.M)
        if not m:
            raise SystemExit(f"exercise {n}: the TODO block is missing from {os.path.relpath(ex_path, ROOT)}")
        text = text[:m.start()] + body + text[m.end():]
    shadow = os.path.join(ROOT, "build/exercise/%02d" % n)
    shutil.rmtree(shadow, ignore_errors=True)
    for item in COPY:
        src, dst = os.path.join(ROOT, item), os.path.join(shadow, item)
        if os.path.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("build"))
        else:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(src, dst)
    with open(os.path.join(shadow, ex["path"]), "w") as f:
        f.write(text)
    who = "the reference solution" if source == "solutions" else os.path.relpath(ex_path, ROOT)
    print(f"== exercise {n}: building {ex['path']} from {who}")
    targets = sorted({c[0] for c in ex["checks"]})
    build = subprocess.run(["make", "-s", "--no-print-directory", "-C", shadow, *targets])
    if build.returncode != 0:
        print(f"exercise {n}: FAIL: it does not build (the compiler's messages are above)")
        return 1
    if ex["gpu"] and not have_gpu():
        print(f"exercise {n}: COMPILED; its checks need a GPU and there is none here. "
              f"Run `make exercise {n}` on a GPU machine for the verdict.")
        return 0
    for check in ex["checks"]:
        print("== " + " ".join(check))
        r = subprocess.run(check, cwd=shadow)
        if r.returncode != 0:
            print(f"exercise {n}: FAIL: `{' '.join(check)}` found a problem (see above)")
            return 1
    print(f"exercise {n}: PASS: {who}, in place of {ex['path']}, passes the real tests" +
          (" on the GPU" if ex["gpu"] else ""))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["run", "gen", "check-fresh"])
    ap.add_argument("n", nargs="?", type=int)
    ap.add_argument("--from", dest="source", choices=["exercises", "solutions"], default="exercises")
    args = ap.parse_args()
    if args.command == "gen":
        return gen()
    if args.command == "check-fresh":
        return check_fresh()
    if args.n is None:
        ap.error("run needs an exercise number")
    return run(args.n, args.source)


if __name__ == "__main__":
    sys.exit(main())
