"""Set columns are counted as committed, never with the open transaction's own inserts.

Group commit counts what earlier writes of the same transaction add in
``Staged``; a count that also saw python-ovs's pending inserts counted them
twice (a fresh service, whose ``flows`` python-ovs keeps out of ``_data``
at its default, went over its quota with fewer flows than the quota).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import ovs.db.data
import ovs.db.idl
import ovs.db.schema

from ovn_inject.db.rows import Staged, committed_scalar, set_size, set_uuids

SCHEMA = ovs.db.schema.DbSchema.from_json(
    json.loads((Path(__file__).resolve().parents[2] / "schemas" / "ovn-inject.ovsschema").read_text())
)


def _service(committed: list[uuid.UUID] | None, pending: list[uuid.UUID]) -> Any:
    """A Service row as the IDL holds it, with ``pending`` added to its flows in an open transaction."""
    tables = {name: SimpleNamespace(**vars(t)) for name, t in SCHEMA.tables.items()}
    for each in tables.values():
        each.rows = {}
    table = tables["Service"]
    idl = SimpleNamespace(tables=tables, txn=None)
    data = ovs.db.idl.ColumnDefaultDict(table)
    if committed is not None:
        data["flows"] = ovs.db.data.Datum.from_python(table.columns["flows"].type, committed, lambda u: u)
    row = ovs.db.idl.Row(idl, table, uuid.uuid4(), data)
    flows = tables["Service_Flow"]
    for key in pending:  # as Transaction.insert leaves them: in the table, without data
        flows.rows[key] = ovs.db.idl.Row(idl, flows, key, None)
    if pending:
        row.__dict__["_mutations"] = {"_inserts": {"flows": set(pending)}}
    return row


def test_a_fresh_service_counts_none_of_the_pending_inserts() -> None:
    pending = [uuid.uuid4(), uuid.uuid4()]
    row = _service(None, pending)  # flows at its default: not in _data
    assert len(row.flows) == 2  # what python-ovs shows inside the transaction
    assert set_size(row, "flows") == 0
    assert set_uuids(row, "flows") == []


def test_committed_flows_are_counted_without_the_pending_ones() -> None:
    committed = [uuid.uuid4() for _ in range(3)]
    row = _service(committed, [uuid.uuid4()])
    assert set_size(row, "flows") == 3
    assert sorted(set_uuids(row, "flows")) == sorted(committed)


def test_a_group_of_writes_fills_a_fresh_quota_exactly() -> None:
    """Three writes of one flow each in one transaction, against max_flows=3: the count each sees."""
    service = _service(None, [])
    staged = Staged()
    seen = []
    for n in range(3):
        seen.append(set_size(service, "flows") + staged.delta.get(service.uuid, 0) + 1)
        staged.add(service.uuid, [(None, 5, f"tcp.dst == {n}")])
        flow = uuid.uuid4()
        flows = service._idl.tables["Service_Flow"]
        flows.rows[flow] = ovs.db.idl.Row(service._idl, flows, flow, None)
        service._mutations.setdefault("_inserts", {}).setdefault("flows", set()).add(flow)
    assert seen == [1, 2, 3]


class _EndingTransaction(dict[str, Any]):
    """``_mutations`` as another thread sees it while python-ovs ends the transaction: the key is
    there when asked for, gone when read (python-ovs replaces the dict between its two lookups)."""

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)


def test_a_committed_scalar_is_read_without_the_transaction_state() -> None:
    row = _service(None, [])
    row._data["name"] = ovs.db.data.Datum.from_python(row._table.columns["name"].type, "ips", lambda u: u)
    row.__dict__["_mutations"] = _EndingTransaction(_inserts={})
    try:
        row.name  # noqa: B018  python-ovs's own read, as the gateway's event loop made it
    except KeyError as exc:
        assert exc.args == ("_inserts",)
    else:
        raise AssertionError("python-ovs's getattr no longer consults _mutations twice; drop this test")
    assert committed_scalar(row, "name") == "ips"
    assert committed_scalar(row, "description") is None  # at its default, never sent: the caller decides
