"""A :class:`~headwater.compare.Comparison` as Markdown or a self-contained HTML page.

The HTML page inlines its style and its chart (an SVG bar per column: matched rows that
are equal vs unequal), so it opens offline and can be attached to a ticket.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headwater.compare import Comparison


def summary_rows(c: Comparison) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [
        ("rows left", c.rows_left),
        ("rows right", c.rows_right),
        ("rows in both", c.rows_in_both),
        ("rows only left", c.rows_only_left),
        ("rows only right", c.rows_only_right),
        ("duplicate rows left", c.duplicate_rows_left),
        ("duplicate rows right", c.duplicate_rows_right),
    ]
    if c.key:
        rows += [
            ("keys in both", c.keys_in_both),
            ("keys only left", c.keys_only_left),
            ("keys only right", c.keys_only_right),
            ("duplicate keys left", c.duplicate_keys_left),
            ("duplicate keys right", c.duplicate_keys_right),
            ("rows with differences", c.rows_with_differences),
        ]
    rows += [
        ("columns only left", ", ".join(c.columns_only_left) or "-"),
        ("columns only right", ", ".join(c.columns_only_right) or "-"),
        (
            "columns whose types differ",
            ", ".join(f"{k} ({a} vs {b})" for k, (a, b) in c.columns_type_differs.items()) or "-",
        ),
    ]
    return rows


def _fmt(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _md(v: Any) -> str:
    """A value as one Markdown table cell, shown as it is: a "|" would end the cell, a line
    break the row, and "<" or "&" would be read as HTML."""
    text = _fmt(v).replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")
    return text.replace("\r\n", "\\n").replace("\n", "\\n")


def to_markdown(c: Comparison) -> str:
    verdict = "**equal**" if c.equal else "**different**"
    out = [
        f"# Comparison: `{c.left}` vs `{c.right}`",
        "",
        f"Result: {verdict}" + (f"; key: `{', '.join(c.key)}`" if c.key else "; whole rows"),
        "",
        "| | |",
        "|---|---|",
    ]
    out += [f"| {name} | {_md(v)} |" for name, v in summary_rows(c)]
    if c.columns:
        out += [
            "",
            "## Columns (matched rows)",
            "",
            "| column | equal | unequal | null one side | max abs diff | types |",
            "|---|---|---|---|---|---|",
        ]
        for name, col in c.columns.items():
            out.append(
                f"| {_md(name)} | {col.equal} | {col.unequal} | {col.null_one_side} | "
                f"{_fmt(col.max_abs_diff)} | {col.left_type} / {col.right_type} |"
            )
    for kind, rows in c.samples.items():
        if not rows:
            continue
        cols = list(rows[0])
        out += [
            "",
            f"## Sample: {kind.replace('_', ' ')}",
            "",
            "| " + " | ".join(_md(k) for k in cols) + " |",
            "|" + "---|" * len(cols),
        ]
        out += ["| " + " | ".join(_md(r[k]) for k in cols) + " |" for r in rows]
    if c.saved:
        out += ["", "Complete lists: " + ", ".join(f"`{p}`" for p in c.saved.values())]
    return "\n".join(out) + "\n"


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#1d2430}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #d5dbe3;padding:3px 8px;
text-align:left}th{background:#f1f4f8}.eq{color:#19743c}.ne{color:#b3261e}
.verdict{font-weight:600;padding:2px 8px;border-radius:4px}
.verdict.eq{background:#e3f4e8}.verdict.ne{background:#fbe6e4}
"""


def _chart(c: Comparison) -> str:
    """One horizontal bar per column: equal (green) and unequal (red) matched rows."""
    if not c.columns:
        return ""
    width, bar_h, label_w = 640, 18, 180
    height = (bar_h + 8) * len(c.columns) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="matches per column" '
        f'width="{width + label_w + 120}" height="{height}" id="chart">'
    ]
    for i, (name, col) in enumerate(c.columns.items()):
        y = 10 + i * (bar_h + 8)
        total = max(col.equal + col.unequal, 1)
        w_eq = width * col.equal / total
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" font-size="12">'
            f"{html.escape(name)}</text>"
        )
        parts.append(
            f'<rect class="bar-equal" x="{label_w}" y="{y}" width="{w_eq:.1f}" height="{bar_h}" '
            f'fill="#2e9d57"><title>{col.equal} equal</title></rect>'
        )
        parts.append(
            f'<rect class="bar-unequal" x="{label_w + w_eq:.1f}" y="{y}" '
            f'width="{width - w_eq:.1f}" height="{bar_h}" fill="#d0453a">'
            f"<title>{col.unequal} unequal</title></rect>"
            if col.unequal
            else ""
        )
        parts.append(
            f'<text x="{label_w + width + 6}" y="{y + 13}" font-size="12">'
            f"{col.equal} / {col.unequal}</text>"
        )
    parts.append(
        f'<text x="{label_w}" y="{height - 6}" font-size="11" fill="#555">'
        "green: equal, red: unequal (matched rows)</text></svg>"
    )
    return "".join(parts)


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r[c]))}</td>" for c in cols) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def to_html(c: Comparison) -> str:
    e = html.escape
    verdict = (
        '<span class="verdict eq">equal</span>'
        if c.equal
        else '<span class="verdict ne">different</span>'
    )
    summary = "".join(f"<tr><th>{e(n)}</th><td>{e(_fmt(v))}</td></tr>" for n, v in summary_rows(c))
    cols = ""
    if c.columns:
        cols = (
            "<h2>Columns (matched rows)</h2>"
            + _chart(c)
            + _table(
                [
                    {
                        "column": n,
                        "equal": col.equal,
                        "unequal": col.unequal,
                        "null one side": col.null_one_side,
                        "max abs diff": col.max_abs_diff,
                        "types": f"{col.left_type} / {col.right_type}",
                    }
                    for n, col in c.columns.items()
                ]
            )
        )
    samples = "".join(
        f"<h2>Sample: {e(kind.replace('_', ' '))}</h2>{_table(rows)}"
        for kind, rows in c.samples.items()
    )
    # JSON inside <script> is not HTML-decoded, and "<" there can end or re-open the
    # element ("</script>", "<!--"): it and its friends are written as JSON escapes
    data = (
        json.dumps(c.to_dict(), default=str)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>headwater comparison: {e(c.left)} vs {e(c.right)}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>{e(c.left)} <small>vs</small> {e(c.right)}</h1>"
        f"<p>Result: {verdict} · "
        + (f"key: <code>{e(', '.join(c.key))}</code>" if c.key else "whole rows")
        + f" · {c.seconds:.2f}s</p>"
        f"<table id=summary>{summary}</table>{cols}{samples}"
        f'<script type="application/json" id="comparison-data">{data}</script>'
        "</body></html>\n"
    )
