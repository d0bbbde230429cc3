"""records copy: every row moved SQLite → PostgreSQL → SQLite, verified, source unchanged."""

from __future__ import annotations

import json

import pytest

from headwater import Project
from headwater.errors import RecordsError
from tests.conftest import _pg_database, put, run_cli
from tests.loop.test_loop import MODEL, rows


def _url(section: str) -> str:
    return section.split('url = "', 1)[1].split('"', 1)[0]


def _state(p: Project) -> tuple:
    history = [(r["id"], r["kind"], r["status"], r["parent_id"]) for r in p.history(limit=None)]
    versions = [(v["version"], v["rows"]) for v in p.versions()]
    return history, versions, p.models()["production_version"], p.read().num_rows


def test_records_move_to_postgresql_and_back_verified(tmp_path, pg_server):
    root = tmp_path / "p"
    root.mkdir()
    (root / "headwater.toml").write_text(
        '[project]\nname = "p"\n[[sources]]\npath = "in"\n[dataset]\nname = "d"\n'
        'key = ["id"]\nsettle_seconds = 0\n[engine]\nthreads = 1\nmemory_limit = "256MB"\n' + MODEL
    )
    put(root / "in/a.csv", rows(300))
    p = Project.open(root)
    assert p.run().status == "deployed"  # runs, files, versions, parts, models, promotions
    before = _state(p)
    pg = _url(_pg_database(pg_server))
    out = run_cli("records", "copy", "--to", pg, "--format", "json", "-p", str(root))
    assert out.returncode == 0, out.stderr
    copied = json.loads(out.stdout)
    assert copied["tables"]["runs"]["rows"] == len(before[0]) + 1  # and the copy's own run
    assert copied["tables"]["models"]["rows"] == 1
    # the project on PostgreSQL reads the same, and goes on with fresh ids
    (root / "headwater.toml").write_text(
        (root / "headwater.toml").read_text() + f'\n[records]\nurl = "{pg}"\n'
    )
    on_pg = Project.open(root)
    history, *rest = _state(on_pg)
    assert history[1:] == before[0] and rest == list(before[1:])
    assert history[0][1:3] == ("records-copy", "ok")  # finished in the copy too
    put(root / "in/b.csv", rows(50, start=5000, seed=4))
    assert on_pg.ingest().run_id == history[0][0] + 1
    # a second copy into the same database is refused, nothing written
    with pytest.raises(RecordsError, match="already holds records"):
        on_pg.records_copy(pg)
    # and back to a new SQLite file
    back = f"sqlite:///{tmp_path / 'back.db'}"
    result = on_pg.records_copy(back)
    assert result["tables"]["runs"]["rows"] == len(on_pg.history(limit=None))
