"""[notify]: a loop run's summary to a real local HTTP server and to a real command.

The servers are ``http.server.ThreadingHTTPServer`` on 127.0.0.1 in a thread: one that
records what it is sent, one that answers 500, one that hangs past the timeout; a refused
connection is a port nothing listens on. The commands are small Python scripts.
"""

from __future__ import annotations

import json
import shlex
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from headwater import Project
from headwater.config import NOTIFY_EVENTS, config_from_dict
from headwater.errors import ConfigError, LockError, TrainError
from tests.conftest import put, run_cli
from tests.loop.test_loop import MODEL, rows

SECRET = "s3cr3t-t0ken"  # in the webhook's path and query, and in the environment


class Hook:
    """A local webhook: what it received, and how it answers (``ok``, ``500``, ``hang``,
    ``close``)."""

    def __init__(self, mode: str, root: Path | None = None) -> None:
        self.mode, self.root = mode, root
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                seen = {"path": self.path, "headers": dict(self.headers), "body": body}
                if hook.root is not None:  # what the records said when the POST came
                    runs = Project.open(hook.root).history(limit=None)  # SQLite or PG
                    seen["runs"] = [(r["id"], r["kind"], r["status"]) for r in runs]
                hook.requests.append(seen)
                if hook.mode == "hang":
                    hook.release.wait(30)
                    return
                if hook.mode == "close":  # no answer at all: the connection just ends
                    return
                self.send_response(500 if hook.mode == "500" else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{SECRET}?token={SECRET}"

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.requests]


@contextmanager
def hook(mode: str = "ok", root: Path | None = None) -> Iterator[Hook]:
    h = Hook(mode, root)
    h.thread.start()
    try:
        yield h
    finally:
        h.release.set()
        h.server.shutdown()
        h.server.server_close()


def notify_toml(**keys: Any) -> str:
    body = "\n[notify]\n"
    for k, v in keys.items():
        body += f"{k} = {json.dumps(v)}\n"
    return body


def project(make_project, **keys: Any) -> Project:
    return make_project('key = ["id"]\n', extra=MODEL + notify_toml(**keys))


def free_port() -> int:
    """A port nothing listens on (bound, then closed): a connection is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def recorded(p: Project, run_id: int) -> list[dict[str, Any]]:
    return p.records.run(run_id)["summary"]["notifications"]


def no_secret_in_records(root: Path) -> None:
    import sqlalchemy as sa

    with Project.open(root).records.read() as conn:  # the project's store, SQLite or PG
        for table in ("runs", "drift_checks"):
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                assert SECRET not in json.dumps(list(row), default=str), (table, row)


# -- the webhook --------------------------------------------------------------------------


def test_webhook_gets_the_summary_of_a_deployed_run_after_its_record_is_final(
    make_project, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("HEADWATER_TEST_SECRET", SECRET)
    caplog.set_level("DEBUG")
    with hook(root=tmp_path) as h:
        p = project(make_project, webhook=h.url, on=["deployed"])
        put(tmp_path / "incoming/a.csv", rows(600))
        r = p.run()
    assert r.status == "deployed"
    [req] = h.requests
    assert req["path"] == f"/hook/{SECRET}?token={SECRET}"
    assert req["headers"]["Content-Type"] == "application/json"
    # the run's row was final when the POST came
    assert (r.run_id, "run", "deployed") in req["runs"]
    body = json.loads(req["body"])
    assert body["project"] == "t" and body["root"] == tmp_path.name
    assert (body["run_id"], body["status"], body["events"]) == (r.run_id, "deployed", ["deployed"])
    assert body["reason"] == r.reason and body["files_new"] == 1 and body["rows_added"] == 600
    assert body["candidate"]["model_version"] == 1 and body["candidate"]["promoted"] is True
    assert body["production_version"] == 1 and body["drift_unresolved"] is False
    assert body["drift"] is None and body["data_drifted"] == []
    assert body["headwater_version"] and body["timestamp"]
    # never a secret: not the URL, not the environment, not the configuration
    assert (
        SECRET not in req["body"].decode() and "HEADWATER_TEST_SECRET" not in req["body"].decode()
    )
    assert "sklearn" not in req["body"].decode() and "memory_limit" not in req["body"].decode()
    [sent] = r.notifications
    assert sent["ok"] is True and sent["status"] == 204 and sent["events"] == ["deployed"]
    assert sent["target"] == f"http://127.0.0.1:{h.port}/…"
    assert recorded(p, r.run_id) == [sent]
    no_secret_in_records(tmp_path)
    assert SECRET not in caplog.text
    story = p.run_record(r.run_id)["story"]
    assert any(f"It notified by webhook http://127.0.0.1:{h.port}/…" in s for s in story), story


def test_by_default_only_what_needs_a_look_is_sent(make_project, tmp_path):
    with hook() as h:
        p = project(make_project, webhook=h.url)  # on: failed, partial, rejected, unresolved
        assert p.run().status == "no_new_data"
        put(tmp_path / "incoming/a.csv", rows(800))
        assert p.run().status == "deployed"  # the loop working as it should: nothing sent
        put(tmp_path / "incoming/b.csv", rows(300, start=10_000, seed=1, noise=0))
        quiet = p.run()
        assert quiet.status == "no_drift" and quiet.notifications == []
        assert h.requests == []
        put(tmp_path / "incoming/bad.csv", "id,a\n1,2,3\n")  # every file fails
        failed = p.run()
    assert failed.status == "failed"
    [body] = h.bodies()
    assert (body["status"], body["events"], body["run_id"]) == ("failed", ["failed"], failed.run_id)
    assert "achieved nothing" in body["reason"]


def test_drift_left_unresolved_is_sent_by_the_run_that_found_it_not_by_every_later_run(
    make_project, tmp_path
):
    # the scenario of test_loop's test_a_rejected_candidate_leaves_drift_unresolved
    with hook() as h:
        p = project(make_project, webhook=h.url)
        put(tmp_path / "incoming/a.csv", rows(800))
        assert p.run().status == "deployed"
        weak = Project.open(tmp_path, env={"HEADWATER_MODEL__FEATURES": '["color"]'})
        put(tmp_path / "incoming/b.csv", rows(400, start=10_000, seed=3, flip=True))
        r = weak.run()
        assert r.status == "rejected" and r.drift_unresolved is True
        [body] = h.bodies()
        assert body["events"] == ["rejected", "drift_unresolved"]
        assert body["drift"]["verdict"] == "drift" and body["drift"]["detected"] is True
        assert body["drift"]["score"] == r.drift["score"]
        assert body["candidate"]["promoted"] is False and body["production_version"] == 1
        assert body["drift_unresolved"] is True
        later = p.run()  # nothing new: still unresolved, but nothing new to say
        assert later.status == "no_new_data" and later.drift_unresolved is True
        assert len(h.requests) == 1


def test_a_webhook_answering_500_is_recorded_and_warned_and_the_exit_code_stands(
    make_project, tmp_path
):
    with hook("500") as h:
        p = project(make_project, webhook=h.url, on=["no_new_data"])
        out = run_cli("run", "-p", str(tmp_path))
    assert len(h.requests) == 1
    assert out.returncode == 0, out.stderr  # no_new_data's own code
    assert "warning" in out.stderr and "HTTP 500" in out.stderr
    assert f"http://127.0.0.1:{h.port}/…" in out.stderr
    assert SECRET not in out.stdout + out.stderr
    [run] = p.history()
    assert run["status"] == "no_new_data"
    [sent] = run["summary"]["notifications"]
    assert (sent["ok"], sent["status"]) == (False, 500) and "HTTP 500" in sent["error"]
    story = p.run_record(run["id"])["story"]
    assert any("failed: the webhook answered HTTP 500" in s for s in story), story
    no_secret_in_records(tmp_path)


def test_a_failed_webhook_in_json_output_is_a_warning_on_stderr(make_project, tmp_path):
    with hook("500") as h:
        project(make_project, webhook=h.url, on=["no_new_data"])
        out = run_cli("run", "--format", "json", "-p", str(tmp_path))
    assert out.returncode == 0
    data = json.loads(out.stdout)
    assert data["status"] == "no_new_data" and data["notifications"][0]["ok"] is False
    assert "HTTP 500" in out.stderr and SECRET not in out.stdout + out.stderr


def test_a_webhook_that_hangs_past_the_timeout_is_recorded_and_the_run_finishes(
    make_project, tmp_path
):
    with hook("hang") as h:
        p = project(make_project, webhook=h.url, on=["no_new_data"], timeout_seconds=1)
        r = p.run()
        assert len(h.requests) == 1
    assert r.status == "no_new_data"
    [sent] = recorded(p, r.run_id)
    assert sent["ok"] is False and "did not answer within 1 s" in sent["error"]
    assert p.records.run(r.run_id)["status"] == "no_new_data"


def test_a_webhook_that_closes_without_an_answer_is_recorded(make_project, tmp_path):
    with hook("close") as h:
        p = project(make_project, webhook=h.url, on=["no_new_data"])
        r = p.run()
    assert r.status == "no_new_data" and len(h.requests) == 1
    [sent] = recorded(p, r.run_id)
    assert sent["ok"] is False and "RemoteDisconnected" in sent["error"], sent
    no_secret_in_records(tmp_path)


def test_a_refused_connection_is_recorded(make_project, tmp_path):
    url = f"http://127.0.0.1:{free_port()}/hook?token={SECRET}"
    p = project(make_project, webhook=url, on=["no_new_data"])
    r = p.run()
    assert r.status == "no_new_data"
    [sent] = recorded(p, r.run_id)
    assert sent["ok"] is False and "refused" in sent["error"].lower()
    no_secret_in_records(tmp_path)


def test_dry_run_sends_nothing(make_project, tmp_path):
    with hook() as h:
        p = project(make_project, webhook=h.url, on=list(NOTIFY_EVENTS))
        put(tmp_path / "incoming/a.csv", rows(50))
        r = p.run(dry_run=True)
        out = run_cli("run", "--dry-run", "-p", str(tmp_path))
    assert r.dry_run and out.returncode == 0
    assert h.requests == [] and p.history() == []


def test_a_run_that_raises_is_notified_as_failed_and_still_raises(make_project, tmp_path):
    extra = MODEL.replace("LogisticRegression", "NoSuchEstimator")
    with hook() as h:
        p = make_project('key = ["id"]\n', extra=extra + notify_toml(webhook=h.url))
        put(tmp_path / "incoming/a.csv", rows(100))
        with pytest.raises(TrainError) as info:
            p.run()
    [body] = h.bodies()
    run = next(x for x in p.history() if x["kind"] == "run")
    assert run["status"] == "failed"
    assert (body["run_id"], body["status"], body["events"]) == (run["id"], "failed", ["failed"])
    assert body["reason"] == str(info.value) and body["rows_added"] == 100
    assert run["summary"]["notifications"][0]["ok"] is True
    assert info.value.context["notifications"][0]["ok"] is True


def test_a_skipped_run_is_notified_when_asked(make_project, tmp_path):
    with hook() as h:
        p = project(make_project, webhook=h.url, on=["skipped"])
        other = Project.open(tmp_path).writer("gc")  # another writer (file or advisory lock)
        with other, pytest.raises(LockError) as info:
            p.run()
    [body] = h.bodies()
    assert (body["status"], body["run_id"]) == ("skipped", info.value.run_id)
    assert recorded(p, info.value.run_id)[0]["ok"] is True


# -- the command --------------------------------------------------------------------------

WRITE_STDIN = """\
import json, sys
body = sys.stdin.read()
with open(sys.argv[1], "w") as fh:
    json.dump({"argv": sys.argv[1:], "body": json.loads(body)}, fh)
"""


def script(tmp_path: Path, text: str) -> str:
    path = tmp_path / "notify_me.py"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_command_gets_the_summary_on_stdin_without_a_shell(make_project, tmp_path):
    got = tmp_path / "got.json"
    cmd = shlex.join([sys.executable, script(tmp_path, WRITE_STDIN), str(got), "$HOME;echo x"])
    p = project(make_project, command=cmd, on=["no_new_data"])
    r = p.run()
    sent = json.loads(got.read_text())
    assert sent["argv"] == [str(got), "$HOME;echo x"]  # no shell: the word as written
    assert (sent["body"]["run_id"], sent["body"]["status"]) == (r.run_id, "no_new_data")
    [outcome] = recorded(p, r.run_id)
    assert (outcome["ok"], outcome["via"], outcome["exit_code"]) == (True, "command", 0)
    assert outcome["target"] == Path(sys.executable).name  # never its arguments


def test_a_command_that_exits_3_is_recorded_and_the_status_stands(make_project, tmp_path):
    failing = script(
        tmp_path, "import sys\nsys.stdin.read()\nprint('no route', file=sys.stderr)\nsys.exit(3)\n"
    )
    p = project(make_project, command=shlex.join([sys.executable, failing]), on=["no_new_data"])
    out = run_cli("run", "-p", str(tmp_path))
    assert out.returncode == 0 and "exited with status 3: no route" in out.stderr
    [run] = p.history()
    assert run["status"] == "no_new_data"
    [outcome] = run["summary"]["notifications"]
    assert (outcome["ok"], outcome["exit_code"]) == (False, 3)
    assert (
        outcome["error"] == f"command {Path(sys.executable).name!r} exited with status 3: no route"
    )


def test_a_missing_command_is_recorded(make_project, tmp_path):
    p = project(make_project, command="/nonexistent/notify-me --token x", on=["no_new_data"])
    r = p.run()
    assert r.status == "no_new_data"
    [outcome] = recorded(p, r.run_id)
    assert outcome["ok"] is False and "'notify-me' not found" in outcome["error"]


def test_a_command_and_a_webhook_both_get_the_same_summary(make_project, tmp_path):
    got = tmp_path / "got.json"
    cmd = shlex.join([sys.executable, script(tmp_path, WRITE_STDIN), str(got)])
    with hook() as h:
        p = project(make_project, command=cmd, webhook=h.url, on=["no_new_data"])
        r = p.run()
    [posted] = h.bodies()
    assert json.loads(got.read_text())["body"] == posted
    assert [n["via"] for n in r.notifications] == ["command", "webhook"]


# -- the configuration --------------------------------------------------------------------


def _config(tmp_path: Path, env: dict[str, str] | None = None, **notify: Any) -> Any:
    return config_from_dict({"notify": notify}, root=tmp_path, env=env)


def test_notify_defaults(tmp_path):
    cfg = _config(tmp_path).notify
    assert (cfg.command, cfg.webhook, cfg.timeout_seconds) == (None, None, 10)
    assert cfg.on == ["failed", "partial", "rejected", "drift_unresolved"]
    assert set(cfg.on) <= set(NOTIFY_EVENTS)


def test_every_loop_status_is_an_event():
    from headwater.loop import EXIT_CODES

    assert set(NOTIFY_EVENTS) == {*EXIT_CODES, "drift_unresolved"}


@pytest.mark.parametrize(
    ("values", "key", "words"),
    [
        ({"on": ["nope"]}, "notify.on", "'nope' is not an event"),
        ({"on": ["deploy"]}, "notify.on", "did you mean 'deployed'"),
        (
            {"webhook": f"ftp://user:{SECRET}@example.com/x"},
            "notify.webhook",
            "http:// or https://",
        ),
        ({"webhook": f"https:///{SECRET}"}, "notify.webhook", "must name a host"),
        ({"webhook": f"https://h.example.com/{SECRET} x"}, "notify.webhook", "must not contain"),
        ({"timeout_seconds": 0}, "notify.timeout_seconds", "greater than 0"),
        ({"command": "notify 'unclosed"}, "notify.command", "not a command line"),
        ({"command": "  "}, "notify.command", "must name a program"),
        ({"webhok": "http://x"}, "notify.webhok", "did you mean 'webhook'"),
    ],
)
def test_bad_notify_values_are_config_errors_naming_the_key(tmp_path, values, key, words):
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, **values)
    assert info.value.key == key and words in str(info.value), str(info.value)
    assert SECRET not in str(info.value) and SECRET not in (info.value.hint or "")


def test_notify_is_set_from_the_environment(tmp_path):
    env = {
        "HEADWATER_NOTIFY__WEBHOOK": "https://hooks.example.com/x",
        "HEADWATER_NOTIFY__ON": '["deployed"]',
        "HEADWATER_NOTIFY__TIMEOUT_SECONDS": "2.5",
    }
    cfg = _config(tmp_path, env=env).notify
    assert (cfg.webhook, cfg.on, cfg.timeout_seconds) == (
        env["HEADWATER_NOTIFY__WEBHOOK"],
        ["deployed"],
        2.5,
    )
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, env={"HEADWATER_NOTIFY__TIMEOUT_SECONDS": "0"})
    assert info.value.key == "notify.timeout_seconds"


def test_the_init_template_documents_notify(tmp_path):
    p = Project.init(tmp_path / "p")
    text = (p.root / "headwater.toml").read_text()
    assert "# [notify]" in text and "# webhook = " in text and "timeout_seconds" in text
