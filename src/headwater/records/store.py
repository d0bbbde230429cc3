"""SQLAlchemy Core over SQLite (WAL) in ``<project>/.headwater/records.db``.

Writers open their transaction with ``BEGIN IMMEDIATE`` so that two writers never both
read-then-write; readers use deferred transactions and never block a writer under WAL.
Migrations are Alembic's; opening a store whose revision is current costs one query and
never imports Alembic.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from headwater._files import create_file, make_dirs
from headwater.errors import ProjectError, RecordsError, RecordsUnavailable, operating_error
from headwater.records import HEAD_REVISION, now_iso, run_dict, schema

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000

__all__ = ["HEAD_REVISION", "RecordStore", "now_iso"]


def masked(url: str) -> str:
    """``url`` with its password (if any) shown as ***."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can read: it has no password part we know of
        return url


class RecordStore:
    """Connection to the record store; one per project.

    Parameters
    ----------
    url
        A SQLAlchemy URL. SQLite is the tested default.
    """

    def __init__(self, url: str, schema: str | None = None) -> None:
        self.url = masked(url)  # what messages show: never the password
        self.schema = schema  # PostgreSQL: this project's schema (a checked identifier)
        try:
            options: dict[str, Any] = {}
            if url.startswith("postgresql"):  # a server can live with this: few, checked
                options = {"pool_size": 2, "max_overflow": 3, "pool_pre_ping": True}
                if schema is not None and not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
                    raise RecordsError(  # config.schema_problem checked it; never quote it
                        f"schema {schema!r} is not a plain lowercase name",
                        hint="give a name of letters, digits and _ (e.g. risk)",
                    )
                if schema is not None:  # every table, the lock key and Alembic's in it
                    options["connect_args"] = {"options": f"-c search_path={schema}"}
            elif schema is not None:
                raise RecordsError(
                    f"a schema ({schema!r}) applies to a PostgreSQL record store only, "
                    f"not {self.url!r}",
                    hint="leave the schema out, or give a postgresql+psycopg:// URL",
                )
            self.engine = sa.create_engine(url, future=True, **options)
        except RecordsError:
            raise
        except Exception as exc:  # bad URL, missing driver
            raise RecordsError(
                f"cannot open the record store at {self.url!r}: {exc}",
                hint="check [records] url in headwater.toml",
            ) from exc
        if self.engine.dialect.name == "sqlite":
            self._configure_sqlite()
        self._migrate_if_needed()

    @classmethod
    def for_folder(cls, state_dir: Path) -> RecordStore:
        """The project's own SQLite store; a new one is created with at most ``0o644`` in a
        folder with at most ``0o755`` (SQLite gives its -wal and -shm files the same mode)."""
        make_dirs(state_dir)
        create_file(state_dir / "records.db")
        return cls(f"sqlite:///{state_dir / 'records.db'}")

    def _configure_sqlite(self) -> None:
        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control away from the sqlite3 module so BEGIN is ours.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.close()

        @event.listens_for(self.engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            immediate = conn.get_execution_options().get("headwater_immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    def _current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            try:
                return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            except (sa.exc.OperationalError, sa.exc.ProgrammingError):
                return None  # no alembic_version table yet (SQLite, PostgreSQL)

    def unavailable(self, exc: BaseException, *, lost: bool = True) -> RecordsUnavailable | None:
        """``exc`` as :class:`RecordsUnavailable` when it says the database server cannot
        be reached or ended the session (PostgreSQL), else None."""
        if self.engine.dialect.name != "postgresql" or not isinstance(
            exc, sa.exc.OperationalError | sa.exc.InterfaceError
        ):
            return None
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if lost:
            return RecordsUnavailable(
                f"lost the record store at {self.url!r} mid-run: {reason}",
                hint="check that its database server is up and reachable; nothing was "
                "published, and once it is back the next run records this one and does "
                "the work",
                url=self.url,
            )
        return RecordsUnavailable(
            f"cannot reach the record store at {self.url!r}: {reason}",
            hint="check that its database server is up and that [records] url names it; "
            "give the password in PGPASSWORD or ~/.pgpass, not in the URL",
            url=self.url,
        )

    def _migrate_if_needed(self) -> None:
        try:
            revision = self._current_revision()
        except sa.exc.DatabaseError as exc:
            down = self.unavailable(exc, lost=False)
            if down is not None:
                raise down from exc
            machine = operating_error(exc.orig or exc)  # a full disk is not a broken store
            if machine is not None:
                raise machine from exc
            raise RecordsError(
                f"the record store at {self.url!r} is not a readable database: {exc.orig}",
                hint="restore .headwater/records.db from a backup, or move it away to start over",
            ) from exc
        if revision == HEAD_REVISION:
            return
        self.migrate()

    def migrate(self) -> None:
        """Bring the database to the newest schema revision (Alembic ``upgrade head``)."""
        from alembic import command
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self.write() as conn:
            if conn.dialect.name == "postgresql":
                # processes opening a new database at once migrate one at a time (SQLite's
                # BEGIN IMMEDIATE does this there); the others then find it done
                # (keyed by the schema's name: current_schema() is NULL until it exists)
                conn.execute(
                    sa.text(
                        "SELECT pg_advisory_xact_lock(18519, "
                        "hashtext(current_database() || '/' || coalesce(:s, current_schema())))"
                    ),
                    {"s": self.schema},
                )
                if self.schema is not None:
                    conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
                if sa.inspect(conn).has_table("alembic_version") and (
                    conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
                    == HEAD_REVISION
                ):
                    return
            cfg.attributes["connection"] = conn
            try:
                command.upgrade(cfg, "head")
            except Exception as exc:
                machine = operating_error(exc)
                if machine is not None:
                    raise machine from exc
                raise RecordsError(
                    f"cannot migrate the record store at {self.url!r}: {exc}",
                    hint="this project may come from a newer headwater; upgrade headwater",
                ) from exc
        log.info("record store migrated to %s", HEAD_REVISION)

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on success."""
        try:
            with (
                self.engine.connect().execution_options(headwater_immediate=True) as conn,
                conn.begin(),
            ):
                yield conn
        except sa.exc.DBAPIError as exc:
            down = self.unavailable(exc)
            if down is not None:
                raise down from exc
            raise

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read transaction: a consistent snapshot, never blocks writers under WAL."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except sa.exc.DBAPIError as exc:
            down = self.unavailable(exc)
            if down is not None:
                raise down from exc
            raise

    # -- runs --------------------------------------------------------------------------

    def start_run(self, *, parent_id: Any = None, **values: Any) -> int:
        """Record a new run (``running`` unless ``status`` says otherwise); its id.

        ``parent_id`` (an ``int``) is the run this one runs inside: a writer opened inside
        another writer. It is typed ``Any`` only because callers spread a
        ``dict[str, object]`` of run columns into ``values``.
        """
        values.setdefault("started", now_iso())
        values.setdefault("status", "running")
        with self.write() as conn:
            if parent_id is not None:
                parent = sa.select(schema.runs.c.id).where(schema.runs.c.id == parent_id)
                if conn.execute(parent).first() is None:
                    raise RecordsError(
                        f"cannot record a child of parent run {parent_id!r}: there is no such run",
                        hint="give the id of a recorded run as parent_id",
                        parent_id=parent_id,
                    )
                values["parent_id"] = parent_id
            result = conn.execute(sa.insert(schema.runs).values(**values))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def finish_run(
        self,
        run_id: int,
        status: str,
        *,
        summary: dict[str, Any] | None = None,
        error: str | None = None,
        note: str | None = None,
        conn: sa.Connection | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status, "finished": now_iso()}
        if summary is not None:
            values["summary"] = json.dumps(summary, default=str)
        if error is not None:
            values["error"] = error
        if note is not None:
            values["note"] = note
        stmt = sa.update(schema.runs).where(schema.runs.c.id == run_id).values(**values)
        if conn is not None:
            conn.execute(stmt)
            return
        with self.write() as c:
            c.execute(stmt)

    def runs_running(self) -> list[dict[str, Any]]:
        """Runs still marked ``running`` (their process may be alive or gone)."""
        stmt = sa.select(schema.runs).where(schema.runs.c.status == "running")
        with self.read() as conn:
            return [run_dict(r._mapping) for r in conn.execute(stmt)]

    def mark_crashed_except(self, run_id: int, note: str) -> list[int]:
        """Mark every run but ``run_id`` still ``running`` as ``crashed``.

        Call only while holding the project lock: every writer holds it while running,
        so a run still marked ``running`` belongs to a process that is gone.
        """
        with self.write() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    sa.select(schema.runs.c.id).where(
                        schema.runs.c.status == "running", schema.runs.c.id != run_id
                    )
                )
            ]
            if ids:
                conn.execute(
                    sa.update(schema.runs)
                    .where(schema.runs.c.id.in_(ids))
                    .values(status="crashed", finished=now_iso(), note=note)
                )
        return ids

    def runs(
        self, limit: int | None = None, kind: str | None = None, *, before: int | None = None
    ) -> list[dict[str, Any]]:
        """The newest runs (of ``kind``), newest first; with ``before``, those older than
        run ``before`` (one page of a timeline: the primary key's index answers it)."""
        stmt = sa.select(schema.runs).order_by(schema.runs.c.id.desc())
        if kind:
            stmt = stmt.where(schema.runs.c.kind == kind)
        if before is not None:
            stmt = stmt.where(schema.runs.c.id < before)
        if limit:
            stmt = stmt.limit(limit)
        with self.read() as conn:
            return [run_dict(r._mapping) for r in conn.execute(stmt)]

    def run(self, run_id: int) -> dict[str, Any]:
        with self.read() as conn:
            row = conn.execute(sa.select(schema.runs).where(schema.runs.c.id == run_id)).first()
        if row is None:
            raise ProjectError(
                f"no run with id {run_id!r}",
                hint="`headwater history` lists the runs",
                run_id=run_id,
            )
        return run_dict(row._mapping)

    def dispose(self) -> None:
        self.engine.dispose()


def upsert(
    conn: sa.Connection, table: sa.Table, keys: dict[str, Any], values: dict[str, Any]
) -> None:
    """Insert the row with primary key ``keys`` or update its ``values``: one statement,
    ``INSERT … ON CONFLICT (key) DO UPDATE`` in SQLite's and PostgreSQL's dialects alike
    (never a select-then-insert, which two writers could both pass)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    stmt = insert(table).values(**keys, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=values))


def compare_and_set(
    conn: sa.Connection,
    table: sa.Table,
    keys: dict[str, Any],
    column: str,
    expected: Any,
    values: dict[str, Any],
) -> bool:
    """Set ``values`` on the row ``keys`` only if its ``column`` still is ``expected``
    (NULL-safe); create the row first (with ``column`` NULL) when there is none. One
    conditional UPDATE: under PostgreSQL's READ COMMITTED a concurrent writer's UPDATE
    waits for the first to commit, then finds the value changed and sets nothing — a
    select-then-update would let both pass. Returns whether this call set it."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    conn.execute(insert(table).values(**keys, **{**values, column: None}).on_conflict_do_nothing())
    where = [table.c[k] == v for k, v in keys.items()]
    stmt = (
        sa.update(table)
        .where(*where, table.c[column].is_not_distinct_from(expected))
        .values(**values)
    )
    return conn.execute(stmt).rowcount == 1
