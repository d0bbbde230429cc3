"""The loop's cost: `headwater run` (ingest + score + drift checks, no retrain) against
`headwater ingest` alone on the same increment, side by side, one run.

    python benchmarks/loop.py [--rows 10000000] [--new 0.01] [--repeat 3]

Set-up (not timed against anything): a project with a key and a [model] ingests ``--rows``
rows (CSV, 50,000 rows per file) and deploys a first model with `headwater run`. Then, per
repeat, two copies of that project get the same increment (``--new`` of the rows, new keys,
from the same world, so no drift and no retrain): one runs `headwater ingest`, the other
`headwater run`, alternating which goes first; wall time and peak memory (max RSS) of each
whole process. Also measured: `headwater run` and `headwater ingest` with nothing new
(whole process). Writes the ``loop`` section of benchmarks/RESULTS.md.

Targets (issue #14): `run` ≤ 1.5× `ingest` on the increment, peak memory within the
ingest's, a no-new-data `run` < 1 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from run import HEADWATER, PY, peak_rss, replace_section, timed, versions_line

HERE = Path(__file__).resolve().parent
ROWS_PER_FILE = 50_000

CONFIG = """
[project]
name = "loop-bench"
[[sources]]
path = "{data}"
[dataset]
name = "events"
key = ["id"]
settle_seconds = 0
[engine]
memory_limit = "1GB"
[model]
target = "y"
features = ["x1", "x2", "x3", "x4", "kind"]
estimator = "sklearn.linear_model.LogisticRegression"
params = {{ max_iter = 300 }}
metric = "f1"
max_rows = 200000
"""


def generate(folder: Path, rows: int, *, first_id: int, seed: int, noise: float) -> list[Path]:
    """CSV files of 50,000 rows: four numeric features, a category and a binary target
    that depends on them (``noise`` is the label noise; 0 makes a batch production scores
    better on than on its noisy test rows, so the raw drift test finds no drift)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    kinds = np.array(["a", "b", "c", "d"])
    written = []
    for i, start in enumerate(range(0, rows, ROWS_PER_FILE)):
        n = min(ROWS_PER_FILE, rows - start)
        x = rng.normal(0, 1, (4, n))
        kind = rng.integers(0, 4, n)
        logit = x[0] + 0.5 * x[1] - x[2] + 0.2 * kind
        if noise:
            logit = logit + rng.normal(0, noise, n)
        table = pa.table(
            {
                "id": np.arange(first_id + start, first_id + start + n),
                "x1": np.round(x[0], 4),
                "x2": np.round(x[1], 4),
                "x3": np.round(x[2], 4),
                "x4": np.round(x[3], 4),
                "kind": kinds[kind],
                "y": (logit > 0.3).astype(int),
            }
        )
        path = folder / f"part{seed:03d}_{i:05d}.csv"
        pacsv.write_csv(table, path)
        written.append(path)
    return written


def hw(cmd: str, proj: Path, ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one `headwater CMD` process."""
    t0 = time.perf_counter()
    mem = peak_rss([*HEADWATER, *cmd.split()], cwd=proj, ok=ok)
    return time.perf_counter() - t0, mem


def last_run(proj: Path) -> dict:
    out = subprocess.run(
        [*HEADWATER, "history", "--format", "json", "--limit", "10"],
        cwd=proj,
        check=True,
        capture_output=True,
        text=True,
    )
    data = json.loads(out.stdout)
    runs = data["runs"] if isinstance(data, dict) else data
    return next(r for r in runs if r["kind"] == "run")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--new", type=float, default=0.01)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--output", default=str(HERE / "RESULTS.md"))
    args = ap.parse_args()
    work = HERE / "data" / f"loop{args.rows}"
    data, base = work / "data", work / "base"
    if not (base / ".done").exists():
        shutil.rmtree(work, ignore_errors=True)
        print(f"generating {args.rows:,} rows …", flush=True)
        generate(data / "old", args.rows, first_id=0, seed=1, noise=0.8)
        base.mkdir(parents=True)
        (base / "headwater.toml").write_text(textwrap.dedent(CONFIG.format(data=data)))
        print("set-up: headwater run (ingest + first model) …", flush=True)
        secs, mem = hw("run", base)
        (base / ".done").write_text(json.dumps({"seconds": secs, "mem": mem}))
        print(f"  {secs:.1f}s, {mem:.0f} MiB", flush=True)
    setup = json.loads((base / ".done").read_text())
    new_rows = int(args.rows * args.new)
    times: dict[str, list[float]] = {"ingest": [], "run": []}
    mems: dict[str, list[float]] = {"ingest": [], "run": []}
    statuses = []
    for i in range(args.repeat):
        batch = work / "batch"
        shutil.rmtree(batch, ignore_errors=True)
        files = generate(batch, new_rows, first_id=10**9 + i * new_rows, seed=100 + i, noise=0)
        copies = {k: work / f"proj-{k}" for k in ("ingest", "run")}
        for proj in copies.values():
            shutil.rmtree(proj, ignore_errors=True)
            shutil.copytree(base, proj, symlinks=True)
        moved = []
        for f in files:
            moved.append(data / "new" / f.name)
            moved[-1].parent.mkdir(exist_ok=True)
            shutil.move(str(f), moved[-1])
        order = ("ingest", "run") if i % 2 == 0 else ("run", "ingest")
        for kind in order:
            secs, mem = hw(kind, copies[kind])
            times[kind].append(secs)
            mems[kind].append(mem)
        statuses.append(last_run(copies["run"])["status"])
        print(f"  repeat {i + 1}: " + ", ".join(f"{k} {times[k][-1]:.2f}s" for k in order)
              + f" (run status {statuses[-1]})", flush=True)  # fmt: skip
        for f in moved:
            f.unlink()
    imports = statistics.median(
        timed([PY, "-c", "import skops.io, sklearn.linear_model"])[0] - timed([PY, "-c", "pass"])[0]
        for _ in range(3)
    )
    noop_run = statistics.median(timed([*HEADWATER, "run"], cwd=base)[0] for _ in range(3))
    noop_ingest = statistics.median(timed([*HEADWATER, "ingest"], cwd=base)[0] for _ in range(3))
    ing, run = statistics.median(times["ingest"]), statistics.median(times["run"])
    mi, mr = max(mems["ingest"]), max(mems["run"])
    body = "\n".join(
        [
            versions_line(),
            f"Command: `python benchmarks/loop.py --rows {args.rows} --new {args.new} "
            f"--repeat {args.repeat}` (medians; whole processes, wall time; the two "
            "commands alternate which goes first).",
            f"Data: {args.rows:,} rows (CSV, 50,000 per file, key `id`, 7 columns) and a "
            f"first model deployed (set-up {setup['seconds']:.0f}s, {setup['mem']:.0f} MiB); "
            f"each repeat adds {new_rows:,} new rows ({args.new:.0%}) from the same world, "
            "so `run` ingests, scores production on them and checks drift (5 features), "
            f"and retrains nothing (statuses: {', '.join(sorted(set(statuses)))}).",
            "",
            "| | `headwater ingest` | `headwater run` | ratio run / ingest | target |",
            "|---|---|---|---|---|",
            f"| +{args.new:.0%} rows, wall | {ing:.2f}s | {run:.2f}s | {run / ing:.2f}× | ≤ 1.5× |",
            f"| +{args.new:.0%} rows, peak RSS | {mi:.0f} MiB | {mr:.0f} MiB | {mr / mi:.2f}× | "
            "within the ingest's |",
            f"| nothing new, wall | {noop_ingest:.2f}s | {noop_run:.2f}s | "
            f"{noop_run / noop_ingest:.2f}× | run < 1 s |",
            "",
            f"What `run` adds to the ingest: {run - ing:.2f}s, of which {imports:.2f}s is "
            "importing scikit-learn and skops to load the model (measured alone, a fixed "
            "cost per process whatever the batch size; skops' trusted-type list imports "
            "every scikit-learn estimator) and the rest reading the new rows' parts, "
            "scoring them and the drift aggregations. The memory difference is the same "
            "libraries (scipy, scikit-learn) and the batch as a pandas frame for scoring.",
        ]
    )
    replace_section(Path(args.output), "loop", "The loop: run vs ingest", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
