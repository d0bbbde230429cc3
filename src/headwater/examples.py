"""Example projects and the seeded stock-data generator (also used by the benchmarks).

:func:`generate_stocks` writes daily rows per ticker (date, ticker, peratio, price, volume,
eps, up_next_day) spread over several "broker" folders in different formats, with ~5%
duplicate rows across files and messy values (stray whitespace, NA/empty cells, a broker
that writes volume as "1,234,567"). ``drift`` makes later batches behave differently.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

from headwater.errors import ProjectError

BROKERS = (("broker_a", "csv"), ("broker_b", "jsonl"), ("broker_c", "parquet"))
TICKERS = (
    "ACME",
    "BOLT",
    "CRUX",
    "DYNA",
    "EPIC",
    "FLUX",
    "GLOW",
    "HALO",
    "IONX",
    "JUNO",
    "KITE",
    "LUMA",
    "MOXY",
    "NOVA",
    "ORCA",
    "PYRO",
)

STOCKS_TOML = """\
# headwater.toml — the stock example. Three brokers deliver daily rows in different formats.

[project]
name = "stocks"

[[sources]]
path = "brokers/broker_a"       # CSV files

[[sources]]
path = "brokers/broker_b"       # JSON Lines files

[[sources]]
path = "brokers/broker_c"       # Parquet files

[dataset]
name = "prices"
path = "data"
key = ["date", "ticker"]        # one row per ticker and day: upsert mode
settle_seconds = 0              # the generator writes whole files at once

[dataset.columns.date]
type = "date"

[dataset.columns.price]
type = "float"
min = 0

[dataset.columns.volume]
type = "int"
min = 0

[dataset.columns.up_next_day]
type = "int"
allowed = [0, 1]

[engine]
name = "duckdb"
memory_limit = "1GB"

# The model: does the stock go up the next day?
[model]
target = "up_next_day"
features = ["peratio", "price", "volume", "eps"]
estimator = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 1000, random_state = 0 }
metric = "f1"
scale = true
impute = "median"

[deploy]
tolerance = 0.0
"""


def _rows(
    rng: random.Random, start: dt.date, days: int, tickers: tuple[str, ...], drift: float
) -> list[dict[str, Any]]:
    rows = []
    for t_index, ticker in enumerate(tickers):
        price = 20.0 + 7.0 * t_index
        eps = 1.0 + 0.1 * t_index
        momentum = 0.0
        for d in range(days):
            day = start + dt.timedelta(days=d)
            shock = rng.gauss(0, 0.02)
            peratio = price / eps
            volume = int(abs(rng.gauss(1_000_000, 300_000)))
            # cheap stocks on heavy volume tend to go up; ``drift`` turns the valuation
            # effect around (at drift = 1 expensive stocks go up), so a model trained before
            # the drift gets worse after it
            valuation = (peratio - 30.0) / 8.0
            signal = (1.0 - 2.0 * drift) * -valuation + (volume - 1_000_000) / 300_000
            up = 1 if signal + rng.gauss(0, 0.8) + 20 * momentum > 0 else 0
            rows.append(
                {
                    "date": day.isoformat(),
                    "ticker": ticker,
                    "peratio": round(peratio, 3),
                    "price": round(price, 2),
                    "volume": volume,
                    "eps": round(eps, 3),
                    "up_next_day": up,
                }
            )
            ret = (0.004 if up else -0.004) + shock
            momentum = 0.7 * momentum + ret
            price = max(1.0, price * math.exp(ret))
            eps *= math.exp(rng.gauss(0, 0.002))
    return rows


def generate_stocks(
    folder: str | os.PathLike[str],
    *,
    rows: int = 20_000,
    files_per_broker: int = 4,
    batch: int = 0,
    start_day: int = 0,
    drift: float = 0.0,
    seed: int = 0,
    duplicates: float = 0.05,
    messy: bool = True,
    brokers: tuple[tuple[str, str], ...] = BROKERS,
) -> dict[str, Any]:
    """Write one batch of stock files under ``folder/<broker>/``; return what was written.

    ``start_day`` (days after 2024-01-01) is where this batch's dates begin; the result's
    ``next_day`` is where the next batch should start. ``batch`` numbers the files and
    seeds the randomness. Files get a
    modification time in the past so that ingest's settle check does not defer them.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed * 1000 + batch)
    tickers = TICKERS
    days = max(1, rows // len(tickers))
    start = dt.date(2024, 1, 1) + dt.timedelta(days=start_day)
    data = _rows(rng, start, days, tickers, drift)
    rng.shuffle(data)
    n_files = files_per_broker * len(brokers)
    chunks = [data[i::n_files] for i in range(n_files)]
    # ~duplicates share of rows appear again in another file
    for i, chunk in enumerate(chunks):
        other = chunks[(i + 1) % n_files]
        chunk.extend(rng.sample(other, k=min(len(other), int(len(other) * duplicates))))
    written = []
    past = time.time() - 3600
    for i, chunk in enumerate(chunks):
        broker, fmt = brokers[i % len(brokers)]
        target = Path(folder) / broker
        target.mkdir(parents=True, exist_ok=True)
        name = target / f"batch{batch:03d}_{i // len(brokers):03d}.{fmt}"
        out_rows = [dict(r) for r in chunk]
        if messy:
            for r in out_rows:
                roll = rng.random()
                if roll < 0.01:
                    r["eps"] = "NA"
                elif roll < 0.02:
                    r["ticker"] = f"  {r['ticker']} "
                elif roll < 0.022:
                    r["price"] = "n/a?"  # a value that cannot be a number: a reject
        if fmt == "csv":
            with open(name, "w", encoding="utf-8") as fh:
                fh.write("Date,Ticker,PERatio,Price,Volume,EPS,Up_Next_Day\n")
                for r in out_rows:
                    vol = f'"{r["volume"]:,}"' if messy else str(r["volume"])
                    fh.write(
                        f"{r['date']},{r['ticker']},{r['peratio']},{r['price']},{vol},"
                        f"{r['eps']},{r['up_next_day']}\n"
                    )
        elif fmt == "jsonl":
            with open(name, "w", encoding="utf-8") as fh:
                for r in out_rows:
                    fh.write(json.dumps(r) + "\n")
        else:
            cols = {k: [str(r[k]) for r in out_rows] for k in out_rows[0]} if out_rows else {}
            pq.write_table(pa.table(cols), name)
        os.utime(name, (past, past))
        written.append(str(name))
    return {
        "files": written,
        "rows": sum(len(c) for c in chunks),
        "unique_rows": len(data),
        "next_day": start_day + days,
    }


def create(example: str, directory: str | os.PathLike[str], *, force: bool = False) -> Any:
    """Create an example project (only ``stocks`` so far) without running it."""
    from headwater.project import Project

    if example != "stocks":
        raise ProjectError(
            f"unknown example {example!r}", hint="the examples are: stocks", example=example
        )
    root = Path(directory)
    if force and root.exists():
        shutil.rmtree(root)
    Project.init(root, config_text=STOCKS_TOML, force=force)
    generate_stocks(root / "brokers", rows=8_000, batch=0)
    # broker_a writes volume as "1,234,567"
    _set_thousands(root)
    return Project.open(root, search_parents=False)


def _set_thousands(root: Path) -> None:
    cfg = root / "headwater.toml"
    text = cfg.read_text(encoding="utf-8")
    text = text.replace(
        'path = "brokers/broker_a"       # CSV files',
        'path = "brokers/broker_a"       # CSV files\n'
        'thousands = ","                 # this broker writes volume as "1,234,567"',
    )
    cfg.write_text(text, encoding="utf-8")


def run_demo(
    directory: str | os.PathLike[str],
    *,
    rows: int = 20_000,
    force: bool = False,
    prog: str = "headwater",
) -> list[str]:
    """The whole loop on the stock project, told in a few lines: first data → model
    deployed → a batch from the same market (no drift, nothing changes) → a batch after the
    market changed (the generator's ``drift``) → drift detected → retrained → promoted.
    Each step is one ``headwater run``; returns the story. ``prog`` is how the suggested
    commands call headwater."""
    from headwater.project import Project

    root = Path(directory)
    if root.exists() and any(root.iterdir()):
        if not force:
            raise ProjectError(
                f"{str(root)!r} already exists and is not empty",
                hint="pass --force to replace it, or choose another folder",
            )
        shutil.rmtree(root)
    Project.init(root, config_text=STOCKS_TOML)
    _set_thousands(root)
    first = generate_stocks(root / "brokers", rows=rows, batch=0)
    project = Project.open(root, search_parents=False)
    out = [f"created the stock project in {root} ({len(first['files'])} files from 3 brokers)"]
    r1 = project.run()
    out += _told(project, 1, r1)
    second = generate_stocks(
        root / "brokers", rows=max(rows // 4, 16), batch=1, start_day=first["next_day"]
    )
    out.append(f"landed batch 2: {len(second['files'])} files from the same market")
    r2 = project.run()
    out += _told(project, 2, r2)
    third = generate_stocks(
        root / "brokers", rows=rows, batch=2, start_day=second["next_day"], drift=1.0
    )
    out.append(
        f"landed batch 3: {len(third['files'])} files after the market changed "
        "(expensive stocks now go up)"
    )
    r3 = project.run()
    out += _told(project, 3, r3)
    info = project.models()
    out.append(
        f"models: {len(info['models'])}, in production: v{info['production_version']} "
        f"since {info['production_since']}"
    )
    ingest1 = r1.ingest_run_id
    out += [
        "",
        "try next:",
        f"  {prog} -p {root} history",
        f"  {prog} -p {root} show {r3.run_id}",
        f"  {prog} -p {root} show {r2.run_id}",
        f"  {prog} -p {root} rejects {ingest1}",
        f"  {prog} -p {root} models",
        f"  {prog} -p {root} drift",
        f"  {prog} -p {root} export -o {root}/prices.csv",
        f"  {prog} -p {root} score",
        f"  {prog} -p {root} predict --data {root}/brokers/broker_b -o {root}/predictions.csv",
        f"  {prog} -p {root} diagnostics",
        f"  {prog} -p {root} compare prices@1 prices@latest --key date,ticker",
    ]
    project.close()
    return out


def _told(project: Any, n: int, r: Any) -> list[str]:
    """A loop run in two or three lines: what came in, what the checks said, what was done."""
    runs = {h["id"]: h for h in project.history(limit=None)}
    ingest = runs.get(r.ingest_run_id, {}).get("summary", {})
    lines = [
        f"run {n} (run {r.run_id}, {r.status}): {r.files_new} new files, "
        f"{ingest.get('rows_read', 0):,} rows read, {ingest.get('rows_rejected', 0)} rejected, "
        f"{ingest.get('duplicates_dropped', 0):,} duplicates dropped, {r.rows_added:,} added "
        f"→ dataset version {ingest.get('dataset_version')} with "
        f"{ingest.get('dataset_rows', 0):,} rows"
    ]
    d = r.drift or {}
    if d.get("score") is not None:
        verdict = "drift detected" if d.get("detected") else "no drift"
        lines.append(
            f"  {verdict}: production scores {d['score']:.3f} on the {d['rows']:,} new rows, "
            f"against its test score {d['baseline']:.3f}"
        )
    drifted = [f for f, v in (r.data_drift or {}).items() if v.get("detected")]
    if drifted and not r.candidate:
        lines.append(f"  data drift in {', '.join(drifted)} (watched, not a retrain trigger)")
    c = r.candidate
    if c:
        how = "trained" if d.get("score") is None else "retrained:"
        verdict = "promoted" if c["promoted"] else "rejected"
        lines.append(f"  {how} model v{c['model_version']} → {verdict} ({c['reason']})")
        report = next(
            (h["summary"].get("report") for h in runs.values()
             if h["kind"] == "train" and h["summary"].get("model_version") == c["model_version"]),
            None,
        )  # fmt: skip
        if report:
            lines.append(f"  confusion matrix: {report}")
    elif d.get("score") is not None:
        lines.append(f"  nothing retrained: v{r.production_version} stays in production")
    return lines
