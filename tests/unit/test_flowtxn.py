"""db.flowtxn's operations insert what python-ovs's rows would, and db.verify's guard is sent.

Against an IDL fed an update by hand whose session keeps what a commit sends
(tests/unit/test_inserts.py); the whole path against ovsdb-server is in
tests/integration/test_group_flows.py.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import ovs.db.idl
import pytest

from ovn_inject.core.validate import ValidFlow
from ovn_inject.db import flow_commands, flowtxn, verify
from ovn_inject.db.rows import Staged
from tests.unit.idlreplay import offline_idl

SVC = str(uuid.uuid4())
ATTACHMENT = str(uuid.uuid4())
TOKEN = str(uuid.uuid4())


def _idl() -> Any:
    columns = ["service", "attachment", "priority", "match", "actions", "cookie", "hard_timeout"]
    return offline_idl(
        {
            "Service": ["name", "flows", "flows_seqno", "attachments", "options"],
            "Attachment": ["hook"],
            "Token": ["public_id", "secret_hash"],
            "Service_Flow": [*columns, "openflow_flows", "created", "status"],
        },
        {
            "Service": {SVC: {"name": "s", "flows_seqno": 3, "attachments": ["uuid", ATTACHMENT]}},
            "Attachment": {ATTACHMENT: {"hook": "ls-in-port"}},
            "Token": {TOKEN: {"public_id": "p", "secret_hash": "h"}},
        },
    )


def _sent(idl: Any) -> list[dict[str, Any]]:
    (message,) = idl._session.messages
    ops: list[dict[str, Any]] = json.loads(json.dumps(message.params))[1:]
    return ops


FLOWS = [
    ValidFlow(100, 'inport == "vm1"', "drop;", 0, ATTACHMENT, 0, 2),
    ValidFlow(0, "ip4", "next;", 5, None, 30, 0),
    ValidFlow(65535, "", "drop;", (1 << 64) - 1, ATTACHMENT, 0, 1),
]


def _rows(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The inserted rows, without ``created`` (the clock's)."""
    rows = [dict(op["row"]) for op in ops if op["op"] == "insert"]
    for row in rows:
        row.pop("created")
    return sorted(rows, key=lambda r: (r["priority"], r["match"]))


def test_the_operations_insert_what_python_ovs_rows_insert() -> None:
    idl = _idl()
    api = type("Api", (), {"tables": idl.tables})()
    service = idl.tables["Service"].rows[uuid.UUID(SVC)]
    txn = ovs.db.idl.Transaction(idl)
    flow_commands.insert_flows(api, txn, service, FLOWS, Staged())
    txn.commit()
    through_rows = _sent(idl)

    idl = _idl()
    service = idl.tables["Service"].rows[uuid.UUID(SVC)]
    txn = ovs.db.idl.Transaction(idl)
    ops = flowtxn.FlowOps(idl.tables["Service_Flow"])
    assert ops.insert(SVC, FLOWS) == (0, 3)
    for op in ops.operations():
        txn.add_op(op)
    txn.commit()
    as_operations = _sent(idl)
    assert _rows(as_operations) == _rows(through_rows)
    [mutate] = [op for op in as_operations if op["op"] == "mutate"]
    assert mutate == {
        "op": "mutate",
        "table": "Service",
        "where": [["_uuid", "==", ["uuid", SVC]]],
        "mutations": [["flows", "insert", ["set", [["named-uuid", f"flow{i}"] for i in range(3)]]]],
    }
    [guard] = [op for op in as_operations if op["op"] == "wait"]
    assert guard["table"] == "Attachment" and guard["rows"] == [{"_uuid": ["uuid", ATTACHMENT]}]


def test_a_value_its_column_refuses_is_never_sent_unchecked() -> None:
    ops = flowtxn.FlowOps(_idl().tables["Service_Flow"])
    with pytest.raises(flowtxn.Unsuitable):
        ops.insert(SVC, [ValidFlow(70_000, "ip4", "drop;", 0, None, 0, 0)])
    with pytest.raises(flowtxn.Unsuitable):
        ops.insert(SVC, [ValidFlow(1, "ip4", "drop;", 0, None, -1, 0)])


def test_the_new_rows_uuids_are_read_from_the_last_results() -> None:
    ops = flowtxn.FlowOps(_idl().tables["Service_Flow"])
    ops.insert(SVC, FLOWS[:2])
    new = [uuid.uuid4(), uuid.uuid4()]
    sent = ops.operations()
    results = [{}, {}, *({"uuid": ["uuid", str(u)]} for u in new), {"count": 1}, {}]
    assert len(sent) == 4
    assert ops.uuids(results, len(sent)) == new


@pytest.mark.parametrize("registers", [True, False])
def test_a_verified_row_the_transaction_does_not_change_is_guarded(
    registers: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """python-ovs sent nothing for ``row.verify`` alone: a revoked token did not stop a write."""
    monkeypatch.setattr(verify, "REGISTERS", registers)
    idl = _idl()
    token = idl.tables["Token"].rows[uuid.UUID(TOKEN)]
    service = idl.tables["Service"].rows[uuid.UUID(SVC)]
    txn = ovs.db.idl.Transaction(idl)
    verify.verify(token, "secret_hash")
    service.flows_seqno = 4
    txn.commit()
    waits = [op for op in _sent(idl) if op["op"] == "wait"]
    assert waits == [
        {
            "op": "wait",
            "timeout": 0,
            "table": "Token",
            "where": [["_uuid", "==", ["uuid", TOKEN]]],
            "columns": ["secret_hash"],
            "until": "==",
            "rows": [{"secret_hash": "h"}],
        }
    ]
    assert not token._prereqs  # cleared with the transaction


def test_a_verify_alone_is_a_no_op_in_python_ovs() -> None:
    """Why db.verify exists: if python-ovs sends it one day, db.verify is merely redundant."""
    idl = _idl()
    token = idl.tables["Token"].rows[uuid.UUID(TOKEN)]
    txn = ovs.db.idl.Transaction(idl)
    token.verify("secret_hash")
    idl.tables["Service"].rows[uuid.UUID(SVC)].flows_seqno = 4
    txn.commit()
    assert not [op for op in _sent(idl) if op["op"] == "wait" and op["table"] == "Token"]


def test_the_guards_see_python_ovs_as_expected() -> None:
    assert flowtxn.AVAILABLE and flowtxn.can_keep_reply()
    assert verify.REGISTERS and verify.can_register()

    class Renamed(ovs.db.idl.Transaction):
        _process_reply = None  # type: ignore[assignment]

    class Unregistered(ovs.db.idl.Row):
        def addvalue(self, column_name: str, key: Any) -> None: ...

    assert not flowtxn.can_keep_reply(Renamed)
    assert not verify.can_register(Unregistered)
