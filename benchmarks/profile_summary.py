"""Where a profiled run's time went: a summary of py-spy's collapsed stacks.

``python -m benchmarks.api --profile DIR`` leaves one file of collapsed stacks per run of
Steward (``frame;frame;… count`` per line, as ``py-spy record --format raw`` writes).
This prints, for one such file, the share of samples spent *in* each function
(self) and *under* it (inclusive), so that the next optimisation starts from a measurement:

    python -m benchmarks.profile_summary /tmp/api-profile/sqlite-get-table-c1-r1.txt
    python -m benchmarks.profile_summary FILE --under Guard.__call__ --top 40

``--under NAME`` keeps only the samples whose stack passes through a frame containing NAME
(and prints their share of the whole first).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

#: py-spy's frame: ``function (path/to/file.py:line)``; the line is dropped so that one
#: function is one row.
_LINE = re.compile(r":\d+\)$")


def read_stacks(path: Path) -> Iterator[tuple[list[str], int]]:
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            yield [_LINE.sub(")", frame) for frame in stack.split(";")], int(count)


def _short(frame: str) -> str:
    """``function (…/site-packages/pkg/mod.py)`` → ``function (pkg/mod.py)``."""
    name, _, where = frame.partition(" (")
    parts = where.rstrip(")").split("/")
    return f"{name} ({'/'.join(parts[-2:])})" if parts != [""] else name


def summarise(path: Path, under: str | None, top: int) -> str:
    total = 0
    kept = 0
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack, count in read_stacks(path):
        total += count
        if under is not None and not any(under in frame for frame in stack):
            continue
        kept += count
        own[_short(stack[-1])] += count
        for frame in {_short(f) for f in stack}:
            inclusive[frame] += count
    if not total:
        return f"{path}: no samples"
    lines = [f"{path}: {total} samples"]
    if under is not None:
        lines.append(f"under {under!r}: {kept} samples ({100 * kept / total:.1f}%)")
    for title, counter in (("self", own), ("inclusive", inclusive)):
        lines.append(f"\n{title}, % of all samples:")
        lines.extend(
            f"{100 * count / total:6.1f}%  {frame}" for frame, count in counter.most_common(top)
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="collapsed stacks written by --profile")
    parser.add_argument("--under", help="only stacks through a frame containing this text")
    parser.add_argument("--top", type=int, default=30, help="rows per table (default 30)")
    args = parser.parse_args(argv)
    print(summarise(args.file, args.under, args.top))


if __name__ == "__main__":
    main()
