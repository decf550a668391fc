"""Printing records as ovn-nbctl does (list), or as table, JSON or CSV (pure)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from typing import Any

FORMATS = ("table", "json", "csv")
_BARE_STRING = re.compile(r"^[A-Za-z0-9_.:/@-]+$")
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$|^0[xX][0-9a-fA-F]+$")


def max_flows_value(stored: str | None) -> int | None:
    """A quota as every command shows it: a number, or None (blank in tables, null in JSON)."""
    return int(stored) if stored is not None and stored.isdigit() else None


def format_value(value: Any) -> str:
    """One value in OVSDB's text style: strings quoted only when they must be."""
    if value is None:
        return "[]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        if _BARE_STRING.match(value) and not _NUMBER.match(value) and value not in ("true", "false"):
            return value
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{format_value(k)}={format_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return json.dumps(str(value))


def _cell(value: Any) -> str:
    """A table/CSV cell: plain strings stay plain."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return format_value(value)


def render(
    records: Sequence[dict[str, Any]],
    columns: Sequence[str],
    fmt: str,
    bare: bool = False,
    widths: dict[str, int] | None = None,
) -> str:
    """Records in ``fmt``: ``list`` (ovn-nbctl's record blocks), ``table``, ``json`` or ``csv``.

    In a ``list`` a missing value is blank, as in a table (the generic ``list``
    command prints raw OVSDB text instead: :func:`render_ovsdb`). ``widths``
    caps table columns: longer text is wrapped within the column.
    """
    if fmt == "json":
        return json.dumps([{c: r.get(c) for c in columns} for r in records], indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for record in records:
            writer.writerow([_cell(record.get(c)) for c in columns])
        return out.getvalue()
    if bare:
        blocks = ["\n".join(_cell(r.get(c)) for c in columns) for r in records]
        return "\n\n".join(blocks) + ("\n" if blocks else "")
    if fmt == "list":
        width = max((len(c) for c in columns), default=0)
        blocks = ["\n".join(f"{c.ljust(width)} : {_listed(r.get(c))}" for c in columns) for r in records]
        return "\n\n".join(blocks) + ("\n" if blocks else "")
    return _table(records, columns, widths or {})


def render_ovsdb(records: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str, bare: bool) -> str:
    """As :func:`render`, but a ``list`` in OVSDB's text (an empty set is ``[]``), as ovn-nbctl's list."""
    if fmt != "list" or bare:
        return render(records, columns, fmt, bare)
    width = max((len(c) for c in columns), default=0)
    blocks = ["\n".join(f"{c.ljust(width)} : {format_value(r.get(c))}" for c in columns) for r in records]
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def _listed(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else format_value(value)


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width``, broken at spaces where it can be."""
    import textwrap

    return textwrap.wrap(text, width, break_on_hyphens=False, drop_whitespace=True) or [""]


def _table(records: Sequence[dict[str, Any]], columns: Sequence[str], caps: dict[str, int]) -> str:
    cells = [[_cell(r.get(c)) for c in columns] for r in records]
    wrapped = [
        [
            _wrap(v, caps[c]) if c in caps and len(v) > caps[c] else [v]
            for c, v in zip(columns, row, strict=True)
        ]
        for row in cells
    ]
    widths = [
        max([len(c), *(len(line) for row in wrapped for line in row[i])]) for i, c in enumerate(columns)
    ]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    for row in wrapped:
        for n in range(max(len(parts) for parts in row)):
            parts = [p[n] if n < len(p) else "" for p in row]
            lines.append("  ".join(v.ljust(w) for v, w in zip(parts, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"


def fit_to_terminal(
    records: Sequence[dict[str, Any]], columns: Sequence[str], wide: Sequence[str], minimum: int = 4
) -> dict[str, int]:
    """Caps for the ``wide`` text columns so that the table fits the terminal's width.

    Narrow wide columns keep their width; the room left is shared by the others,
    each at least ``minimum`` characters (a very narrow terminal still wraps).
    """
    import shutil

    total = shutil.get_terminal_size((120, 24)).columns - 1  # the last column of a terminal wraps on some
    natural = {c: max([len(c), *(len(_cell(r.get(c))) for r in records)]) for c in columns}
    room = total - sum(natural[c] for c in columns if c not in wide) - 2 * (len(columns) - 1)
    remaining = sorted(wide, key=lambda c: natural[c])
    while remaining:
        share = room // len(remaining)
        if natural[remaining[0]] <= share:
            room -= natural[remaining.pop(0)]
            continue
        return {c: max(share, minimum) for c in remaining}
    return {}
