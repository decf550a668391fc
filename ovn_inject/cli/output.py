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


def render(records: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str, bare: bool = False) -> str:
    """Records in ``fmt``: ``list`` (ovn-nbctl's record blocks), ``table``, ``json`` or ``csv``."""
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
        blocks = ["\n".join(f"{c.ljust(width)} : {format_value(r.get(c))}" for c in columns) for r in records]
        return "\n\n".join(blocks) + ("\n" if blocks else "")
    rows = [[_cell(r.get(c)) for c in columns] for r in records]
    widths = [max([len(c), *(len(row[i]) for row in rows)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"
