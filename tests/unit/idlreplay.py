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


class SentMessages:
    """Stands for an IDL's session: keeps what a commit sends."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    def send(self, message: Any) -> int:
        self.messages.append(message)
        return 0


def offline_idl(columns: Mapping[str, list[str]], initial: Mapping[str, Mapping[str, Any]]) -> Any:
    """python-ovs's IDL of these columns, monitoring ``initial`` (table -> uuid -> row) with no server:
    what a commit would send stays in its session (a :class:`SentMessages`)."""
    idl = ovs.db.idl.Idl("unix:/nonexistent", schema_helper(columns), leader_only=False)
    update = {table: {key: {"initial": row} for key, row in rows.items()} for table, rows in initial.items()}
    idl._Idl__parse_update(update, ovs.db.idl.OVSDB_UPDATE3)
    idl.state = ovs.db.idl.Idl.IDL_S_MONITORING
    idl._session = SentMessages()
    return idl
