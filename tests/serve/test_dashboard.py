"""The dashboard of ``headwater serve``, in process: every page over the demo project (runs,
versions, models, drift), escaping of user data, 404s, an empty project, pagination over
thousands of runs, and that a page read changes nothing."""

from __future__ import annotations

import re

import pytest

from headwater import Project


def make_client(project: Project):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from headwater.serve.dashboard import router

    app = FastAPI()
    app.include_router(router(project))
    return TestClient(app)


@pytest.fixture(scope="module")
def client(demo):
    with make_client(demo) as c:
        yield c


def _get(client, url: str, status: int = 200) -> str:
    r = client.get(url)
    assert r.status_code == status, (url, r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("text/html")
    return r.text


def _table_run_ids(html: str) -> list[int]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [int(m) for m in re.findall(r'<tr>\s*<td><a href="/ui/runs/(\d+)">', body)]


def test_overview_shows_production_the_latest_runs_and_the_drift_state(demo, client):
    html = _get(client, "/")
    prod = demo.models().production_version
    assert prod == 3
    assert f'<a href="/ui/models">v{prod}</a>' in html
    newest = demo.history(limit=10)
    assert _table_run_ids(html) == [r["id"] for r in newest]
    assert "Last check (run" in html and "outcome deployed" in html
    for link in ("/ui/runs", "/ui/dataset", "/ui/models", "/static/dashboard.css"):
        assert f'href="{link}"' in html


def test_runs_page_lists_every_run_with_what_it_did(demo, client):
    html = _get(client, "/ui/runs")
    ids = [r["id"] for r in demo.history(limit=None)]
    assert _table_run_ids(html) == ids
    # a loop run's line says the drift verdict with its numbers and the gate's verdict
    assert "drift detected." in html and "Model drift (" in html
    assert "promoted" in html and "not promoted" in html
    assert "Older runs" not in html  # one page holds them all


def test_run_page_tells_the_story_of_show(demo, client):
    loop = [r for r in demo.history(limit=None) if r["kind"] == "run"]
    last = loop[0]
    html = _get(client, f"/ui/runs/{last['id']}")
    record = demo.run_record(last["id"])
    assert "drift detected" in html
    for line in record["story"][1:]:
        assert _escaped(line) in html
    # the child ingest: files, rows added, the version it published
    ingest = next(c for c in record["children"] if c["kind"] == "ingest")
    child = _get(client, f"/ui/runs/{ingest['id']}")
    assert "Files" in child and ".csv" in child and "Dataset version" in child
    text = demo.record_text(ingest["id"])
    assert _escaped(text.splitlines()[0]) in child


def test_dataset_page_lists_versions_with_rows_files_and_rejects(demo, client):
    html = _get(client, "/ui/dataset")
    versions = demo.versions()
    numbers = [v["version"] for v in versions]
    assert len(numbers) >= 3 and numbers == sorted(numbers, reverse=True)
    for v in versions:
        assert f"{v['rows']:,}" in html
        assert f'<a href="/ui/runs/{v["run_id"]}">' in html
    assert "(current)" in html
    assert re.search(r"\d+ column\(s\)", html)  # version 1's schema


def test_models_page_shows_versions_chart_drift_and_confusion_matrix(demo, client):
    html = _get(client, "/ui/models")
    for m in demo.models().models:
        assert f"v{m['version']}" in html
    assert "v3</strong>" in html  # production
    assert '<svg class="chart"' in html and 'class="band band' in html
    assert html.count('class="model"') == 3
    assert 'class="batch drift"' in html  # the check that found drift
    # per-feature drift rows, for the model's features
    for feature in ("peratio", "price", "volume", "eps"):
        assert f"<td>{feature}</td>" in html
    # the production model's confusion matrix on the test data: 2 × 2 cells
    assert '<svg class="matrix"' in html and html.count('class="cm"') == 4
    assert "Could not score" not in html


def test_a_hostile_file_name_is_shown_escaped(demo, client):
    ingest = demo.history(limit=1)[0]
    assert ingest["kind"] == "ingest"
    pages = [_get(client, u) for u in ("/", "/ui/runs", f"/ui/runs/{ingest['id']}")]
    pages += [_get(client, u) for u in ("/ui/dataset", "/ui/models")]
    for html in pages:
        assert "<img" not in html and 'onerror="' not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&amp;.csv" in pages[2]


def test_a_run_that_does_not_exist_is_a_404_naming_it(client):
    html = _get(client, "/ui/runs/99999", 404)
    assert "no run with id &#39;99999&#39;" in html
    html = _get(client, "/ui/runs/nope", 404)
    assert "nope" in html
    _get(client, "/ui/runs?before=x", 400)


def test_static_assets_ship_and_nothing_else_is_served(client):
    r = client.get("/static/dashboard.css")
    assert r.status_code == 200 and "text/css" in r.headers["content-type"]
    assert "http" not in r.text  # nothing loaded from elsewhere
    assert client.get("/static/nope.css").status_code == 404
    assert client.get("/static/..%2Fdashboard.py").status_code == 404


def test_pages_read_the_records_on_every_request(demo, client):
    before = _table_run_ids(_get(client, "/ui/runs"))
    with demo.writer("ingest"):  # another run recorded while the app is up
        pass
    after = _table_run_ids(_get(client, "/ui/runs"))
    assert after[1:] == before and after[0] > before[0]


def test_reading_pages_writes_nothing(demo):
    def files() -> dict[str, tuple[int, int]]:
        return {
            str(p): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in demo.root.rglob("*")
            if p.is_file() and not p.name.startswith("records.db")
        }

    count = len(demo.history(limit=None))
    seen = files()
    with make_client(demo) as client:  # a new app: the models page scores production anew
        for url in ("/", "/ui/runs", "/ui/runs/1", "/ui/dataset", "/ui/models"):
            _get(client, url)
    assert files() == seen
    assert len(demo.history(limit=None)) == count


def _escaped(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


# -- an empty project ----------------------------------------------------------------------


@pytest.mark.parametrize("with_model", [False, True])
def test_an_empty_project_says_what_to_do_on_every_page(tmp_path, with_model):
    project = Project.init(tmp_path / "p")
    if with_model:
        cfg = tmp_path / "p" / "headwater.toml"
        cfg.write_text(
            cfg.read_text(encoding="utf-8") + '\n[model]\ntarget = "y"\n', encoding="utf-8"
        )
        project = Project.open(tmp_path / "p")
    with make_client(project) as c:
        home = _get(c, "/")
        assert "No runs yet" in home and "No dataset version yet" in home
        if with_model:
            assert "run <code>headwater train</code> then <code>headwater deploy</code>" in home
        else:
            assert "no <code>[model]</code> section" in home
        assert "No runs yet" in _get(c, "/ui/runs")
        assert "No version of dataset" in _get(c, "/ui/dataset")
        models = _get(c, "/ui/models")
        assert "headwater train" in models
        _get(c, "/ui/runs/1", 404)
    project.close()


# -- thousands of runs ---------------------------------------------------------------------


def test_the_timeline_is_paginated_on_the_server(tmp_path):
    import sqlalchemy as sa

    from headwater.records import now_iso
    from headwater.records import schema as rs
    from headwater.serve.dashboard import PAGE_SIZE

    project = Project.init(tmp_path / "p")
    t = now_iso()
    rows = [
        {"kind": "ingest", "started": t, "finished": t, "status": "ok", "summary": "{}"}
        for _ in range(3000)
    ]
    with project.records.write() as conn:
        conn.execute(sa.insert(rs.runs), rows)
    with make_client(project) as c:
        first = _get(c, "/ui/runs")
        ids = _table_run_ids(first)
        assert ids == list(range(3000, 3000 - PAGE_SIZE, -1))
        older = re.search(r'href="/ui/runs\?before=(\d+)"', first)
        assert older and int(older.group(1)) == ids[-1]
        second = _get(c, f"/ui/runs?before={ids[-1]}")
        assert _table_run_ids(second) == list(range(ids[-1] - 1, ids[-1] - 1 - PAGE_SIZE, -1))
        assert 'href="/ui/runs">Newest runs' in second
        last = _get(c, f"/ui/runs?before={PAGE_SIZE // 2 + 1}")
        assert _table_run_ids(last) == list(range(PAGE_SIZE // 2, 0, -1))
        assert "before=" not in last.split('<nav class="pages">', 1)[1]
        assert "No runs before run 1" in _get(c, "/ui/runs?before=1")
        # the overview shows the latest few, not thousands
        assert _table_run_ids(_get(c, "/")) == list(range(3000, 2990, -1))
    project.close()


def _table_versions(html: str) -> list[int]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [int(m) for m in re.findall(r"<tr(?: class=\"current\")?>\s*<td>(\d+)", body)]


def test_the_dataset_versions_are_paginated_on_the_server(tmp_path):
    import json

    import sqlalchemy as sa

    from headwater.records import now_iso
    from headwater.records import schema as rs
    from headwater.serve.dashboard import PAGE_SIZE

    project = Project.init(tmp_path / "p")
    name, t, count = project.config.dataset.name, now_iso(), 1000
    parent = {700: 100}  # 700 was made from version 100 (a rollback, say): off its page
    run = {"kind": "ingest", "started": t, "finished": t, "status": "ok", "summary": "{}"}
    with project.records.write() as conn:
        conn.execute(sa.insert(rs.runs), [run] * count)
        schema = lambda n: json.dumps([["id", "int64"]] + [[f"c{n}", "string"]] * (n > 500))  # noqa: E731
        conn.execute(
            sa.insert(rs.versions),
            [
                {"dataset": name, "version": n, "line": 1, "parent": parent.get(n, n - 1) or None,
                 "run_id": n,
                 "created": t, "rows": n, "rows_added": 1, "rows_retracted": 0,
                 "schema": schema(n), "location": "x"}
                for n in range(1, count + 1)
            ],
        )  # fmt: skip
        conn.execute(sa.insert(rs.datasets).values(name=name, current_version=count))
    with make_client(project) as c:
        first = _get(c, "/ui/dataset")
        assert _table_versions(first) == list(range(count, count - PAGE_SIZE, -1))
        assert f"{count:,} version(s)" in first and "(current)" in first
        older = re.search(r'href="/ui/dataset\?before=(\d+)"', first)
        assert older and int(older.group(1)) == count - PAGE_SIZE + 1
        # the page that holds the schema change: 501 added a column to 500's schema
        page = _get(c, "/ui/dataset?before=502")
        assert _table_versions(page) == list(range(501, 501 - PAGE_SIZE, -1))
        assert "+ c501 (string)" in page and 'href="/ui/dataset">Newest versions' in page
        # the oldest on a page is compared with the version before it, off the page
        edge = _get(c, "/ui/dataset?before=551")
        assert _table_versions(edge)[-1] == 501 and "+ c501 (string)" in edge
        rolled = _get(c, "/ui/dataset?before=701")
        assert "+ c700 (string)" in rolled and "− c699" not in rolled and "− c698" in rolled
        last = _get(c, f"/ui/dataset?before={PAGE_SIZE // 2 + 1}")
        assert _table_versions(last) == list(range(PAGE_SIZE // 2, 0, -1))
        assert "before=" not in last.split('<nav class="pages">', 1)[1]
        assert "before version 1" in _get(c, "/ui/dataset?before=1")
        _get(c, "/ui/dataset?before=x", 400)
    project.close()
