"""Rows kept as the server's JSON read as python-ovs reads them, column by column, type by type."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import ovs.db.idl
import ovs.db.schema

from ovn_inject.db.lazyrows import LazyColumns, Reader, read

SCHEMA = ovs.db.schema.DbSchema.from_json(
    json.loads((Path(__file__).resolve().parents[2] / "schemas" / "ovn-inject.ovsschema").read_text())
)
ATT, SVC, FLOW, TOKEN = (uuid.uuid4() for _ in range(4))


def _idl() -> Any:
    tables = {name: SimpleNamespace(**vars(table)) for name, table in SCHEMA.tables.items()}
    for table in tables.values():
        table.rows = {}
    return SimpleNamespace(tables=tables, txn=None)


def _row(idl: Any, table: str, key: uuid.UUID, raw: dict[str, Any]) -> Any:
    row = ovs.db.idl.Row(idl, idl.tables[table], key, LazyColumns(idl.tables[table], raw))
    idl.tables[table].rows[key] = row
    return row


def _plain(idl: Any, table: str, key: uuid.UUID, raw: dict[str, Any]) -> Any:
    """The same row with every column parsed, as python-ovs builds it."""
    data = ovs.db.idl.ColumnDefaultDict(idl.tables[table])
    lazy = LazyColumns(idl.tables[table], dict(raw))
    for column in idl.tables[table].columns:
        data[column] = lazy[column]
    return ovs.db.idl.Row(idl, idl.tables[table], key, data)


ROWS = {
    "Service": (
        SVC,
        {
            "name": "ips",
            "tenant": "t",
            "enabled": True,
            "attachments": ["uuid", str(ATT)],
            "flows": ["set", [["uuid", str(FLOW)], ["uuid", str(uuid.uuid4())]]],  # one is gone
            "openflow_targets": ["set", ["ptcp:6653", "tcp:1.2.3.4:6633"]],
            "options": ["map", [["max_flows", "5"], ["x", "y"]]],
        },
    ),
    "Attachment": (
        ATT,
        {"service": ["uuid", str(SVC)], "target_kind": "ls", "target_name": "ls-a", "status": "active"},
    ),
    "Service_Flow": (
        FLOW,
        {
            "service": ["uuid", str(SVC)],
            "attachment": ["set", []],
            "priority": 10,
            "match": 'inport == "vm1"',
            "actions": "drop;",
            "created": 123,
            "status": "installed",
            "external_ids": ["map", []],
        },
    ),
}


def test_every_column_reads_as_python_ovs_reads_it() -> None:
    idl = _idl()
    rows = {table: _row(idl, table, key, dict(raw)) for table, (key, raw) in ROWS.items()}
    for table, (key, raw) in ROWS.items():
        plain = _plain(idl, table, key, raw)
        for column in idl.tables[table].columns:
            assert read(rows[table], column) == getattr(plain, column), (table, column)
            assert getattr(Reader(rows[table]), column) == getattr(plain, column), (table, column)
            assert getattr(rows[table], column) == getattr(plain, column), (table, column)


def test_a_parsed_column_is_read_from_its_datum() -> None:
    idl = _idl()
    key, raw = ROWS["Service_Flow"]
    row = _row(idl, "Service_Flow", key, dict(raw))
    assert row.match == 'inport == "vm1"'  # parsed: the JSON goes
    assert "match" not in row._data._raw
    row._data["match"] = ovs.db.data.Datum.from_json(idl.tables["Service_Flow"].columns["match"].type, "ip")
    assert read(row, "match") == "ip"


def test_the_override_is_in_use_only_where_python_ovs_has_the_handler_it_replaces() -> None:
    from ovn_inject.northd.tracking import TrackingIdl, _can_override

    assert _can_override(ovs.db.idl.Idl) == TrackingIdl.keeps_rows_as_json()

    class Renamed:
        def _Idl__process_update3(self, table: Any, uuid: Any, row_update: Any) -> None: ...

    class Changed:
        def _Idl__process_update2(self, table: Any, uuid: Any, row_update: Any, extra: Any) -> None: ...

    assert not _can_override(Renamed)
    assert not _can_override(Changed)


def test_a_reference_is_read_from_the_json_as_from_its_datum() -> None:
    from ovn_inject.db.rows import _ref

    idl = _idl()
    cases: list[Any] = [
        ["uuid", str(SVC)],
        ["set", []],
        ["set", [["uuid", str(SVC)]]],
        ["uuid", str(SVC).upper()],
        ["uuid", str(SVC).replace("-", "")],  # not a uuid to python-ovs: the column reads as its default
        ["uuid", "nope"],
        "text",
    ]
    for value in [*cases, None]:
        raw = {"priority": 1} if value is None else {"priority": 1, "service": value, "attachment": value}
        for column in ("service", "attachment"):
            row = _row(idl, "Service_Flow", FLOW, dict(raw))
            plain = _plain(idl, "Service_Flow", FLOW, raw)
            assert _ref(row, column) == _ref(plain, column), (value, column)
            assert not dict.__contains__(row._data, column) or value != cases[0]  # read from the JSON
