"""After a loop run: its JSON summary to a command and/or a webhook (``[notify]``).

Where it sits in the flow: last. ``headwater run`` calls :func:`send` once the run's record
is final and the project lock is released, so a slow or broken notifier holds neither the
records nor the result of the run hostage. What each notifier did is recorded in the run's
summary under ``notifications`` (and returned); a notifier that fails — a non-zero exit, a
timeout, a refused connection, an HTTP status of 400 or more — is recorded and logged as a
warning, and never raises, so it never changes the run's status or exit code.

The summary carries what the run found and did, never a secret: no environment, no
configuration value, and the webhook URL (which may carry a token) only as
``scheme://host/…`` (:func:`headwater.config.redact_url`), here and in every message.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import signal
import socket
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from headwater._version import __version__
from headwater.config import redact_url
from headwater.records import now_iso

if TYPE_CHECKING:
    from headwater.config import NotifyConfig
    from headwater.results import LoopResult
    from headwater.workspace import Workspace

log = logging.getLogger(__name__)

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def events(cfg: NotifyConfig, result: LoopResult) -> list[str]:
    """The events of ``result`` that ``[notify] on`` asks for, in that order.

    ``drift_unresolved`` is an event of a run that checked new rows and still leaves drift
    unresolved — not of every later run that finds nothing new (a cron tick every few
    minutes would repeat it)."""
    found = [result.status]
    if result.drift_unresolved and result.drift is not None:
        found.append("drift_unresolved")
    return [e for e in found if e in cfg.on]


def payload(ws: Workspace, result: LoopResult, triggered: list[str]) -> dict[str, Any]:
    """The JSON summary a notifier receives: what the run found and did, no secret."""
    drift = result.drift or None
    candidate = result.candidate
    return {
        "source": "headwater",
        "headwater_version": __version__,
        "project": ws.config.project.name,
        "root": ws.root.name,  # the folder's name, not its path
        "host": socket.gethostname(),
        "timestamp": now_iso(),
        "events": triggered,
        "run_id": result.run_id,
        "status": result.status,
        "reason": _redact(result.reason),  # it may quote a URL from an error
        "ingest_run_id": result.ingest_run_id,
        "files_new": result.files_new,
        "rows_added": result.rows_added,
        "rows_checked": result.rows_checked,
        "drift": (
            {k: drift.get(k) for k in ("verdict", "detected", "test", "score", "baseline", "rows")}
            if drift
            else None
        ),
        "data_drifted": sorted(f for f, v in result.data_drift.items() if v.get("detected")),
        "candidate": (
            {k: candidate.get(k) for k in ("model_version", "metric", "score", "promoted")}
            if candidate
            else None
        ),
        "production_version": result.production_version,
        "drift_unresolved": result.drift_unresolved,
        "warnings": len(result.warnings),
    }


def send(ws: Workspace, result: LoopResult) -> list[dict[str, Any]]:
    """Notify about a finished run when ``[notify]`` asks for one of its events; record and
    return what each notifier did (``result.notifications`` too). Never raises."""
    try:
        cfg = ws.config.notify
        if not (cfg.command or cfg.webhook) or result.run_id is None or result.dry_run:
            return []
        triggered = events(cfg, result)
        if not triggered:
            return []
        body = json.dumps(payload(ws, result, triggered), default=str).encode("utf-8")
        outcomes = []
        if cfg.command:
            program = _program(cfg.command)
            outcomes.append(_outcome("command", program, triggered, _command, cfg, body))
        if cfg.webhook:
            outcomes.append(
                _outcome("webhook", redact_url(cfg.webhook), triggered, _webhook, cfg, body)
            )
    except Exception:  # a notification must never fail the run it reports
        log.warning("notifying about run %s failed", result.run_id, exc_info=True)
        return []
    result.notifications = outcomes
    _record(ws, result.run_id, outcomes)
    return outcomes


def _outcome(
    via: str, target: str, triggered: list[str], do: Any, cfg: NotifyConfig, body: bytes
) -> dict[str, Any]:
    outcome: dict[str, Any] = {"via": via, "target": target, "events": triggered, "ok": True}
    try:
        outcome.update(do(cfg, body))  # the exit code, or the HTTP status
    except _Failed as exc:
        outcome.update(ok=False, error=str(exc), **exc.extra)
    except Exception as exc:  # whatever a notifier does, the run's result stands
        said = _redact(f"{type(exc).__name__}: {exc}")
        if cfg.webhook:  # a library's message may quote the URL's path or query
            parts = urlsplit(cfg.webhook)
            for secret in (parts.path, parts.query, parts.netloc):
                if len(secret) > 1:
                    said = said.replace(secret, "…")
        outcome.update(ok=False, error=said)
    outcome["at"] = now_iso()
    if not outcome["ok"]:
        log.warning("notification by %s %s failed: %s", via, target, outcome["error"])
    return outcome


class _Failed(Exception):
    """A notifier failed; the message is safe to record (no URL, no secret)."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.extra = extra


def _program(command: str) -> str:
    """The command's program name alone: its arguments may carry a token."""
    return Path(shlex.split(command)[0]).name


def _command(cfg: NotifyConfig, body: bytes) -> dict[str, int]:
    """Run ``command`` without a shell, the summary on its stdin, within the timeout."""
    argv = shlex.split(cfg.command or "")
    name = Path(argv[0]).name
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # on a timeout, the whole group is stopped
        )
    except FileNotFoundError:
        raise _Failed(f"command {name!r} not found: give its full path or put it on PATH") from None
    except PermissionError:
        raise _Failed(f"command {name!r} is not executable") from None
    try:
        _, err = proc.communicate(body, timeout=cfg.timeout_seconds)
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise _Failed(
            f"command {name!r} did not finish within {cfg.timeout_seconds:g} s: stopped"
        ) from None
    if proc.returncode != 0:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
        said = f": {_redact(tail[0][:200])}" if tail else ""
        raise _Failed(
            f"command {name!r} exited with status {proc.returncode}{said}",
            exit_code=proc.returncode,
        )
    return {"exit_code": proc.returncode}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, AttributeError):  # already gone, or no process groups here
        proc.kill()
    proc.communicate()


def _webhook(cfg: NotifyConfig, body: bytes) -> dict[str, int]:
    """POST the summary as JSON; an answer of 400 or more is a failure."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        cfg.webhook or "",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"headwater/{__version__}"},
    )
    wait = f"{cfg.timeout_seconds:g} s"
    try:
        with urllib.request.urlopen(request, timeout=cfg.timeout_seconds) as answer:
            return {"status": int(answer.status)}
    except urllib.error.HTTPError as exc:
        raise _Failed(f"the webhook answered HTTP {exc.code}", status=exc.code) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError | socket.timeout):
            raise _Failed(f"the webhook did not answer within {wait}") from None
        raise _Failed(f"the webhook could not be reached: {_redact(str(reason))}") from None
    except TimeoutError:
        raise _Failed(f"the webhook did not answer within {wait}") from None


def _redact(text: str) -> str:
    """Every URL in ``text`` as ``scheme://host/…``."""
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


def _record(ws: Workspace, run_id: int, outcomes: list[dict[str, Any]]) -> None:
    """Add the outcomes to the run's recorded summary, after the fact."""
    import sqlalchemy as sa

    from headwater.records import schema as rs

    runs = rs.runs
    try:
        with ws.records.write() as conn:
            raw = conn.execute(sa.select(runs.c.summary).where(runs.c.id == run_id)).scalar()
            summary = json.loads(raw) if raw else {}
            summary["notifications"] = outcomes
            conn.execute(
                sa.update(runs)
                .where(runs.c.id == run_id)
                .values(summary=json.dumps(summary, default=str))
            )
    except Exception:  # the run's own record stands; say so and go on
        log.warning("recording the notifications of run %s failed", run_id, exc_info=True)
