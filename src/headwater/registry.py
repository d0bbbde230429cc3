"""Registry: model versions, the production pointer, its history, and rollback.

Models are saved with skops (no arbitrary code runs on load) under the project's models
folder (a local path or an fsspec URL): ``v0001/model.skops`` with ``card.json`` and the
report plots beside it. The types skops must trust are recorded at save time and exactly
those are trusted at load; the file's SHA-256 is recorded and checked before loading, so a
tampered or corrupt model is refused. The production pointer moves in one record-store
transaction that compares-and-swaps it; every move (promote, rollback, refusal) is a row
in ``promotions`` with who, where, when, why and whether it was forced.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from headwater.errors import RegistryError, StorageError
from headwater.records import now_iso
from headwater.records import schema as rs

if TYPE_CHECKING:
    from headwater.workspace import Workspace

MODEL_FILE = "model.skops"
CARD_FILE = "card.json"


def _join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def version_dir(project: Workspace, version: int) -> str:
    return _join(project.config.models_dir, f"v{version:04d}")


def save_model(
    project: Workspace, version: int, model: Any, card: dict[str, Any]
) -> dict[str, Any]:
    """Write the model and its card; return location, hash and the types skops must trust."""
    import skops.io as sio

    data = sio.dumps(model)
    trusted = sorted(sio.get_untrusted_types(data=data))
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    folder = version_dir(project, version)
    # each file whole (a local one renamed into place, at most 0o644; a remote one put once)
    store = project.store(folder)
    store.write_bytes(MODEL_FILE, data)
    body = {**card, "file_hash": digest, "trusted_types": trusted}
    store.write_bytes(CARD_FILE, json.dumps(body, indent=2, default=str).encode("utf-8"))
    return {"location": folder, "file_hash": digest, "trusted_types": trusted}


def load_model(project: Workspace, version: int) -> Any:
    """Load a model version after checking its hash; trust only the recorded types."""
    import skops.io as sio

    row = model_row(project, version)
    # this project's models folder first: the recorded location is where the model was
    # written, which a moved or copied project no longer is (the hash still decides)
    here = version_dir(project, version)
    data: bytes | None = None
    error: Exception | None = None
    location = here
    for location in dict.fromkeys([here, row["location"]]):
        try:
            data = project.store(location).read_bytes(MODEL_FILE)
            break
        except (OSError, StorageError) as exc:
            error = exc
    if data is None:
        raise RegistryError(
            f"model v{version} cannot be read from {here!r} (its folder in this project) nor "
            f"from {row['location']!r} (where it was written): {error}",
            hint="restore the models folder from a backup, or train and deploy a new model",
            version=version,
        ) from error
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    if digest != row["file_hash"]:
        raise RegistryError(
            f"model v{version} at {location!r} does not match its record (hash {digest[:19]}… "
            f"≠ {row['file_hash'][:19]}…): it was modified or is corrupt; refusing to load it",
            hint="roll back (`headwater rollback`) or retrain; do not load files of unknown origin",
            version=version,
        )
    trusted = json.loads(row["trusted_types"])
    try:
        return sio.load(io.BytesIO(data), trusted=trusted)
    except Exception as exc:
        raise RegistryError(
            f"model v{version} cannot be loaded safely: {exc}",
            hint="retrain the model with this version of headwater and its libraries",
            version=version,
        ) from exc


def model_row(project: Workspace, version: int) -> dict[str, Any]:
    with project.records.read() as conn:
        row = conn.execute(sa.select(rs.models).where(rs.models.c.version == version)).first()
    if row is None:
        raise RegistryError(
            f"there is no model v{version}", hint="`headwater models` lists them", version=version
        )
    return dict(row._mapping)


def production_version(conn: sa.Connection) -> tuple[int | None, str | None]:
    row = conn.execute(sa.select(rs.production).where(rs.production.c.name == "default")).first()
    return (row._mapping["version"], row._mapping["since"]) if row else (None, None)


def next_version(conn: sa.Connection) -> int:
    latest = conn.execute(sa.select(sa.func.max(rs.models.c.version))).scalar()
    return int(latest or 0) + 1


@dataclass
class Move:
    action: str
    from_version: int | None
    to_version: int | None
    reason: str
    forced: bool = False
    candidate_score: float | None = None
    production_score: float | None = None


def move_pointer(
    conn: sa.Connection, move: Move, *, run_id: int | None, user: str, host: str
) -> None:
    """Move production from ``move.from_version`` to ``move.to_version`` (compare-and-swap)."""
    now = now_iso()
    if move.action in ("promote", "rollback"):
        from headwater.records.store import compare_and_set

        values = {"version": move.to_version, "since": now}
        if not compare_and_set(
            conn, rs.production, {"name": "default"}, "version", move.from_version, values
        ):
            current, _ = production_version(conn)
            raise RegistryError(
                f"production moved from v{move.from_version} to v{current} meanwhile; "
                "nothing was changed",
                hint="run the command again",
            )
        if move.action == "promote" and move.to_version is not None:
            conn.execute(
                sa.update(rs.models)
                .where(rs.models.c.version == move.to_version)
                .values(status="promoted")
            )
    elif move.action == "refuse" and move.to_version is not None:
        conn.execute(
            sa.update(rs.models)
            .where(rs.models.c.version == move.to_version, rs.models.c.status == "candidate")
            .values(status="rejected")
        )
    conn.execute(
        sa.insert(rs.promotions).values(
            at=now,
            action=move.action,
            from_version=move.from_version,
            to_version=move.to_version,
            run_id=run_id,
            user=user,
            host=host,
            forced=move.forced,
            reason=move.reason,
            candidate_score=move.candidate_score,
            production_score=move.production_score,
        )
    )


def rollback_target(conn: sa.Connection) -> tuple[int | None, int]:
    """(current, target): the version that was in production before the current one."""
    current, _ = production_version(conn)
    if current is None:
        raise RegistryError("nothing is in production", hint="deploy a model first")
    chain = [
        r[0]
        for r in conn.execute(
            sa.select(rs.promotions.c.to_version)
            .where(rs.promotions.c.action == "promote")
            .order_by(rs.promotions.c.id)
        )
    ]
    positions = [i for i, v in enumerate(chain) if v == current]
    if not positions or positions[-1] == 0:
        raise RegistryError(
            f"v{current} is the first model ever promoted: there is nothing to roll back to",
            hint="deploy another version with `headwater deploy VERSION`",
        )
    idx = positions[-1] - 1
    while idx >= 0 and chain[idx] == current:
        idx -= 1
    if idx < 0:
        raise RegistryError("there is no earlier production version", hint="deploy another version")
    return current, chain[idx]


def list_models(project: Workspace) -> dict[str, Any]:
    with project.records.read() as conn:
        current, since = production_version(conn)
        rows = [
            dict(r._mapping)
            for r in conn.execute(sa.select(rs.models).order_by(rs.models.c.version.desc()))
        ]
        history = [
            dict(r._mapping)
            for r in conn.execute(sa.select(rs.promotions).order_by(rs.promotions.c.id.desc()))
        ]
    for r in rows:
        r["params"] = json.loads(r["params"])
        r["features"] = json.loads(r["features"])
        r.pop("card")
        r.pop("trusted_types")
        r["model_version"] = r["version"]
        r["in_production"] = r["version"] == current
    return {
        "production_version": current,
        "production_since": since,
        "models": rows,
        "history": history,
    }


def write_bytes(project: Workspace, folder: str, name: str, data: bytes) -> str:
    """Write ``data`` as ``folder/name`` (local or any fsspec URL, with its ``[storage]``
    options), whole; a local file gets the project's file mode. Returns the target."""
    store = project.store(folder)
    store.write_bytes(name, data)
    return _join(folder, name)
