"""headwater.toml → frozen, validated configuration (the edge of the flow).

Resolution order, once, at the edge: defaults → ``headwater.toml`` → environment
(``HEADWATER_SECTION__KEY``, passed in by the caller as a mapping) → explicit overrides.
Library code receives a :class:`Config` and never reads the environment itself.
Relative paths in the file are relative to the folder holding it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from headwater.errors import ConfigError

CONFIG_FILE = "headwater.toml"
ENV_PREFIX = "HEADWATER_"

Format = Literal["csv", "tsv", "json", "jsonl", "parquet"]
ColumnType = Literal["string", "int", "float", "bool", "date", "timestamp"]
# how each column kind is held in Ibis (and so in every engine)
IBIS_TYPES = {
    "string": "string",
    "int": "int64",
    "float": "float64",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp('UTC')",
}

DEFAULT_NA_VALUES = ("", "NA", "N/A", "n/a", "NULL", "null", "None", "NaN", "nan")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProjectSection(_Section):
    """``[project]``: what this project is called."""

    name: str = "headwater"


class SourceConfig(_Section):
    """One ``[[sources]]`` entry: where files land and how to read them."""

    path: str
    format: Format | None = None
    delimiter: str | None = None
    quote: str | None = None
    escape: str | None = None
    encoding: str = "utf-8"
    header: bool = True
    skip_rows: int = Field(default=0, ge=0)
    thousands: str | None = None
    recursive: bool = True

    @field_validator("path")
    @classmethod
    def _path_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty; give a folder, a glob or a URL")
        return value

    @field_validator("delimiter", "quote", "escape", "thousands")
    @classmethod
    def _one_char(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError("must be exactly one character")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        normal = value.lower().replace("_", "-")
        aliases = {"utf8": "utf-8", "latin1": "latin-1", "iso-8859-1": "latin-1", "utf16": "utf-16"}
        normal = aliases.get(normal, normal)
        if normal not in ("utf-8", "utf-16", "latin-1"):
            raise ValueError("must be one of 'utf-8', 'utf-16', 'latin-1'")
        return normal


class ColumnConfig(_Section):
    """``[dataset.columns.NAME]``: a pinned type and validation rules for one column."""

    type: ColumnType | None = None
    not_null: bool = False
    min: float | None = None
    max: float | None = None
    allowed: list[str | int | float | bool] | None = None
    regex: str | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"is not a valid regular expression ({exc})") from exc
        return value


class DatasetConfig(_Section):
    """``[dataset]``: the one clean, versioned dataset the sources feed."""

    name: str = "dataset"
    path: str = "data"
    key: list[str] = Field(default_factory=list)
    order_by: str | None = None
    schema_mode: Literal["evolve", "freeze"] = Field(default="evolve", alias="schema")
    on_missing: Literal["keep", "retract"] = "keep"
    normalize_headers: bool = True
    na_values: list[str] = Field(default_factory=lambda: list(DEFAULT_NA_VALUES))
    settle_seconds: float = Field(default=2.0, ge=0)
    infer_tolerance: float = 0.001
    columns: dict[str, ColumnConfig] = Field(default_factory=dict)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("infer_tolerance", mode="before")
    @classmethod
    def _fraction(cls, value: Any) -> Any:
        # a share of the values, not a percentage: 0.001 lets 1 value in 1,000 be rejected
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise ValueError(
                "must be a fraction of the values, at least 0 and below 1 (0.001 is 0.1%)"
            )
        return value

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", value):
            raise ValueError("must be letters, digits, '_', '-' or '.' (it names a folder)")
        return value

    @model_validator(mode="after")
    def _order_by_needs_key(self) -> DatasetConfig:
        if self.order_by and not self.key:
            raise ValueError("'order_by' only applies in upsert mode; set 'key' as well")
        return self


class EngineConfig(_Section):
    """``[engine]``: which engine runs the dataset logic, and its limits.

    ``threads``, ``memory_limit`` and ``temp_directory`` are DuckDB's; ``master`` and
    ``conf`` are Spark's (``master`` omitted: the active session inside ``spark-submit``
    or a notebook, else ``local[*]``)."""

    name: Literal["duckdb", "spark"] = "duckdb"
    threads: int | None = Field(default=None, ge=1)
    memory_limit: str = "1GB"
    temp_directory: str = ".headwater/tmp"
    master: str | None = None
    conf: dict[str, str] = Field(default_factory=dict)

    @field_validator("master")
    @classmethod
    def _master(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not re.fullmatch(
            r"local(\[(\*|[1-9][0-9]*)(,\s*[0-9]+)?\])?|yarn|(spark|k8s|mesos)://\S+", value
        ):
            raise ValueError(
                f"{value!r} is not a Spark master: use local[*], local[4], "
                "spark://host:7077, yarn or k8s://https://host:443"
            )
        return value

    @field_validator("conf", mode="before")
    @classmethod
    def _conf(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value  # pydantic says what is wrong
        out: dict[str, str] = {}
        for key, v in value.items():
            if not isinstance(key, str) or not re.fullmatch(r"spark\.[A-Za-z0-9_.\-]+", key):
                raise ValueError(f"{key!r} is not a Spark setting: keys start with 'spark.'")
            if key == "spark.master":
                raise ValueError("set the master with [engine] master, not conf")
            if isinstance(v, bool):
                v = str(v).lower()
            if not isinstance(v, (str, int, float)):
                raise ValueError(f"{key!r} = {v!r}: a value is a string, number or boolean")
            out[key] = str(v)
        return out

    @model_validator(mode="after")
    def _spark_settings_need_spark(self) -> EngineConfig:
        if self.name != "spark" and (self.master is not None or self.conf):
            raise ValueError(
                "'master' and 'conf' are Spark settings; set name = \"spark\" or remove them"
            )
        return self

    @field_validator("memory_limit")
    @classmethod
    def _size(cls, value: str) -> str:
        if not re.fullmatch(r"\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", value, re.I):
            raise ValueError("must be a size such as '1GB' or '512MiB'")
        return value.strip()


Metric = Literal["f1", "accuracy", "precision", "recall", "roc_auc", "rmse", "mae", "r2"]


class ModelConfig(_Section):
    """``[model]``: what to learn, with which estimator, scored how."""

    target: str
    features: list[str] | None = None
    exclude: list[str] = Field(default_factory=list)
    estimator: str = "sklearn.linear_model.LogisticRegression"
    params: dict[str, Any] = Field(default_factory=dict)
    metric: Metric | None = None
    test_data: str | None = None
    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    max_rows: int | None = Field(default=None, ge=1)
    scale: bool = False
    one_hot: bool = True
    impute: Literal["none", "mean", "median", "most_frequent"] = "none"
    path: str = "models"

    @field_validator("estimator")
    @classmethod
    def _import_path(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+", value):
            raise ValueError(
                "must be an import path such as 'sklearn.linear_model.LogisticRegression'"
            )
        return value


GateOn = Literal["test", "new_rows"]


class DeployConfig(_Section):
    """``[deploy]``: when a candidate may replace production."""

    tolerance: float = Field(default=0.0, ge=0)
    min_score: float | None = None
    # what the gate judges on: the test data always; with "new_rows" (headwater run) also a
    # hash-chosen slice of the new rows, left out of the candidate's training
    gate_on: list[GateOn] = Field(default_factory=lambda: list[GateOn](["test"]))

    @field_validator("gate_on")
    @classmethod
    def _with_test(cls, value: list[str]) -> list[str]:
        if "test" not in value:
            raise ValueError(
                'must include "test" (the gate always judges on the test data): '
                'use ["test"] or ["test", "new_rows"]'
            )
        return list(dict.fromkeys(value))


class MonitorConfig(_Section):
    """``[monitor]``: the drift checks on new rows (model drift and data drift)."""

    drift_test: Literal["raw", "parametric", "nonparametric"] = "raw"
    history_min: int = Field(default=5, ge=2)
    min_rows: int = Field(default=1, ge=1)
    psi_threshold: float = Field(default=0.2, gt=0)
    ks_alpha: float = Field(default=0.05, gt=0, lt=1)
    ks_threshold: float | None = Field(default=None, gt=0, le=1)
    retrain_on_data_drift: bool = False


# what a [notify] `on` may name: the loop's statuses, and drift left unresolved
NOTIFY_EVENTS = (
    "no_new_data",
    "no_drift",
    "insufficient_data",
    "deployed",
    "partial",
    "rejected",
    "failed",
    "skipped",
    "drift_unresolved",
)
NOTIFY_DEFAULT_EVENTS = ("failed", "partial", "rejected", "drift_unresolved")


def redact_url(url: str) -> str:
    """``scheme://host/…``: a URL as it may be shown or recorded (its user, path and query
    may carry a token)."""
    try:
        parts = urlsplit(str(url))
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(a URL)"
    return f"{parts.scheme or '?'}://{parts.hostname or '?'}{port}/…"


class NotifyConfig(_Section):
    """``[notify]``: after a loop run, its JSON summary to a command and/or a webhook."""

    command: str | None = None  # run without a shell; the summary on its stdin
    webhook: str | None = None  # POSTed the summary as application/json
    on: list[str] = Field(default_factory=lambda: list(NOTIFY_DEFAULT_EVENTS))
    timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("command")
    @classmethod
    def _command_line(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                words = shlex.split(value)
            except ValueError as exc:
                raise ValueError(f"is not a command line ({exc})") from exc
            if not words:
                raise ValueError('must name a program, e.g. "notify-send headwater"')
        return value

    @field_validator("webhook")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        # the messages never repeat the URL: it may carry a token
        if value is not None:
            try:
                parts = urlsplit(value)
                parts.port  # noqa: B018 - raises on a bad port
            except ValueError as exc:
                raise ValueError("is not a valid URL") from exc
            if parts.scheme not in ("http", "https"):
                raise ValueError("must be an http:// or https:// URL")
            if any(c.isspace() or not c.isprintable() for c in value):
                raise ValueError("must not contain spaces or control characters (quote them: %20)")
            if not parts.hostname:
                raise ValueError("must name a host, e.g. 'https://hooks.example.com/…'")
        return value

    @field_validator("on")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        for event in value:
            if event not in NOTIFY_EVENTS:
                raise ValueError(
                    f"{event!r} is not an event{_suggest(str(event), list(NOTIFY_EVENTS))} "
                    f"(known: {', '.join(NOTIFY_EVENTS)})"
                )
        return value


class RecordsConfig(_Section):
    """``[records]``: where the record store lives (SQLite in the project by default)."""

    url: str | None = None
    # PostgreSQL only: the schema this project's tables live in, created if missing, so
    # that several projects share one database apart (None: the server's search_path)
    pg_schema: str | None = Field(default=None, alias="schema")

    @field_validator("pg_schema")
    @classmethod
    def _schema(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not str(info.data.get("url") or "").startswith("postgresql"):
            raise ValueError(
                "applies to a PostgreSQL record store only; remove it, or set [records] url "
                "to a postgresql+psycopg:// URL"
            )
        problem = schema_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


def schema_problem(name: str) -> str | None:
    """Why ``name`` cannot be a PostgreSQL schema for a project's records, or None. Only
    plain lowercase identifiers: they need no quoting, so every tool sees the same name."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name) or name.startswith("pg_"):
        return (
            "must be a plain lowercase name of at most 63 letters, digits and _, not "
            "starting with a digit or pg_ (e.g. risk)"
        )
    return None


class ScheduleConfig(_Section):
    """One ``[[schedule]]`` entry, for ``headwater schedule run`` (the foreground scheduler):
    ``cron`` (Debian cron's five fields or a macro), the ``job`` it starts, a ``name``."""

    cron: str
    job: Literal["run", "ingest"] = "run"
    name: str | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from headwater.cron import parse
        from headwater.errors import ConfigError

        try:
            return parse(value, reboot_ok=False).text
        except ConfigError as exc:
            raise ValueError(f"{exc} ({exc.hint})") from None


class ServeConfig(_Section):
    """``[serve]``: the prediction API and dashboard (``headwater serve``)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    max_rows: int = Field(default=10_000, gt=0)  # rows in one /predict request
    max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)  # bytes of one request body
    # the NAME of the environment variable holding the bearer token for POST /runs and
    # /rollback; without it those are disabled (403), never open
    token_env: str | None = None
    reload_seconds: float = Field(default=0.5, gt=0)  # how often the pointer is checked

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError(
                "must be the name of an environment variable (e.g. HEADWATER_TOKEN), "
                "never the token itself"
            )
        return value


# the fsspec options of a URL scheme: [storage.s3] endpoint_url = "…", key = "…", secret = "…"
StorageOptions = dict[str, Any]


def _check_storage(value: Any) -> dict[str, StorageOptions]:
    """``[storage]``: one table of fsspec options per URL scheme (``[storage.s3]``); the
    values are never shown, not even in this error (they may be credentials)."""
    if not isinstance(value, Mapping):
        raise ValueError("must be a table of URL schemes, e.g. [storage.s3]")
    out: dict[str, StorageOptions] = {}
    for scheme, options in value.items():
        if not re.fullmatch(r"[a-z][a-z0-9+.-]*", str(scheme)) or scheme == "file":
            raise ValueError(
                f"{scheme!r} is not a URL scheme with options: use e.g. [storage.s3] "
                "(local paths take no options)"
            )
        if not isinstance(options, Mapping):
            raise ValueError(
                f"[storage.{scheme}] must be a table of fsspec options (endpoint_url, key, …)"
            )
        out[str(scheme)] = dict(options)
    return out


class Config(_Section):
    """The whole, validated ``headwater.toml``."""

    project: ProjectSection = Field(default_factory=ProjectSection)
    sources: list[SourceConfig] = Field(default_factory=list)
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    records: RecordsConfig = Field(default_factory=RecordsConfig)
    model: ModelConfig | None = None
    deploy: DeployConfig = Field(default_factory=DeployConfig)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    schedule: list[ScheduleConfig] = Field(default_factory=list)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    # fsspec options per URL scheme, for the dataset, models and source URLs. Excluded from
    # dumps (and so from the fingerprint stored with every run) and from the repr: they
    # may hold credentials, which headwater never records, logs or shows.
    storage: dict[str, StorageOptions] = Field(default_factory=dict, exclude=True, repr=False)

    root: Path = Field(default=Path("."), exclude=True)

    @field_validator("storage", mode="before")
    @classmethod
    def _storage(cls, value: Any) -> dict[str, StorageOptions]:
        return _check_storage(value)

    def storage_options(self, url: str) -> StorageOptions:
        """The ``[storage.<scheme>]`` options of ``url`` (a copy; none for a local path)."""
        if "://" not in url:
            return {}
        return json.loads(json.dumps(self.storage.get(url.split("://", 1)[0].lower(), {})))

    def resolve(self, path: str) -> str:
        """Return ``path`` made absolute against the project folder (URLs unchanged)."""
        if "://" in path:
            return path
        p = Path(path).expanduser()
        return str(p if p.is_absolute() else (self.root / p))

    @property
    def state_dir(self) -> Path:
        """``<project>/.headwater``: records, lock, staging and scratch space."""
        return self.root / ".headwater"

    @property
    def models_dir(self) -> str:
        """Where model versions are stored (a local path or an fsspec URL)."""
        return self.resolve(self.model.path if self.model else "models")

    @property
    def dataset_dir(self) -> str:
        """Where the dataset's parts, retractions and manifests live."""
        if "://" in self.dataset.path:  # a URL is joined as a URL (Path would eat a slash)
            return f"{self.dataset.path.rstrip('/')}/{self.dataset.name}"
        return self.resolve(str(Path(self.dataset.path) / self.dataset.name))

    def fingerprint(self) -> str:
        """A short hash of the effective configuration, stored with every run."""
        body = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()[:16]


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


_SECTION_KEYS: dict[str, type[BaseModel]] = {
    "project": ProjectSection,
    "sources": SourceConfig,
    "dataset": DatasetConfig,
    "engine": EngineConfig,
    "records": RecordsConfig,
    "columns": ColumnConfig,
    "model": ModelConfig,
    "deploy": DeployConfig,
    "monitor": MonitorConfig,
    "notify": NotifyConfig,
    "serve": ServeConfig,
}


def _format_errors(exc: PydanticValidationError, origin: str) -> ConfigError:
    lines = []
    first_key = ""
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        key = ".".join(loc)
        # Render list indices the way TOML users write them: sources[0].path
        key = re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", key)
        first_key = first_key or key
        value = err.get("input")
        if loc[:2] == ["notify", "webhook"] and isinstance(value, str):
            value = redact_url(value)  # it may carry a token
        if loc[:2] == ["serve", "token_env"]:
            value = "(not shown: it may be the token itself)"
        if loc[:1] == ["storage"]:
            value = "(not shown: it may hold credentials)"
        if err["type"] == "extra_forbidden":
            section = loc[-2] if len(loc) > 1 else ""
            if section.isdigit() and len(loc) > 2:
                section = loc[-3]
            model = _SECTION_KEYS.get(section, Config)
            fields = [f.alias or n for n, f in model.model_fields.items() if n != "root"]
            lines.append(
                f"unknown key {key!r}{_suggest(loc[-1], fields)} (known: {', '.join(fields)})"
            )
        elif err["type"] == "missing":
            lines.append(f"{key!r} is required")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{key!r} = {value!r}: {msg}")
    message = f"invalid configuration in {origin}: " + "; ".join(lines)
    return ConfigError(
        message,
        hint=f"fix the value in {origin} (or the HEADWATER_* environment variable)",
        key=first_key,
    )


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or "__" not in name[len(ENV_PREFIX) :]:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        if parts[0] not in (
            "project",
            "dataset",
            "engine",
            "records",
            "model",
            "deploy",
            "monitor",
            "notify",
            "serve",
            "storage",
        ):
            continue  # sources are a list: configure them in the file
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(
                    f"environment variable {name} overrides {part!r}, which is not a table",
                    hint=f"unset {name}",
                    key=".".join(parts),
                )
        node[parts[-1]] = _parse_env_value(raw)
    return data


def find_project(start: Path) -> Path:
    """Return the folder holding ``headwater.toml``: ``start`` or one of its parents."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise ConfigError(
        f"no {CONFIG_FILE} in {str(start)!r} or any folder above it",
        hint="run `headwater init DIR` to create a project, or pass --project DIR",
        path=str(start),
    )


def load_config(
    root: Path,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Read and validate ``root/headwater.toml``.

    Parameters
    ----------
    root
        The project folder.
    env
        Environment variables to apply (``HEADWATER_SECTION__KEY``); the CLI passes
        ``os.environ``, library callers pass what they want or nothing.
    overrides
        Nested mapping applied last (flags).
    """
    path = root / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"no {CONFIG_FILE} in {str(root)!r}",
            hint="run `headwater init DIR` first, or pass --project DIR",
            path=str(path),
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {str(path)!r}: {exc}", path=str(path)) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{str(path)!r} is not valid TOML: {exc}",
            hint="fix the syntax at the line and column shown",
            path=str(path),
        ) from exc
    return config_from_dict(data, root=root, env=env, overrides=overrides, origin=str(path))


def config_from_dict(
    data: Mapping[str, Any],
    *,
    root: Path,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    origin: str = CONFIG_FILE,
) -> Config:
    """Validate an already-parsed configuration mapping (see :func:`load_config`)."""
    merged: dict[str, Any] = json.loads(json.dumps(dict(data)))  # deep copy, TOML-safe
    if env:
        merged = _apply_env(merged, env)
    for section, values in (overrides or {}).items():
        if isinstance(values, Mapping):
            merged.setdefault(section, {}).update(values)
        else:
            merged[section] = values
    merged.setdefault("project", {}).setdefault("name", root.resolve().name)
    try:
        config = Config.model_validate({**merged, "root": root.resolve()})
    except PydanticValidationError as exc:
        raise _format_errors(exc, origin) from None
    _check_semantics(config, origin)
    return config


def _check_semantics(config: Config, origin: str) -> None:
    ds = config.dataset
    for key_col in ds.key:
        if not key_col.strip():
            raise ConfigError(f"invalid configuration in {origin}: 'dataset.key' has an empty name")
    if len(set(ds.key)) != len(ds.key):
        raise ConfigError(
            f"invalid configuration in {origin}: 'dataset.key' = {ds.key!r} repeats a column",
            key="dataset.key",
        )
    for name, col in ds.columns.items():
        if (col.min is not None or col.max is not None) and col.type not in (None, "int", "float"):
            raise ConfigError(
                f"invalid configuration in {origin}: 'dataset.columns.{name}' has min/max "
                f"but type {col.type!r}",
                hint="min and max apply to int and float columns",
                key=f"dataset.columns.{name}",
            )


TEMPLATE = """\
# headwater.toml — one file configures the whole project.
# Relative paths are relative to this folder. Any key can be overridden from the
# environment as HEADWATER_SECTION__KEY (e.g. HEADWATER_ENGINE__THREADS=4).

[project]
name = "{name}"

# Each [[sources]] entry is a folder, a glob ("data/*.csv") or an fsspec URL (s3://…).
# The format is inferred from the extension (.csv .tsv .json .jsonl .parquet, also .gz/.zst);
# set `format` to override it. Options: delimiter, quote, escape, encoding, header,
# skip_rows, thousands (a separator to strip from numbers, e.g. ",").
[[sources]]
path = "incoming"

[dataset]
name = "{dataset}"             # the clean, versioned dataset; written under `path`
path = "data"                  # or an fsspec URL: "s3://bucket/lake" (see [storage])
# key = ["id"]                 # upsert mode; without a key whole rows are de-duplicated
# order_by = "date"            # with a key: the column that decides which row is newer
# schema = "evolve"            # "evolve" adds new columns; "freeze" rejects them
# on_missing = "keep"          # a source file that vanished: "keep" its rows or "retract" them
# na_values = ["", "NA", "N/A", "n/a", "NULL", "null", "None", "NaN", "nan"]
# settle_seconds = 2.0         # a file modified more recently is ingested once it stops changing
# infer_tolerance = 0.001      # an inferred type may leave out this share of the values: they
#                              # are rejected rows; 0 = every value must fit, else text

# Pin a column's type and add validation rules; failing rows are rejected with the rule.
# [dataset.columns.price]
# type = "float"               # string | int | float | bool | date | timestamp
# min = 0
# not_null = true

[engine]
name = "duckdb"                # embedded, multi-threaded, out-of-core; or "spark"
#                              # (pip install 'headwater[spark]'): then master = "local[*]",
#                              # conf = {{ "spark.executor.memory" = "4g" }}
memory_limit = "1GB"
# threads = 2
# temp_directory = ".headwater/tmp"

# [records]
# url = "sqlite:///.headwater/records.db"   # the default

# fsspec options for the project's URLs of one scheme (dataset/model/source paths such as
# "s3://bucket/lake"); leave credentials out and s3fs reads AWS_* from the environment.
# [storage.s3]
# endpoint_url = "https://s3.eu-central-1.amazonaws.com"

# The model trained on the dataset (headwater train / deploy / predict).
# [model]
# target = "exited"
# features = ["lastmonth_activity", "lastyear_activity"]   # default: all but target and exclude
# exclude = []
# estimator = "sklearn.linear_model.LogisticRegression"    # any import path
# params = {{ solver = "liblinear", random_state = 0 }}
# metric = "f1"            # f1 accuracy precision recall roc_auc | rmse mae r2
# test_data = "testdata"   # a file/folder/glob; omit for a stable hold-out split
# test_fraction = 0.2
# scale = false            # standardise numeric features
# one_hot = true           # one-hot encode string features
# impute = "none"          # none | mean | median | most_frequent
# max_rows = 1000000       # train on a stable sample when the data is larger

# [deploy]
# tolerance = 0.0          # promote when no worse than production by more than this
# min_score = 0.5          # required of the first model when nothing is in production
# gate_on = ["test"]       # ["test", "new_rows"]: `run` also holds out a slice of the new
#                          # rows and requires the candidate to be no worse there too

# Drift checks on new rows against the production model (its card's reference profile).
# [monitor]
# drift_test = "raw"       # raw: worse than its test score | parametric: mean - 2 std of
#                          # the batch-score history | nonparametric: Q1 - 1.5 IQR of it
# history_min = 5          # fewer history points: fall back to raw (and say so)
# min_rows = 1             # fewer new rows: insufficient_data, no retrain
# psi_threshold = 0.2      # data drift per feature: population stability index above this
# ks_alpha = 0.05          # numeric features: KS statistic above the critical value at alpha
# ks_threshold = 0.1       # a fixed KS threshold instead of the critical value
# retrain_on_data_drift = false

# After a loop run (headwater run), its JSON summary to a command (on stdin, no shell)
# and/or a webhook (POST); a notifier that fails is recorded and never fails the run.
# [notify]
# command = "notify-me --channel ml"   # split like a shell would, but run without one
# webhook = "https://hooks.example.com/…"
# on = ["failed", "partial", "rejected", "drift_unresolved"]   # also: deployed, no_drift,
#                          # no_new_data, insufficient_data, skipped
# timeout_seconds = 10

# `headwater serve`: the prediction API and the dashboard.
# [serve]
# host = "127.0.0.1"       # another address without a token_env: a warning
# port = 8000
# max_rows = 10000         # rows in one /predict request
# max_bytes = 10485760     # bytes of one request body
# token_env = "HEADWATER_TOKEN"   # the variable holding the token for POST /runs, /rollback
# reload_seconds = 0.5     # how often the production pointer is checked

# `headwater schedule run` (the foreground scheduler: containers, systemd) fires these;
# `headwater schedule add "*/10 * * * *"` writes a crontab entry instead.
# [[schedule]]
# cron = "*/10 * * * *"   # Debian cron's five fields, or @hourly, @daily, ...
# job = "run"             # run or ingest
# name = "every-ten"
"""
