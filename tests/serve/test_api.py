"""The prediction API of ``headwater serve``: a real uvicorn on 127.0.0.1 over a trained
project; every endpoint, the 4xx cases, the token, the lock, and hot reload under load."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from headwater import Project
from headwater.config import ServeConfig
from tests.conftest import _pg_database, put, run_cli_subprocess
from tests.serve.conftest import served

TOKEN_ENV = "HEADWATER_TEST_SERVE_TOKEN"
TOKEN = "s3cret-token-for-tests"

CONFIG = """\
[project]
name = "api"
[[sources]]
path = "incoming"
[dataset]
name = "d"
key = ["id"]
settle_seconds = 0
[engine]
threads = 2
memory_limit = "512MB"
[model]
target = "y"
features = ["a", "b", "color"]
estimator = "sklearn.linear_model.LogisticRegression"
params = { max_iter = 500, random_state = 0 }
metric = "f1"
scale = true
impute = "median"
[serve]
max_rows = 50
max_bytes = 20000
token_env = "HEADWATER_TEST_SERVE_TOKEN"
reload_seconds = 0.1
"""


def rows(n: int, start: int = 0, seed: int = 0) -> str:
    rng = random.Random(seed)
    out = ["id,a,b,color,y"]
    for i in range(start, start + n):
        a, b = rng.gauss(0, 1), rng.gauss(0, 1)
        color = rng.choice(["red", "blue"])
        y = int(2 * a - b + (0.5 if color == "red" else -0.5) + rng.gauss(0, 0.5) > 0)
        out.append(f"{i},{a:.4f},{b:.4f},{color},{y}")
    return "\n".join(out) + "\n"


def make(root: Path, config: str = CONFIG, records: str = "") -> Project:
    """A project with 400 rows waiting; ``records`` a [records] section (see ``records``)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "headwater.toml").write_text(config + records)
    put(root / "incoming/a.csv", rows(400))
    return Project.open(root)


@pytest.fixture(scope="module")
def records(request: pytest.FixtureRequest) -> str:
    """The projects' records: SQLite in the project, or with HEADWATER_TEST_RECORDS=postgresql
    a database on the test cluster (a server on another host than the scheduler)."""
    if os.environ.get("HEADWATER_TEST_RECORDS") == "postgresql":
        return _pg_database(request.getfixturevalue("pg_server"))
    return ""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, records: str) -> Project:
    p = make(tmp_path_factory.mktemp("api") / "project", records=records)
    assert p.run().status == "deployed"  # v1 in production
    p.train()  # v2, a candidate
    return p


@pytest.fixture(scope="module")
def api(project: Project) -> Iterator[str]:
    from headwater.serve.app import create_app

    os.environ[TOKEN_ENV] = TOKEN
    try:
        with served(create_app(project)) as url:
            yield url
    finally:
        os.environ.pop(TOKEN_ENV, None)


ROW = {"a": 1.5, "b": -0.2, "color": "red"}


def test_predict_json_rows_in_order_with_probabilities(api: str) -> None:
    body = {"rows": [ROW, {"a": -2.0, "b": 1.0, "color": "blue"}, {" A ": "0.3", "B": None,
            "Color": "red", "ignored": [1]}]}  # fmt: skip
    r = httpx.post(f"{api}/predict", json=body)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["model_version"] == 1
    assert doc["predictions"][:2] == [1, 0] and len(doc["predictions"]) == 3
    assert [sorted(p) for p in doc["probabilities"]] == [["0", "1"]] * 3
    assert all(abs(sum(p.values()) - 1) < 1e-9 for p in doc["probabilities"])
    classic = httpx.post(f"{api}/prediction", json=body).json()
    assert classic == doc
    # rows that all have the same keys (read column by column): the same answers
    same = [{" A ": r.get("a", r.get(" A ")), "B": r.get("b"), "Color": r.get("color",
            r.get("Color"))} for r in body["rows"]]  # fmt: skip
    again = httpx.post(f"{api}/predict", json={"rows": same}).json()
    assert again == doc
    bare = httpx.post(f"{api}/predict?probabilities=false", json=body).json()
    assert bare == {**doc, "probabilities": None}
    r = httpx.post(f"{api}/predict?probabilities=maybe", json=body)
    assert r.status_code == 422 and "probabilities" in r.json()["error"], r.text


def test_predict_a_csv_body(api: str) -> None:
    csv = "a,b,color\n1.5,-0.2,red\n-2,1,blue\n"
    r = httpx.post(f"{api}/predict", content=csv, headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == [1, 0]


@pytest.mark.parametrize(
    ("body", "words", "field"),
    [
        ({"rows": [ROW, {"a": 1, "color": "red"}]}, ["row 1 lacks feature(s) 'b'"], "b"),
        ({"rows": [{"a": 1, "Color": "red"}] * 3}, ["row 0 lacks feature(s) 'b'"], "b"),
        (
            {"rows": [{" A": 1, "b": 2, "color": "red"}] * 2 + [{" A": 1, "b": [2], "color": "x"}]},
            ["row 2, column 'b'"],
            "b",
        ),
        ({"rows": [ROW, ROW, {**ROW, "a": "ten"}]}, ["row 2, column 'a'", "'ten'"], "a"),
        ({"rows": [{**ROW, "a": True}]}, ["row 0, column 'a'", "boolean"], "a"),
        ({"rows": [{**ROW, "color": {"x": 1}}]}, ["row 0, column 'color'"], "color"),
        ({"rows": ["just text"]}, ["row 0 is a str"], None),
        ({"rows": []}, ["no rows"], None),
        ({"data": []}, ['no "rows" list'], None),
    ],
)
def test_a_bad_row_is_422_naming_the_row_column_and_value(api, body, words, field) -> None:
    r = httpx.post(f"{api}/predict", json=body)
    assert r.status_code == 422, r.text
    doc = r.json()
    assert all(w in doc["error"] for w in words), doc
    assert doc["hint"]
    if field:
        assert doc["column"] == field


def test_malformed_bodies_are_422(api: str) -> None:
    r = httpx.post(
        f"{api}/predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and "not JSON" in r.json()["error"]
    r = httpx.post(f"{api}/predict", content=b"a,b\n1\n", headers={"content-type": "text/csv"})
    assert r.status_code == 422 and "CSV row 1" in r.json()["error"]


def test_request_size_limits_are_413(api: str) -> None:
    r = httpx.post(f"{api}/predict", json={"rows": [ROW] * 51})
    assert r.status_code == 413 and "max_rows 50" in r.json()["error"]
    big = {"rows": [{**ROW, "pad": "x" * 30000}]}
    r = httpx.post(f"{api}/predict", json=big)
    assert r.status_code == 413 and "max_bytes" in r.json()["error"]


def test_model_health_and_records(api: str, project: Project) -> None:
    model = httpx.get(f"{api}/model").json()
    assert (model["production_version"], model["serving_version"], model["metric"]) == (1, 1, "f1")
    assert (
        model["dataset_version"] == 1
        and model["promoted_at"]
        and model["drift_unresolved"] is False
    )
    assert httpx.get(f"{api}/health").json() == {
        "status": "ok", "model_version": 1, "production_version": 1, "reason": None
    }  # fmt: skip
    everything = [r["id"] for r in project.history(limit=None)]
    first = httpx.get(f"{api}/runs", params={"limit": 2}).json()
    assert [r["id"] for r in first["runs"]] == everything[:2]
    second = httpx.get(f"{api}/runs", params={"limit": 2, "before": first["next_before"]}).json()
    assert [r["id"] for r in second["runs"]] == everything[2:4]
    kinds = httpx.get(f"{api}/runs", params={"kind": "train"}).json()["runs"]
    assert {r["kind"] for r in kinds} == {"train"}
    one = httpx.get(f"{api}/runs/{everything[-1]}").json()
    assert one["id"] == everything[-1] and one["kind"] == "run" and "story" in one
    bad = httpx.get(f"{api}/runs", params={"limit": "lots"})
    assert bad.status_code == 422 and "limit" in bad.json()["error"] and bad.json()["hint"]
    missing = httpx.get(f"{api}/runs/99999")
    assert missing.status_code == 404 and "99999" in missing.json()["error"]
    versions = httpx.get(f"{api}/datasets").json()["versions"]
    assert [v["version"] for v in versions] == [1] and versions[0]["rows"] == 400
    models = httpx.get(f"{api}/models").json()
    assert models["production_version"] == 1 and len(models["models"]) == 2


def test_classic_endpoints_read_only(api: str, project: Project) -> None:
    before = [r["id"] for r in project.history(limit=None)]
    files = sorted(p.relative_to(project.root) for p in project.root.rglob("*") if p.is_file()
                   and ".headwater" not in p.parts)  # fmt: skip
    scoring = httpx.get(f"{api}/scoring").json()
    assert scoring["model_version"] == 1 and scoring["metric"] == "f1" and 0 < scoring["score"] <= 1
    assert httpx.get(f"{api}/scoring").json() == scoring  # cached per model version
    stats = httpx.get(f"{api}/summarystats").json()
    assert stats["rows"] == 400 and stats["columns"]["a"]["type"] == "float"
    assert set(stats["columns"]["a"]) >= {"mean", "median", "std", "missing_share"}
    diag = httpx.get(f"{api}/diagnostics").json()
    assert diag["dataset"] == "d" and "libraries" in diag
    assert [r["id"] for r in project.history(limit=None)] == before  # nothing recorded
    after = sorted(p.relative_to(project.root) for p in project.root.rglob("*") if p.is_file()
                   and ".headwater" not in p.parts)  # fmt: skip
    assert after == files  # no plot, no export: the GETs write nothing


def test_the_openapi_schema_documents_every_endpoint(api: str) -> None:
    schema = httpx.get(f"{api}/openapi.json").json()
    paths = schema["paths"]
    for path in ("/predict", "/prediction", "/model", "/health", "/scoring", "/summarystats",
                 "/diagnostics", "/runs", "/runs/{run_id}", "/datasets", "/models",
                 "/rollback"):  # fmt: skip
        assert path in paths, path
        for op in paths[path].values():
            assert "200" in op["responses"] or "202" in op["responses"], (path, op)
            ok = op["responses"].get("200") or op["responses"]["202"]
            assert "schema" in ok["content"]["application/json"], path
    assert "text/csv" in paths["/predict"]["post"]["requestBody"]["content"]


def test_writes_need_the_token(api: str, project: Project) -> None:
    assert httpx.post(f"{api}/rollback").status_code == 401
    wrong = httpx.post(f"{api}/runs", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "bearer token" in wrong.json()["error"]
    from headwater.serve.app import create_app

    no_token = ServeConfig(token_env=None)
    with served(create_app(project, no_token)) as other:
        r = httpx.post(f"{other}/rollback", headers={"authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 403 and "disabled" in r.json()["error"]
        assert httpx.post(f"{other}/runs").status_code == 403
    assert project.models()["production_version"] == 1


def test_post_runs_starts_a_run_process_and_409_while_the_lock_is_held(
    api: str, project: Project
) -> None:
    auth = {"authorization": f"Bearer {TOKEN}"}
    with project.workspace.writer("ingest") as holder:
        busy = httpx.post(f"{api}/runs", headers=auth, timeout=60)
    assert busy.status_code == 409, busy.text
    assert f"run {holder.id}" in busy.json()["error"]
    started = httpx.post(f"{api}/runs", headers=auth, timeout=60)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    deadline = time.monotonic() + 120
    while project.workspace.records.run(run_id)["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    done = project.workspace.records.run(run_id)
    assert (done["kind"], done["status"], done["trigger"]) == ("run", "no_new_data", "server")
    assert TOKEN not in (project.root / ".headwater/logs/server-runs.log").read_text()
    assert TOKEN not in json.dumps(project.workspace.records.run(run_id))


def test_hot_reload_under_load_while_deploy_and_rollback_run_elsewhere(
    api: str, project: Project
) -> None:
    """Requests in four threads while another process deploys v2 then rolls back: none
    fails, and each answer comes from a version that was in production while it was
    asked (allowing the reload interval and a load)."""
    stop = threading.Event()
    answers: list[tuple[float, float, int]] = []
    failures: list[str] = []

    def load() -> None:
        with httpx.Client() as client:
            while not stop.is_set():
                t0 = time.time()
                try:
                    r = client.post(f"{api}/predict", json={"rows": [ROW]})
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if r.status_code != 200:
                    failures.append(r.text)
                else:
                    answers.append((t0, time.time(), r.json()["model_version"]))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        for args in (("deploy", "2", "--force"), ("rollback",)):
            out = run_cli_subprocess(*args, "-p", str(project.root))
            assert out.returncode == 0, out.stderr
            time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not failures, failures[:3]
    assert {v for _, _, v in answers} == {1, 2}
    moves = [
        (m["at"], m["to_version"])
        for m in _promotions(project)
        if m["action"] in ("promote", "rollback")
    ]
    timeline = [(_ts(at), v) for at, v in moves]
    grace = 3.0  # reload interval (0.1 s) + a model load, on a loaded machine
    for t0, t1, v in answers:
        held = {v0 for at, v0 in timeline if at <= t1}  # versions in production by then
        current_then = [v0 for at, v0 in timeline if at <= t0 - grace]
        window = {v0 for at, v0 in timeline if t0 - grace < at <= t1}
        allowed = window | ({current_then[-1]} if current_then else held)
        assert v in allowed, (t0, t1, v, timeline)
    last = max(answers, key=lambda a: a[0])
    assert last[2] == 1  # rolled back: v1 answers again
    assert project.models()["production_version"] == 1


def _promotions(project: Project) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from headwater.records import schema as rs

    with project.workspace.records.read() as conn:
        q = sa.select(rs.promotions).order_by(rs.promotions.c.id)
        return [dict(r._mapping) for r in conn.execute(q)]


def _ts(iso: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(iso).timestamp()


def test_health_is_503_without_a_model_and_degraded_when_a_new_one_fails_to_load(
    tmp_path: Path,
) -> None:
    from headwater.serve.app import create_app

    p = make(tmp_path / "p")
    p.ingest()
    slow = ServeConfig(reload_seconds=3600)  # the test checks the pointer by hand
    app = create_app(p, slow)
    holder = app.state.holder
    with served(app) as url:
        health = httpx.get(f"{url}/health")
        assert health.status_code == 503 and "no model is in production" in health.json()["reason"]
        r = httpx.post(f"{url}/predict", json={"rows": [ROW]})
        assert r.status_code == 503 and "train --deploy" in r.json()["hint"]
        p.train(deploy=True)
        holder.check()
        assert httpx.get(f"{url}/health").json()["model_version"] == 1
        p.train()
        p.deploy(2, force=True)
        model = tmp_path / "p/models/v0002/model.skops"
        good = model.read_bytes()
        model.write_bytes(good[: len(good) // 2])  # production's file is broken
        holder.check()
        health = httpx.get(f"{url}/health")
        assert health.status_code == 200
        doc = health.json()
        assert doc["status"] == "degraded" and doc["model_version"] == 1
        assert doc["production_version"] == 2 and "v2" in doc["reason"]
        assert httpx.post(f"{url}/predict", json={"rows": [ROW]}).json()["model_version"] == 1
        model.write_bytes(good)
        holder.retry = 0
        holder.check()
        assert httpx.get(f"{url}/health").json() == {
            "status": "ok", "model_version": 2, "production_version": 2, "reason": None
        }  # fmt: skip


def test_serve_cli_refuses_a_bad_serve_config(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    root = tmp_path / "p"
    root.mkdir()
    (root / "headwater.toml").write_text(
        CONFIG.replace('token_env = "HEADWATER_TEST_SERVE_TOKEN"', 'token_env = "tok3n value"')
    )
    out = run_cli("serve", "-p", str(root))
    assert out.returncode == 2 and "serve.token_env" in out.stderr
    assert "name of an environment variable" in out.stderr
    assert "tok3n" not in out.stderr  # it may have been the token itself


def test_the_server_process_serves_and_warns_when_exposed(tmp_path: Path) -> None:
    """`headwater serve` as a user runs it: a real process; listening beyond 127.0.0.1
    without a token prints a warning."""
    p = make(tmp_path / "p", CONFIG.replace('token_env = "HEADWATER_TEST_SERVE_TOKEN"\n', ""))
    p.run()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "headwater", "-p", str(p.root), "serve", "--host", "0.0.0.0",
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()["model_version"] == 1
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "beyond this host" in out
    assert json.dumps(r.json())


def test_the_whole_app_serves_the_api_and_the_dashboard(project: Project) -> None:
    from headwater.serve.server import build

    with served(build(project)) as url:
        page = httpx.get(f"{url}/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert httpx.get(f"{url}/ui/runs").status_code == 200
        assert httpx.get(f"{url}/health").json()["model_version"] == 1
        paths = httpx.get(f"{url}/openapi.json").json()["paths"]
        assert "/predict" in paths and "/" not in paths  # the pages are not API endpoints


def test_serve_on_a_port_in_use_says_so(project: Project) -> None:
    from tests.conftest import run_cli

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = run_cli("serve", "-p", str(project.root), "--port", str(port))
    assert out.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in out.stderr
    assert "--port" in out.stderr
