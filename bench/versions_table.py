#!/usr/bin/env python3
"""Puts the table of `ea-bench-kernel --versions` into kernels/README.md, between its markers.

    python3 bench/versions_table.py bench/results/kernel-versions-CARD.txt [kernels/README.md]

The results file is kept as it came from the card (its first line names the device); the README
shows that line and the table. Exits 1 when the file holds no table or the README no markers."""
import re
import sys


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    results, readme = sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else "kernels/README.md"
    lines = open(results).read().splitlines()
    device = next((l for l in lines if l.startswith("device: ")), None)
    table = [l for l in lines if l.startswith("|")]
    if not device or len(table) < 3:
        print(f"{results}: no device line or no table", file=sys.stderr)
        return 1
    text = open(readme).read()
    begin, end = "<!-- versions begin -->\n", "<!-- versions end -->\n"
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        print(f"{readme}: needs one '{begin.strip()}' before one '{end.strip()}'", file=sys.stderr)
        return 1
    body = f"`{results}`, {device[len('device: '):]}\n\n" + "\n".join(table) + "\n"
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: begin + body + end, text, flags=re.S)
    open(readme, "w").write(text)
    print(f"{readme}: table of {len(table) - 2} kernels from {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
