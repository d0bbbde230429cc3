"""A/B: the same headwater commands on two source trees, alternated, medians.

    python benchmarks/ab.py OLD_SRC NEW_SRC [--rounds 5]

OLD_SRC / NEW_SRC are ``src`` folders of two checkouts (e.g. a ``git worktree`` of an older
commit). Each round runs, on each tree in turn (the order alternates): a first ingest of
the 1M-row benchmark data into a fresh project, a second one with nothing new, one after
adding 1% new rows, and keyed comparisons of the 5M-row Parquet and CSV files (made by
``run.py`` and ``compare.py``). Prints medians and ratios; changes nothing in RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import run as bench

PY = sys.executable


def timed(cmd: list[str], src: str, cwd: Path | None = None) -> float:
    env = {**os.environ, "PYTHONPATH": src}
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - t0
    if out.returncode not in (0, 1):  # 1: compare found differences
        raise SystemExit(f"{cmd} failed on {src}:\n{out.stderr[-2000:]}")
    return took


def one_round(src: str, work: Path, data: Path, extra: Path, res: dict[str, list[float]]) -> None:
    proj = work / "proj"
    bench.project(proj, data)
    hw = [PY, "-m", "headwater"]
    res.setdefault("ingest 1M, first run", []).append(timed([*hw, "ingest"], src, proj))
    res.setdefault("ingest 1M, nothing new", []).append(timed([*hw, "ingest"], src, proj))
    moved = []
    for f in sorted(extra.glob("*/*.csv")):
        target = data / f.parent.name / f.name
        shutil.copy(f, target)
        moved.append(target)
    try:
        res.setdefault("ingest 1M, +1% rows", []).append(timed([*hw, "ingest"], src, proj))
    finally:
        for f in moved:
            f.unlink()
    cmp = bench.DATA / "compare5000000"
    for fmt in ("parquet", "csv"):
        left, right = cmp / f"left.{fmt}", cmp / f"right.{fmt}"
        if left.exists():
            cmd = [*hw, "compare", str(left), str(right), "--key", "id", "--format", "json"]
            res.setdefault(f"compare 5M {fmt}, keyed", []).append(timed(cmd, src))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old_src")
    ap.add_argument("new_src")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    data = bench.DATA / "rows1000000"
    if not data.exists():
        bench.generate(data, 1_000_000)
    extra = bench.DATA / "ab-extra"
    if not extra.exists():
        bench.generate(extra, 10_000, start_file=10**6, seed=7)
    trees = {"old": args.old_src, "new": args.new_src}
    res: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
    with tempfile.TemporaryDirectory(prefix="headwater-ab-") as tmp:
        for i in range(args.rounds):
            for name in ("old", "new") if i % 2 == 0 else ("new", "old"):
                one_round(trees[name], Path(tmp) / name, data, extra, res[name])
            print(f"round {i + 1} of {args.rounds} done", flush=True)
    for what, old in res["old"].items():
        new = res["new"][what]
        a, b = statistics.median(old), statistics.median(new)
        print(
            f"{what}: old {a:.2f}s, new {b:.2f}s, new/old {b / a:.2f} "
            f"(old {min(old):.2f}–{max(old):.2f}, new {min(new):.2f}–{max(new):.2f})"
        )


if __name__ == "__main__":
    main()
