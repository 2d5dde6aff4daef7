#!/usr/bin/env python3
"""Workshop exercises that check themselves.

    python3 tutorials/exercise.py run N [--from exercises|solutions]   (make exercise N [FROM=solutions])
    python3 tutorials/exercise.py gen                                   (rewrite exercises/ and solutions/)
    python3 tutorials/exercise.py check-fresh                           (CI: they match the sources)
    python3 tutorials/exercise.py check-skeletons                       (CI: every unsolved one builds and fails)
    python3 tutorials/exercise.py numbers                               (the exercise numbers, for make)

Each exercise is a region of the real source between `EXERCISE N BEGIN` and `EXERCISE N END`
comments; a region is a sequence of whole statements, so the skeleton compiles. `gen` writes
tutorials/exercises/NN/<file> (the source with that region replaced by a TODO) and
tutorials/solutions/NN/<file> (the region itself, the reference solution). An exercise file that
differs from what `gen` last wrote is the participant's work: `gen` keeps it as <file>.mine.

`run` builds the project once in build/ (later runs reuse it), copies it into build/exercise/NN,
puts the participant's file (or, with --from solutions, the skeleton as generated with the solution
filled in, whatever the participant's file holds) in place of the real one, rebuilds what depends on
it and runs the real tests and comparison against it.
"""
import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECK_CASES = "tutorials/exercises/check.cases"
MANIFEST = "tutorials/exercises/generated.sha256"
GPU_TESTS = ["build/tests/test_gpu"]
NOT_CHECKED = 77  # exit status of a GPU exercise on a machine without a GPU: neither a pass nor a failure
# gpu: what a machine without a GPU cannot check. stub: a line the skeleton needs to compile cleanly.
# later, skip: an exercise whose region shares a file with an EARLIER exercise is not shown there
# (its answer would be in plain sight): the earlier skeleton gets the `later` lines instead, and its
# GPU tests leave out the strategy named by `skip` (EA_TEST_SKIP_STRATEGY).
EXERCISES = {
    1: dict(path="reference/blas.c", page="01-extend-attention-cpu.md",
            checks=[["build/tests/test_reference"], ["build/bin/ea-compare", "--cases", CHECK_CASES, "--backend", "cpu"]]),
    2: dict(path="reference/unified.c", page="02-unified-key-sequence.md",
            checks=[["build/tests/test_reference"], ["build/tests/test_validate"]]),
    3: dict(path="reference/canonical.c", page="03-canonical-order.md",
            checks=[["build/tests/test_reference"], ["build/bin/ea-compare", "--cases", CHECK_CASES, "--backend", "cpu"]]),
    4: dict(path="kernels/attention/5_bitmasks.cu", page="04-gpu-kernel.md",
            gpu="the kernel's outputs, bit for bit against the CPU canonical reference, for every strategy",
            checks=[GPU_TESTS, ["build/bin/ea-compare", "--cases", CHECK_CASES, "--backend", "gpu"]]),
    5: dict(path="optimized/strategies.c", page="05-sync-bubble.md",
            gpu="the per_request strategy's indices, its outputs bit for bit, and its 4*bs waits", checks=[GPU_TESTS]),
    6: dict(path="optimized/strategies.c", page="06-one-batched-transfer.md",
            gpu="the batched strategy's indices, its outputs bit for bit, and its single wait", checks=[GPU_TESTS],
            later=["(void)packed, (void)indptr, (void)prefix_lens;",
                   'return ea_fail(EA_ERR_NOT_BUILT, "the batched strategy is exercise 6");'],
            skip="batched"),
    7: dict(path="kernels/index.cu", page="07-no-sync-and-graphs.md",
            gpu="the device strategy's indices (the scan), its outputs bit for bit, and its 0 waits", checks=[GPU_TESTS]),
    8: dict(path="reference/mma.c", page="08-tensor-core-bits.md", stub="return 0; /* replace with your code */",
            checks=[["build/tests/test_mma"]]),
    9: dict(path="reference/shard.c", page="09-tensor-parallelism.md",
            checks=[["build/tests/test_reference"], ["build/tests/test_tc_reference"]]),
}
COPY = ["Makefile", "include", "reference", "kernels", "optimized", "tests", "tools", "bench", "tutorials/exercises"]
REUSED = ["build/obj", "build/cuda", "build/lib"]  # the project's own build: only what the exercise changes is rebuilt


def say(*args, **kwargs):
    print(*args, **kwargs, flush=True)  # before the output of the builds and tests that follow


def braces(code):
    """{ minus } in C code, ignoring comments, strings and character constants."""
    code = re.sub(r'/\*.*?\*/|//[^\n]*|"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'', "", code, flags=re.S)
    return code.count("{") - code.count("}")


def region(text, n):
    """(before, indent, hint, body, after) of exercise n's region in text."""
    m = re.search(r"^([ \t]*)/\* EXERCISE %d BEGIN: (.*?) \*/\n(.*?)^[ \t]*/\* EXERCISE %d END \*/\n" % (n, n),
                  text, re.S | re.M)
    if not m:
        raise SystemExit(f"exercise {n}: no EXERCISE {n} BEGIN/END region in the source")
    if braces(m.group(3)):
        line = text[:m.start()].count("\n") + 1
        raise SystemExit(f"exercise {n}: the region at {EXERCISES[n]['path']}:{line} opens and closes a different "
                         f"number of braces; it must be whole statements, or the skeleton will not compile")
    return text[:m.start()], m.group(1), m.group(2), m.group(3), text[m.end():]


def todo(n, indent, hint):
    page = EXERCISES[n]["page"]
    stub = EXERCISES[n].get("stub")
    return (f"{indent}/* TODO (exercise {n}): {hint}.\n"
            f"{indent}   The page tutorials/{page} explains it; `make exercise {n}` checks your code. */\n" +
            (f"{indent}{stub}\n" if stub else ""))


def solution_header(n):
    base = os.path.basename(EXERCISES[n]["path"])
    return (f"/* Reference solution of exercise {n}: the lines that replace the TODO in "
            f"tutorials/exercises/{n:02d}/{base}. */\n")


def generated(n):
    """The exercise file and the solution file of exercise n, from the real source."""
    with open(os.path.join(ROOT, EXERCISES[n]["path"])) as f:
        text = f.read()
    before, indent, hint, body, after = region(text, n)
    skeleton = before + todo(n, indent, hint) + after
    for m in later_in_file(n):
        b, ind, h, _, a = region(skeleton, m)
        skeleton = b + f"{ind}/* exercise {m} writes this part (tutorials/{EXERCISES[m]['page']}) */\n" + \
            "".join(f"{ind}{line}\n" for line in EXERCISES[m]["later"]) + a
    other_markers = r"^[ \t]*/\* EXERCISE \d+ (BEGIN: .*?|END) \*/\n"  # of other exercises in the same file
    return re.sub(other_markers, "", skeleton, flags=re.M), solution_header(n) + body


def later_in_file(n):
    """The exercises after n whose regions are in n's file: hidden from n's skeleton."""
    return [m for m in EXERCISES if m > n and EXERCISES[m]["path"] == EXERCISES[n]["path"] and "later" in EXERCISES[m]]


def check_env(n):
    """The environment of exercise n's checks."""
    env = dict(os.environ)
    if EXERCISES[n].get("gpu"):
        env["EA_REQUIRE_GPU"] = "1"  # a skipped GPU suite is no pass
    skipped = [EXERCISES[m]["skip"] for m in later_in_file(n)]
    if skipped:
        env["EA_TEST_SKIP_STRATEGY"] = ",".join(skipped)
    return env


def files(n):
    base = os.path.basename(EXERCISES[n]["path"])
    return (os.path.join(ROOT, "tutorials/exercises/%02d" % n, base),
            os.path.join(ROOT, "tutorials/solutions/%02d" % n, base))


def rel(path):
    return os.path.relpath(path, ROOT)


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def manifest(exercises):
    """What `gen` writes into MANIFEST: the hash of every exercise file it wrote."""
    return "".join(f"{sha256(text)}  {rel(files(n)[0])}\n" for n, text in sorted(exercises.items()))


def written_by_gen():
    """Hashes of the exercise files as `gen` last wrote them."""
    try:
        with open(os.path.join(ROOT, MANIFEST)) as f:
            return {line.split()[0] for line in f if line.strip()}
    except OSError:
        return set()


def gen():
    known = written_by_gen()
    exercises = {}
    for n in EXERCISES:
        ex, sol = generated(n)
        exercises[n] = ex
        ex_path, sol_path = files(n)
        if os.path.exists(ex_path):
            with open(ex_path) as f:
                old = f.read()
            if old != ex and sha256(old) not in known:  # not what gen wrote: the participant's work
                keep, k = ex_path + ".mine", 1
                while os.path.exists(keep):
                    keep, k = f"{ex_path}.mine{k}", k + 1
                shutil.copy2(ex_path, keep)
                say(f"exercise {n}: {rel(ex_path)} holds your edits: kept as {rel(keep)}; {rel(ex_path)} is "
                    f"the fresh skeleton now. To go on with your version:  mv {rel(keep)} {rel(ex_path)}")
        for path, text in ((ex_path, ex), (sol_path, sol)):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
    with open(os.path.join(ROOT, MANIFEST), "w") as f:
        f.write(manifest(exercises))
    say("exercises and solutions written from the sources")
    return 0


def check_fresh():
    stale, exercises = [], {}
    for n in EXERCISES:
        exercises[n] = generated(n)[0]
        for path, text in zip(files(n), generated(n)):
            if not os.path.exists(path) or open(path).read() != text:
                stale.append(rel(path))
    if not os.path.exists(os.path.join(ROOT, MANIFEST)) or open(os.path.join(ROOT, MANIFEST)).read() != manifest(exercises):
        stale.append(MANIFEST)
    if stale:
        say("stale (the source changed; run `python3 tutorials/exercise.py gen`):", *stale, sep="\n  ")
        return 1
    say(f"all {len(EXERCISES)} exercises and solutions match the sources")
    return 0


def have_nvcc():
    """As the Makefile decides whether to build the CUDA parts."""
    return bool(shutil.which("nvcc")) or os.path.exists("/usr/local/cuda/bin/nvcc")


def have_gpu():
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0
    except OSError:
        return False


def with_solution(n):
    """The skeleton as generated from the source, with the reference solution in place of the TODO."""
    _, sol_path = files(n)
    with open(sol_path) as f:
        body = f.read()
    if not body.startswith(solution_header(n)):
        raise SystemExit(f"exercise {n}: {rel(sol_path)} lost its first line")
    skeleton = generated(n)[0]
    marker = todo(n, *region(open(os.path.join(ROOT, EXERCISES[n]["path"])).read(), n)[1:3])
    return skeleton.replace(marker, body[len(solution_header(n)):], 1)


def todo_line(n, text):
    """Line of the exercise's TODO in text, or None once the participant removed it."""
    m = re.search(r"^[ \t]*/\* TODO \(exercise %d\)" % n, text, re.M)
    return text[:m.start()].count("\n") + 1 if m else None


def shadow_tree(n):
    """build/exercise/NN: a copy of the project and of its build, file times kept (make rebuilds
    only what is newer than its object: the participant's file)."""
    shadow = os.path.join(ROOT, "build/exercise/%02d" % n)
    shutil.rmtree(shadow, ignore_errors=True)
    for item in COPY + REUSED:
        src, dst = os.path.join(ROOT, item), os.path.join(shadow, item)
        if os.path.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("build", "*.mine*"))
        elif os.path.exists(src):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(src, dst)
    return shadow


def run(n, source):
    ex = EXERCISES.get(n)
    if not ex:
        raise SystemExit(f"no exercise {n}: choose one of {sorted(EXERCISES)}")
    ex_path, _ = files(n)
    skeleton = generated(n)[0]
    if source == "solutions":
        text, who = with_solution(n), "the reference solution"
    elif source == "skeleton":
        text, who = skeleton, "the unsolved skeleton"
    else:
        if not os.path.exists(ex_path):
            say(f"exercise {n}: {rel(ex_path)} is missing; `python3 tutorials/exercise.py gen` writes it again "
                f"(and keeps any other exercise file you edited)")
            return 1
        with open(ex_path) as f:
            text = f.read()
        who = rel(ex_path)
    where = rel(ex_path) if source != "solutions" else who
    line = todo_line(n, text)
    point = (f"the part to write is the TODO at {rel(ex_path)}:{line} (tutorials/{ex['page']})" if line else
             f"look at what you wrote in {where} (tutorials/{ex['page']} explains the step)")
    targets = sorted({c[0] for c in ex["checks"]})
    say(f"== exercise {n}: the project's own build (the first time takes a few minutes)")
    jobs = f"-j{os.cpu_count() or 1}"
    if subprocess.run(["make", "-s", jobs, "--no-print-directory", "-C", ROOT, *targets]).returncode != 0:
        say(f"exercise {n}: FAIL: the project itself does not build (before your file was put in)")
        return 1
    shadow = shadow_tree(n)
    with open(os.path.join(shadow, ex["path"]), "w") as f:
        if source == "exercises":  # the compiler's messages then name the participant's file and lines
            f.write(f'#line 1 "{rel(ex_path)}"\n')
        f.write(text)
    say(f"== exercise {n}: building {ex['path']} from {who}")
    if subprocess.run(["make", "-s", "--no-print-directory", "-C", shadow, *targets]).returncode != 0:
        say(f"exercise {n}: FAIL: it does not build (the compiler's messages are above); {point}")
        return 1
    if ex.get("gpu") and not (have_nvcc() and have_gpu()):
        nvcc = have_nvcc()
        if text == skeleton:
            say(f"exercise {n}: FAIL: not written yet: {who} {'compiles' if nvcc else 'was not compiled (no nvcc)'}, "
                f"but {point}")
            return 1
        say(f"exercise {n}: {'COMPILED' if nvcc else 'NOT COMPILED'}, NOT CHECKED: there is no "
            f"{'GPU' if nvcc else 'nvcc (CUDA toolkit)'} here.\n" +
            (f"  checked:     {who} compiles and links into the GPU tests\n" if nvcc else
             f"  checked:     nothing (the CPU-only build leaves {ex['path']} out)\n") +
            f"  not checked: {'' if nvcc else 'that it compiles; '}{ex['gpu']}\n"
            f"  on a machine with an NVIDIA GPU, run:  make exercise {n}" +
            (" FROM=solutions" if source == "solutions" else "") +
            f"\n  (tutorials/{ex['page']} shows the output to expect; exit status {NOT_CHECKED}: not a pass)")
        return NOT_CHECKED
    env = check_env(n)
    for check in ex["checks"]:
        say("== " + " ".join(check))
        if subprocess.run(check, cwd=shadow, env=env).returncode != 0:
            say(f"exercise {n}: FAIL: `{' '.join(check)}` found a problem (its messages are above); {point}")
            return 1
    say(f"exercise {n}: PASS: {who}, in place of {ex['path']}, passes the real tests" +
        (" on the GPU" if ex.get("gpu") else ""))
    return 0


def check_skeletons():
    """Every unsolved skeleton builds, and fails with a message that points at its TODO."""
    bad = []
    for n in EXERCISES:
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "run", str(n), "--from", "skeleton"],
                           capture_output=True, text=True)
        out = r.stdout + r.stderr
        verdict = [l for l in out.splitlines() if l.startswith(f"exercise {n}: ")]
        verdict = verdict[-1] if verdict else "(no verdict line)"
        line = todo_line(n, generated(n)[0])
        pointer = f"{rel(files(n)[0])}:{line}"
        problems = ([f"exit code {r.returncode}, not 1"] if r.returncode != 1 else []) + \
                   (["it does not build"] if "does not build" in out else []) + \
                   ([f"the verdict does not point at {pointer}"] if pointer not in verdict else [])
        say(f"exercise {n} unsolved: " + ("ok: " if not problems else "WRONG (" + "; ".join(problems) + "): ") + verdict)
        if problems:
            say(out[-4000:])
            bad.append(n)
    if bad:
        say(f"check-skeletons: FAIL for exercises {bad}")
        return 1
    say(f"check-skeletons: all {len(EXERCISES)} unsolved exercises build and fail, pointing at their TODO")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["run", "gen", "check-fresh", "check-skeletons", "numbers"])
    ap.add_argument("n", nargs="?", type=int)
    ap.add_argument("--from", dest="source", choices=["exercises", "solutions", "skeleton"], default="exercises",
                    help="exercises: your file; solutions: the reference solution; skeleton: the unsolved file (CI)")
    args = ap.parse_args()
    if args.command == "numbers":  # for make exercises-check: every exercise, none forgotten
        print(" ".join(str(n) for n in sorted(EXERCISES)))
        return 0
    if args.command == "gen":
        return gen()
    if args.command == "check-fresh":
        return check_fresh()
    if args.command == "check-skeletons":
        return check_skeletons()
    if args.n is None:
        ap.error("run needs an exercise number")
    return run(args.n, args.source)


if __name__ == "__main__":
    sys.exit(main())
