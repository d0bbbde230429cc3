"""The user's crontab: headwater's own entries, added, listed and removed, and nothing else
touched.

Each entry is two lines: a marker comment that names it, then the cron line::

    # headwater entry=3f9c2a job=run name=nightly project=/srv/churn (managed by …)
    */10 * * * * cd '/srv/churn' && '/venv/bin/python' -m headwater … schedule fire 3f9c2a

The line works in cron's environment (``/bin/sh``, a bare PATH, HOME as the working
folder, no terminal): every path is absolute and quoted, ``%`` (a newline to cron) is
escaped, and ``schedule fire`` writes the job's output to ``.headwater/logs/schedule.log``
(size-capped) and records the run with its trigger. Every other line of the crontab —
the user's entries, comments, blank lines, the environment lines — is kept byte for byte.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from headwater.cron import Expression
from headwater.errors import ScheduleError

MARKER = "# headwater "
_FIELD = re.compile(r"(\w+)=(\S+)")
JOBS = ("run", "ingest")


@dataclass(frozen=True)
class Entry:
    """One of headwater's crontab entries."""

    id: str
    expression: str
    job: str
    name: str | None
    project: str
    line: str  # the cron line as written


def entry_id(project: Path, expr: Expression, job: str) -> str:
    """Stable: the same project, expression and job give the same id (so a second add is
    recognised as the same entry)."""
    text = f"{project.resolve()}\n{expr.text.lower()}\n{job}"
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def read() -> str:
    """The user's crontab as text ('' when there is none)."""
    exe = _crontab()
    proc = subprocess.run([exe, "-l"], capture_output=True, text=True, check=False)
    if proc.returncode == 0:
        return proc.stdout
    if "no crontab" in proc.stderr.lower():
        return ""
    raise ScheduleError(
        f"`crontab -l` failed: {proc.stderr.strip() or f'exit {proc.returncode}'}",
        hint="check that cron is installed and that this user may use it (/etc/cron.allow)",
    )


def write(text: str) -> None:
    """Replace the user's crontab with ``text`` (through ``crontab -``, which checks it)."""
    exe = _crontab()
    if not text:  # nothing left: no crontab, as before the first entry
        subprocess.run([exe, "-r"], capture_output=True, check=False)
        return
    proc = subprocess.run([exe, "-"], input=text, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ScheduleError(
            f"`crontab -` refused the new crontab: {proc.stderr.strip()}",
            hint="nothing was changed; `crontab -l` shows the current entries",
        )


def entries(text: str, project: Path | None = None) -> list[Entry]:
    """headwater's entries in ``text`` (only ``project``'s, when given)."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if not line.startswith(MARKER) or i + 1 >= len(lines):
            continue
        fields = dict(_FIELD.findall(line))
        if "entry" not in fields:
            continue
        cron_line = lines[i + 1]
        expr = _expression_of(cron_line)
        root = _unquote(fields.get("project", ""))
        if project is not None and root != str(project.resolve()):
            continue
        name = _unquote(fields["name"]) if "name" in fields else None
        found.append(Entry(fields["entry"], expr, fields.get("job", "run"), name, root, cron_line))
    return found


def with_entry(text: str, project: Path, expr: Expression, job: str, name: str | None) -> str:
    """``text`` with a new entry appended; ScheduleError if it is already there."""
    if job not in JOBS:
        raise ScheduleError(f"unknown job {job!r}", hint=f"choose one of {', '.join(JOBS)}")
    ident = entry_id(project, expr, job)
    for e in entries(text, project):
        same = e.expression.lower() == expr.text.lower() and e.job == job
        if e.id == ident or same:
            raise ScheduleError(
                f"this project already has the entry {e.id} ({e.expression!r}, job {e.job})",
                hint=f"`headwater schedule remove {e.id}` first, or choose another expression",
            )
    root = str(project.resolve())
    marker = (
        f"{MARKER}entry={ident} job={job}"
        + (f" name={_quote_field(name)}" if name else "")
        + f" project={_quote_field(root)} (managed by `headwater schedule`; "
        f"`headwater -p {shlex.quote(root)} schedule remove {ident}` removes it)"
    )
    command = (
        f"cd {shlex.quote(root)} && {shlex.quote(sys.executable)} -m headwater "
        f"-p {shlex.quote(root)} schedule fire {ident} --job {job}"
    )
    line = f"{expr.text} {command.replace('%', chr(92) + '%')}"
    body = text if not text or text.endswith("\n") else text + "\n"
    return f"{body}{marker}\n{line}\n"


def without(text: str, ids: set[str] | None, project: Path) -> tuple[str, list[Entry]]:
    """``text`` without ``project``'s entries named in ``ids`` (all of them when None);
    returns (the new text, the entries removed). Other lines are kept byte for byte."""
    mine = {e.id: e for e in entries(text, project)}
    gone = [e for i, e in mine.items() if ids is None or i in ids]
    drop = {e.id for e in gone}
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    skip = False
    for line in lines:
        if skip:
            skip = False
            continue
        if line.startswith(MARKER):
            ident = dict(_FIELD.findall(line)).get("entry")
            if ident in drop:
                skip = True  # and the cron line after it
                continue
        out.append(line)
    return "".join(out), gone


def _expression_of(cron_line: str) -> str:
    parts = cron_line.split()
    if parts and parts[0].startswith("@"):
        return parts[0]
    return " ".join(parts[:5])


def _quote_field(value: str) -> str:
    """A marker field's value: no spaces (they end the field), reversibly."""
    return value.replace("%", "%25").replace(" ", "%20")


def _unquote(value: str) -> str:
    return value.replace("%20", " ").replace("%25", "%")


def _crontab() -> str:
    exe = shutil.which("crontab")
    if exe is None:
        raise ScheduleError(
            "there is no `crontab` command on this machine",
            hint="install cron (Debian/Ubuntu: `apt-get install cron`), or run the "
            "scheduler in the foreground with `headwater schedule run` ([[schedule]] in "
            "headwater.toml)",
        )
    return exe
