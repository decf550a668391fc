"""Replaying OVSDB updates into python-ovs's IDL and one of ours, side by side (our IDLs' oracle)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import ovs.db.idl

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "ovn-inject.ovsschema").read_text())


def schema_helper(columns: Mapping[str, list[str]]) -> ovs.db.idl.SchemaHelper:
    """OVN_Inject's schema with these columns of these tables registered."""
    helper = ovs.db.idl.SchemaHelper(schema_json=json.loads(json.dumps(SCHEMA)))
    for table, names in columns.items():
        helper.register_columns(table, names)
    return helper


def replay(plain: Any, mine: Any, updates: Iterable[dict[str, Any]]) -> None:
    """Apply each update to both IDLs; after each, the same notices (each IDL records its own in
    ``notices``), change_seqno, rows and column values."""
    for update in updates:
        for idl in (plain, mine):
            idl._Idl__parse_update(json.loads(json.dumps(update)), ovs.db.idl.OVSDB_UPDATE3)
        assert mine.notices == plain.notices
        assert mine.change_seqno == plain.change_seqno
        for name, table in plain.tables.items():
            rows = mine.tables[name].rows
            assert set(rows) == set(table.rows), name
            for key, row in table.rows.items():
                for column in table.columns:
                    assert getattr(rows[key], column) == getattr(row, column), (name, column)
