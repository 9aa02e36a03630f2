"""One benchmark, run from two source trees in one run: did a change move the figures?

Why this exists: a refactoring must leave the figures where they were, and "within noise"
is only believable when both trees are measured on the same machine, in the same minutes,
by the same benchmark command. This runs ``python -m benchmarks.<name> <args>`` from a
*baseline* tree (a git worktree of ``--baseline``, made under ``benchmarks/.work/``) and
from this checkout, alternating the order round by round (B C, C B, …) so a change of the
machine's load touches both alike, then lines up every numeric cell of the markdown tables
both printed and shows current / baseline.

    .venv/bin/python -m benchmarks.trees --baseline 188d13e authz -- --grants 1000 1000000
    .venv/bin/python -m benchmarks.trees --baseline 188d13e serving -- --backends sqlite

Each tree imports its own packages (``PYTHONPATH`` is the tree, the working directory too),
so the baseline runs exactly the code of its commit, benchmark included. A cell is matched
by its table's header and the row's text cells; the figure shown is the mean over rounds.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import log, markdown_table

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
_NUMBER = re.compile(r"^[-+]?[\d,]*\.?\d+")


@dataclass(frozen=True)
class Cell:
    """One numeric cell: which table (the heading above it and its header), which row (its
    place in the table, and its first two cells to show), which column. Tables with one
    header under several headings (one per backend, say) stay apart by their heading."""

    heading: str
    header: tuple[str, ...]
    index: int
    label: str
    column: str


def worktree(revision: str) -> Path:
    """A detached worktree of ``revision`` (made once, reused while it exists)."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", revision],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    path = WORK / f"tree-{commit}"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), commit], cwd=ROOT, check=True
        )
    return path


def run_in(tree: Path, benchmark: str, args: Sequence[str], transcript: Path) -> str:
    """The benchmark's stdout, run from ``tree``; its stderr (progress) goes to the terminal
    and, with stdout, to ``transcript``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, "-m", f"benchmarks.{benchmark}", *args]
    log(f"{tree.name}: {' '.join(command[1:])}")
    result = subprocess.run(command, cwd=tree, env=env, stdout=subprocess.PIPE, text=True)
    transcript.write_text(result.stdout)
    if result.returncode != 0:
        raise SystemExit(f"{benchmark} failed in {tree} (exit {result.returncode})")
    return result.stdout


def number(text: str) -> float | None:
    """A table cell as a number (``1,234.5``, ``736×``, ``39%`` …), or None for text."""
    match = _NUMBER.match(text.strip())
    if match is None or match.end() < len(text.strip()) - 1:
        return None
    return float(match.group().replace(",", ""))


def cells(output: str) -> dict[Cell, float]:
    """Every numeric cell of every markdown table in ``output``."""
    found: dict[Cell, float] = {}
    header: tuple[str, ...] | None = None
    heading = ""
    index = 0
    for line in output.splitlines():
        if line.startswith("#"):
            # Without a trailing "(…)": headings carry the run's date there.
            heading = re.sub(r"\s*\(.*\)$", "", line.lstrip("#").strip())
        if not line.startswith("|"):
            header = None
            continue
        parts = tuple(p.strip() for p in line.strip().strip("|").split("|"))
        if header is None:
            header, index = parts, 0
            continue
        if all(set(p) <= set("-:") for p in parts):
            continue
        index += 1
        label = " · ".join(p for p in (heading, *parts[:2]) if p)
        for column, text in zip(header[1:], parts[1:], strict=False):
            value = number(text)
            if value is not None:
                found[Cell(heading, header, index, label, column)] = value
    return found


def compare(baseline: list[dict[Cell, float]], current: list[dict[Cell, float]]) -> list[str]:
    def mean(runs: list[dict[Cell, float]]) -> dict[Cell, float]:
        sums: dict[Cell, list[float]] = defaultdict(list)
        for run in runs:
            for cell, value in run.items():
                sums[cell].append(value)
        return {cell: sum(v) / len(v) for cell, v in sums.items()}

    before, after = mean(baseline), mean(current)
    rows = [["row", "column", "baseline", "current", "current / baseline"]]
    for cell, value in before.items():
        if cell not in after:
            continue
        now = after[cell]
        shown = f"{now / value:.2f}" if value else ""
        rows.append([cell.label, cell.column, f"{value:,.2f}", f"{now:,.2f}", shown])
    return markdown_table(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.trees", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--baseline", required=True, help="a git revision to compare against")
    parser.add_argument("--rounds", type=int, default=1, help="runs per tree (default 1)")
    parser.add_argument("benchmark", help="a module of benchmarks/: authz, serving, …")
    parser.add_argument("args", nargs="*", help="the benchmark's own arguments (after --)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    base = worktree(args.baseline)
    transcripts = WORK / "trees"
    transcripts.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict[Cell, float]]] = {"baseline": [], "current": []}
    for number_ in range(args.rounds):
        order = [("baseline", base), ("current", ROOT)]
        for label, tree in order if number_ % 2 == 0 else reversed(order):
            out = transcripts / f"{args.benchmark}-{label}-{number_ + 1}.md"
            output = run_in(tree, args.benchmark, args.args, out)
            runs[label].append(cells(output))
            print(f"\n## {label} ({tree.name}), round {number_ + 1}\n\n{output}")
    print(f"\n## current / baseline ({base.name} vs this checkout), mean of {args.rounds}\n")
    print("\n".join(compare(runs["baseline"], runs["current"])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
