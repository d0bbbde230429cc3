"""Portable row fingerprints: md5 of a canonical, typed encoding of a row.

The encoding joins, with 0x1E between them, one piece for every column in name order
whose value is not null::

    <name> 0x1F <text>                             (numbers, booleans, dates, timestamps)
    <name> 0x1F <length of text> ':' <text>        (strings)

where text is: strings as they are; integers in decimal; floats that are whole numbers
with magnitude below 2**53 as integers (so ``5``, ``5.0`` and ``-0.0`` → ``"5"`` / ``"0"``),
NaN as ``nan``, infinities as ``inf``/``-inf``, other floats as the engine's shortest
round-trip text; booleans as ``true``/``false``; dates as ``YYYY-MM-DD``; timestamps in
UTC as ``YYYY-MM-DDTHH:MM:SS.ffffff``. Null columns are left out, so adding a nullable
column or widening int → float leaves earlier fingerprints valid. The length prefix makes
the encoding unambiguous whatever the strings contain; the other texts never contain 0x1E
or 0x1F, so they need none (building the text is the expensive part of a fingerprint: one
``concat_ws`` of short pieces is about twice as fast as the fully length-prefixed form).

Rows carry the fingerprint as two int64 columns, ``_hw_fp_hi`` and ``_hw_fp_lo``: each half
of the hex digest (16 digits) read as an unsigned number, minus 2**63. Fixed-width integers
make de-duplication (a hash aggregate) and writing several times cheaper than 32-character
strings, and the halves are as portable as the hex (Spark: ``conv(substr(h, 1, 16), 16,
10)``).

Golden tests (tests/ingest/test_fingerprint.py) pin fixed rows to fixed hashes, so a
second engine can prove it computes the same ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.engines.base import FP_COLUMNS

if TYPE_CHECKING:
    import ibis
    import ibis.expr.types as ir

_FIELD = "\x1f"
_END = "\x1e"
_HALF = 2**63
COLUMNS = FP_COLUMNS


def _floor_float(value: Any) -> Any:
    import ibis

    @ibis.udf.scalar.builtin(name="floor")
    def floor(x: float) -> float:  # type: ignore[empty-body]
        """SQL FLOOR on a double, returning a double."""

    return floor(value)


def canonical_text(value: ir.Value, kind: str) -> ir.StringValue:
    """The canonical text of one typed value (null stays null)."""
    import ibis

    if kind == "string":
        return value
    if kind == "int":
        return value.cast("string")
    if kind == "float":
        f = value
        # FLOOR on the double itself (Ibis's `floor` casts to an integer, which overflows;
        # the modulo operator costs a third of the whole canonical text); the magnitude
        # test comes first so no engine floors a huge value
        whole = (f.abs() < 2.0**53) & (_floor_float(f) == f)
        return ibis.cases(
            (f.isnan(), "nan"),
            (whole, f.cast("int64").cast("string")),
            (f == float("inf"), "inf"),
            (f == float("-inf"), "-inf"),
            else_=f.cast("string"),
        )
    if kind == "bool":
        return ibis.cases(
            (value == ibis.literal(True), "true"),
            (value == ibis.literal(False), "false"),
            else_=ibis.null("string"),
        )
    if kind == "date":
        return value.strftime("%Y-%m-%d")
    if kind == "timestamp":
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")
    raise ValueError(f"unknown column kind {kind!r}")


def fingerprint(table: ibis.Table, schema: dict[str, str]) -> ir.StringValue:
    """md5 hex of the canonical encoding of each row over the columns of ``schema`` (the
    definition, pinned by the golden tests; runs store its halves, see
    :func:`digest_halves`)."""
    return encoding(table, schema).hexdigest("md5")


def encoding(
    table: ibis.Table,
    schema: dict[str, str],
    known: dict[str, ir.StringValue] | None = None,
) -> ir.StringValue:
    """The canonical encoding of each row over the columns of ``schema`` (what is hashed).

    ``known``: per column, the canonical text where it is already at hand (null where not:
    computed then), e.g. the source text of a float that was written canonically."""
    import ibis

    pieces = []
    for name in sorted(schema):
        value = table[name]
        if known and name in known:
            # the value's own text only where none is at hand: a float's shortest text
            # is costly on some engines (on Spark, a reflection call per value), and a
            # value written canonically then costs nothing
            value = known[name].isnull().ifelse(value, ibis.null(value.type()))
            text = known[name].coalesce(canonical_text(value, schema[name]))
        else:
            text = canonical_text(value, schema[name])
        if schema[name] == "string":
            text = text.length().cast("string") + ":" + text
        # `||` is null when the value is; CONCAT_WS (DuckDB and Spark) skips nulls
        pieces.append(ibis.literal(name + _FIELD) + text)
    if not pieces:
        return ibis.literal("")
    return ibis.literal(_END).join(pieces)


def digest_halves(table: ir.Table, text_column: str, names: tuple[str, str] = COLUMNS) -> ir.Table:
    """``table`` with the encoding column ``text_column`` replaced by the fingerprint halves:
    the portable way (md5 hex, then :func:`halves`); engines may compute the same numbers
    faster (``Engine.digest_halves``)."""
    rest = [c for c in table.columns if c != text_column]
    hexed = table.select(*rest, _hw_fp_hex=table[text_column].hexdigest("md5"))
    return halves(hexed, "_hw_fp_hex", names)


def halves(table: ir.Table, hex_column: str, names: tuple[str, str] = COLUMNS) -> ir.Table:
    """``table`` with the hex fingerprint column replaced by its halves (named ``names``).

    Three projections, each computing its values once: the unsigned halves, then the
    offset by 2**63 done in int64 arithmetic on either side of it (decimal arithmetic
    would be three times slower), so md5 and the hex parsing each run once per row.
    """
    import ibis

    rest = [c for c in table.columns if c != hex_column]
    h = table[hex_column]
    unsigned = table.select(
        *rest,
        _hw_u_hi=(ibis.literal("0x") + h.substr(0, 16)).cast("uint64"),
        _hw_u_lo=(ibis.literal("0x") + h.substr(16, 16)).cast("uint64"),
    )

    def signed(u: ir.IntegerValue) -> ir.IntegerValue:
        top = ibis.literal(_HALF, "uint64")
        low = u.cast("int64") - ibis.literal(_HALF - 1, "int64") - 1
        return ibis.ifelse(u >= top, (u - top).cast("int64"), low)

    return unsigned.select(
        *rest, **{names[0]: signed(unsigned._hw_u_hi), names[1]: signed(unsigned._hw_u_lo)}
    )


def halves_python(hex_fp: str) -> tuple[int, int]:
    """The same halves in plain Python."""
    return int(hex_fp[:16], 16) - _HALF, int(hex_fp[16:], 16) - _HALF


def fingerprint_python(row: dict[str, Any], schema: dict[str, str]) -> str:
    """The same fingerprint computed in plain Python (the reference implementation)."""
    import datetime as dt
    import hashlib
    import math

    out = []
    for name in sorted(schema):
        v = row.get(name)
        if v is None:
            continue
        kind = schema[name]
        if kind == "float":
            x = float(v)
            if math.isnan(x):
                text = "nan"
            elif math.isinf(x):
                text = "inf" if x > 0 else "-inf"
            elif x == math.floor(x) and abs(x) < 2.0**53:
                text = str(int(x))
            else:
                text = repr(x)
        elif kind == "bool":
            text = "true" if v else "false"
        elif kind == "date":
            text = v.isoformat()
        elif kind == "timestamp":
            ts = v
            if isinstance(ts, dt.datetime) and ts.tzinfo is not None:
                ts = ts.astimezone(dt.UTC).replace(tzinfo=None)
            text = ts.strftime("%Y-%m-%dT%H:%M:%S.%f")
        elif kind == "int":
            text = str(int(v))
        else:
            text = f"{len(str(v))}:{v}"
        out.append(f"{name}{_FIELD}{text}")
    return hashlib.md5(_END.join(out).encode("utf-8")).hexdigest()
