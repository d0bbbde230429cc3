"""Compare-and-swap commits under concurrency, on SQLite and PostgreSQL (READ COMMITTED):
two processes publish on the same parent version, or move production from the same
version, at the same moment, past the project lock — exactly one wins, the other is
refused with the reason and its transaction leaves nothing behind."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import sqlalchemy as sa

from headwater.records import schema as rs
from headwater.records.store import RecordStore

RACER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import sqlalchemy as sa
    from headwater import dataset, registry
    from headwater.errors import PublishError, RegistryError
    from headwater.records.store import RecordStore
    url, what, me, go = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
    store = RecordStore(url)
    with store.read() as conn:
        parent = dataset.state(conn, "d")
        before, _ = registry.production_version(conn)
    run_id = store.start_run(kind="ingest", host="h", user="u", pid=1)
    while not go.exists():  # both start their transaction at the same moment
        time.sleep(0.01)
    try:
        with store.write() as conn:
            if what == "publish":
                version = dataset.publish(
                    conn, name="d", dataset_dir="/x", parent=parent, line=1, run_id=run_id,
                    schema={"k": "int"}, row_parts=[(f"p-{me}.parquet", 1, 10)],
                    retraction_parts=[], rows_added=1, rows_retracted=0, lineage={},
                )
                print("won", version, flush=True)
            else:
                move = registry.Move("promote", before, int(me), "race")
                registry.move_pointer(conn, move, run_id=run_id, user="u", host="h")
                print("won", me, flush=True)
            time.sleep(0.5)  # hold the claim: the other one waits on it, then loses
    except (PublishError, RegistryError) as exc:
        print("lost", exc, flush=True)
    """
)


def _race(url: str, what: str, folder: Path, base: int = 0) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    go = folder / f"go-{what}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, url, what, str(base + int(me)), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for me in ("1", "2")
    ]
    time.sleep(1.5)  # both have read their parent and wait
    go.touch()
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        outs.append(out.strip())
    return sorted(outs)


def test_two_publishers_on_one_parent_exactly_one_wins(tmp_path, records_backend):
    url = (
        records_backend.split('url = "', 1)[1].split('"', 1)[0]
        if records_backend
        else f"sqlite:///{tmp_path / 'records.db'}"
    )
    RecordStore(url).dispose()  # created and migrated before the race
    for round_ in (1, 2):  # a first publish (no parent), then one on version 1
        outcome = _race(url, "publish", tmp_path / f"r{round_}")
        assert [o.split()[0] for o in outcome] == ["lost", "won"], outcome
        assert "moved from version" in outcome[0] and "nothing was published" in outcome[0]
    store = RecordStore(url)
    with store.read() as conn:
        versions = conn.execute(sa.select(rs.versions.c.version).order_by("version")).scalars()
        assert list(versions) == [1, 2]
        parts = conn.execute(sa.select(sa.func.count()).select_from(rs.parts)).scalar()
        assert parts == 2  # the losers' parts were never recorded


def test_two_deploys_from_one_production_exactly_one_wins(tmp_path, records_backend):
    url = (
        records_backend.split('url = "', 1)[1].split('"', 1)[0]
        if records_backend
        else f"sqlite:///{tmp_path / 'records.db'}"
    )
    store = RecordStore(url)
    store.dispose()
    for round_ in (1, 2):
        # each round moves to versions production never had (a move to itself is no race)
        outcome = _race(url, "deploy", tmp_path / f"d{round_}", base=10 * round_)
        assert [o.split()[0] for o in outcome] == ["lost", "won"], outcome
        assert "production moved" in outcome[0] and "nothing was changed" in outcome[0]
    with RecordStore(url).read() as conn:
        promotions = conn.execute(sa.select(sa.func.count()).select_from(rs.promotions)).scalar()
        assert promotions == 2  # one per round: the losers recorded none
