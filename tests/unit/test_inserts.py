"""db.inserts writes a new row as python-ovs's ``row.column = value`` does: the same transaction JSON."""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

import ovs.db.data
import ovs.db.error
import ovs.db.idl
import ovs.db.types
import pytest

from ovn_inject.db import inserts
from tests.unit.idlreplay import offline_idl, schema_helper

SVC = str(uuid.uuid4())
ATTACHMENT = str(uuid.uuid4())


def _idl() -> Any:
    flow_columns = ["service", "attachment", "priority", "match", "actions", "cookie", "hard_timeout"]
    return offline_idl(
        {
            "Service": ["name", "flows", "flows_seqno"],
            "Attachment": ["hook"],
            "Service_Flow": [*flow_columns, "openflow_flows", "created", "status", "external_ids"],
        },
        {
            "Service": {SVC: {"name": "s", "flows_seqno": 3}},
            "Attachment": {ATTACHMENT: {"hook": "ls-in-port"}},
        },
    )


def _commit(direct: bool, flows: list[dict[str, Any]]) -> tuple[list[Any], list[dict[str, Any]]]:
    """The operations a transaction inserting ``flows`` sends, and each new row's values before it does."""
    idl = _idl()
    txn = ovs.db.idl.Transaction(idl)
    service = idl.tables["Service"].rows[uuid.UUID(SVC)]
    service.verify("flows_seqno")
    service.flows_seqno = 4
    table = idl.tables["Service_Flow"]
    read = []
    for number, values in enumerate(flows):
        new_uuid = uuid.UUID(int=number + 1)
        if direct:
            row = inserts.insert(txn, table, values, new_uuid)
            assert type(row._changes["match"]) is not ovs.db.data.Datum  # written here, not by python-ovs
        else:
            row = txn.insert(table, new_uuid)
            for name, value in values.items():
                setattr(row, name, value)
        if direct:
            inserts.add_value(service, "flows", row)
        else:
            service.addvalue("flows", row)
        read.append({name: getattr(row, name, "<unset>") for name in table.columns})
    assert txn.commit() == ovs.db.idl.Transaction.INCOMPLETE
    (message,) = idl._session.messages
    return json.loads(json.dumps(message.params)), read


def _flow(**values: Any) -> dict[str, Any]:
    flow: dict[str, Any] = {
        "service": [uuid.UUID(SVC)],
        "priority": 100,
        "match": 'inport == "vm1" && tcp.dst == 80',
        "actions": "drop;",
        "openflow_flows": 2,
        "created": 1_700_000_000_000,
        "status": "pending",
    }
    flow.update(values)
    return flow


FLOWS = [
    [_flow()],
    [_flow(), _flow(priority=0, match="ip4", actions="next;", cookie=-5, hard_timeout=30)],
    [_flow(attachment=[ATTACHMENT])],  # a uuid written as text: python-ovs refuses it, and so here
    [_flow(attachment=[uuid.UUID(ATTACHMENT)], openflow_flows=0, match="")],  # defaults are not sent
    [_flow(service=[], status="installed", external_ids={"a": "b"})],  # a map: python-ovs's own path
    [_flow(priority=70000)],  # out of range: python-ovs logs and drops the write
    [_flow(status="gone")],  # not in the enum
    [_flow(priority=True, created=12.0)],  # a bool is an int to python-ovs; a float goes its way
    [_flow(service=[uuid.UUID(SVC), uuid.UUID(ATTACHMENT)])],  # too many for an optional column
]


@pytest.mark.parametrize("flows", FLOWS)
def test_a_direct_insert_sends_what_python_ovs_sends(flows: list[dict[str, Any]]) -> None:
    assert _commit(True, flows) == _commit(False, flows)


def test_a_direct_insert_refers_to_a_row_by_its_uuid_as_python_ovs_does() -> None:
    idl = _idl()
    attachment = idl.tables["Attachment"].rows[uuid.UUID(ATTACHMENT)]
    flows = [_flow(attachment=[attachment])]
    sent, _ = _commit(True, flows)
    assert sent == _commit(False, flows)[0]
    assert any(op.get("row", {}).get("attachment") == ["uuid", ATTACHMENT] for op in sent[1:])


def test_the_direct_path_is_in_use_only_where_python_ovs_keeps_writes_as_expected() -> None:
    assert inserts.can_write_directly() == inserts.DIRECT
    assert inserts.DIRECT  # the python-ovs this project pins

    class Changed(ovs.db.idl.Transaction):
        def _write(self, row: Any, column: Any, datum: Any, extra: Any = None) -> None: ...

    assert not inserts.can_write_directly(txn_class=Changed)
    assert inserts.can_add_directly() == inserts.ADD_DIRECT
    assert inserts.ADD_DIRECT

    class Other(ovs.db.idl.Row):
        def addvalue(self, column_name: str, key: Any) -> None: ...

    assert not inserts.can_add_directly(Other)


CANDIDATES: list[Any] = [
    0,
    1,
    -1,
    70000,
    True,
    False,
    "",
    "x",
    "pending",
    uuid.UUID(SVC),
    SVC,
    1.5,
    None,
    [],
    [0],
    ["x"],
    ["x", "x"],
    ["x", "y"],
    [uuid.UUID(SVC)],
    [uuid.UUID(SVC), uuid.UUID(ATTACHMENT)],
    [uuid.UUID(SVC), uuid.UUID(SVC)],
    (1, 2),
    {3},
    "x" * 70000,
    65535,
    65536,
    "installed",
    "active",
    -(2**63),
]


def test_every_column_gets_the_datum_python_ovs_builds_or_goes_python_ovs_s_way() -> None:
    helper = schema_helper({})
    helper.register_all()
    idl = ovs.db.idl.Idl("unix:/nonexistent", helper, leader_only=False)
    for table in idl.tables.values():
        for name, column in inserts._columns(table).items():
            for value in CANDIDATES:
                try:
                    expected = ovs.db.data.Datum.from_python(
                        table.columns[name].type, value, ovs.db.idl._row_to_uuid
                    )
                except ovs.db.error.Error:
                    expected = None
                mine = inserts._datum(column, value) if column is not None else None
                if mine is None:
                    continue  # python-ovs's own path
                assert expected is not None, (table.name, name, value)
                assert mine == expected
                assert mine.to_json() == expected.to_json()
                assert mine.is_default() == expected.is_default()


def test_a_constraint_allows_what_python_ovs_allows() -> None:
    types = ovs.db.types
    strings = types.Type(types.BaseType(types.StringType), n_min=1, n_max=sys.maxsize)
    enum = ovs.db.data.Datum.from_json(strings, ["set", ["a", "b"]])
    bases = [
        types.BaseType(types.StringType, min_length=2, max_length=4),
        types.BaseType(types.StringType, enum=enum),
        types.BaseType(types.IntegerType, min=0, max=10),
        types.BaseType(types.IntegerType, min=-3),
        types.BaseType(types.IntegerType, max=3),
        types.BaseType(types.RealType, min=0.5, max=1.5),
        types.BaseType(types.BooleanType),
        types.BaseType(types.UuidType, ref_table_name="Service"),
    ]
    values: list[Any] = ["", "a", "ab", "abcd", "abcde", "b", -4, -3, 0, 3, 4, 10, 11, 0.4, 0.5, 1.5, 2.0]
    values += [True, False, uuid.UUID(SVC)]
    for base in bases:
        allows = inserts._constraints(base)
        for value in values:
            if not isinstance(value, base.type.python_types):
                continue
            try:
                ovs.db.data.Atom(base.type, value).check_constraints(base)
                expected = True
            except ovs.db.error.Error:
                expected = False
            assert allows(value) == expected, (base.type, value)
