"""The gate's filtering, on messages shaped as ovn-northd 23.03 and ovsdb-server send them."""

from __future__ import annotations

import json

import pytest

from ovn_inject.constants import OWNER_KEY
from ovn_inject.gate.filter import ProtocolError, reshape_transact_reply, schema_from_json
from ovn_inject.gate.session import ZERO_TXN_ID, GateSession
from ovn_inject.sandbox.processes import find_schema

MONID = ["monid", "OVN_Southbound"]
DP_A = "6c1b3dd4-6f0e-4f1c-9d61-0d4a1c2b7a01"
DP_B = "7d2c4ee5-7a1f-4a2d-8e72-1e5b2d3c8b02"
HOOK = "cefcf61b-4d00-4b1a-832d-b22a9b0a8d49"
NORTHD_FLOW = "62a9794d-e7f9-4b81-8ad4-be5e3f11e5e7"
TXN = "2f6ac5f4-35bb-4c53-a6a5-6b2bb2a0c3a1"


def raw(message: object) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def flow(datapath: str, marked: bool, priority: int = 1000) -> dict[str, object]:
    ids = [["stage-name", "ls_in_hook_port"]] + ([[OWNER_KEY, "test"]] if marked else [])
    return {
        "logical_datapath": ["uuid", datapath],
        "logical_dp_group": ["set", []],
        "pipeline": "ingress",
        "table_id": 4,
        "priority": priority,
        "match": 'inport == "vm1"',
        "actions": "drop;",
        "external_ids": ["map", ids],
    }


def monitored(schema: bool = True) -> GateSession:
    """A session that saw northd's get_schema and monitor_cond_since, and the initial rows."""
    session = GateSession()
    if schema:
        session.from_client(raw({"id": 4, "method": "get_schema", "params": ["OVN_Southbound"]}))
        sb_schema = json.loads(find_schema("ovn-sb.ovsschema").read_text())
        session.from_server(raw({"id": 4, "result": sb_schema, "error": None}))
    request = {"id": 11, "method": "monitor_cond_since", "params": ["OVN_Southbound", MONID, {}, TXN]}
    sent = json.loads(session.from_client(raw(request)))
    assert sent["params"][3] == ZERO_TXN_ID, "the gate must ask for a full snapshot"
    reply = {
        "id": 11,
        "result": [
            False,
            TXN,
            {
                "Logical_Flow": {
                    HOOK: {"initial": flow(DP_A, marked=True)},
                    NORTHD_FLOW: {"initial": flow(DP_A, marked=False, priority=100)},
                },
                "Datapath_Binding": {DP_A: {"initial": {"tunnel_key": 1}}},
            },
        ],
        "error": None,
    }
    shown = json.loads(session.from_server(raw(reply)))
    assert HOOK not in json.dumps(shown)
    assert NORTHD_FLOW in shown["result"][2]["Logical_Flow"]
    assert shown["result"][:2] == [False, TXN]
    return session


def update3(rows: dict[str, object]) -> bytes:
    return raw({"id": None, "method": "update3", "params": [MONID, TXN, {"Logical_Flow": rows}]})


def test_initial_rows_hide_marked_flows() -> None:
    session = monitored()
    assert session.hidden_count == 1


def test_modify_and_delete_of_a_hidden_row_never_reach_northd() -> None:
    session = monitored()
    emptied = json.loads(session.from_server(update3({HOOK: {"modify": {"priority": 1003}}})))
    assert emptied["method"] == "update3" and emptied["params"][1] == TXN, (
        "emptied updates are still forwarded"
    )
    assert emptied["params"][2] == {}
    gone = json.loads(session.from_server(update3({HOOK: {"delete": None}, NORTHD_FLOW: {"delete": None}})))
    assert gone["params"][2] == {"Logical_Flow": {NORTHD_FLOW: {"delete": None}}}
    assert session.hidden_count == 0


def test_inserted_marked_row_is_hidden_and_unrelated_updates_pass_as_is() -> None:
    session = monitored()
    new_hook = "0a8f1c9e-1111-4222-8333-944455566677"
    shown = json.loads(session.from_server(update3({new_hook: {"insert": flow(DP_B, marked=True)}})))
    assert shown["params"][2] == {}
    untouched = update3({NORTHD_FLOW: {"modify": {"priority": 101}}})
    assert session.from_server(untouched) is untouched, "messages needing no change are forwarded as received"


def test_row_that_becomes_ours_disappears_from_northd() -> None:
    session = monitored()
    marking = {"modify": {"external_ids": ["map", [[OWNER_KEY, "adopted"]]]}}
    shown = json.loads(session.from_server(update3({NORTHD_FLOW: marking})))
    assert shown["params"][2] == {"Logical_Flow": {NORTHD_FLOW: {"delete": None}}}
    assert session.hidden_count == 2


def delete_datapath(datapath: str, request_id: int = 28) -> bytes:
    return raw(
        {
            "id": request_id,
            "method": "transact",
            "params": [
                "OVN_Southbound",
                {"op": "wait", "timeout": 0, "table": "SB_Global", "where": [], "until": "==", "rows": []},
                {"op": "delete", "table": "Datapath_Binding", "where": [["_uuid", "==", ["uuid", datapath]]]},
            ],
        }
    )


@pytest.mark.parametrize("with_schema", [True, False], ids=["schema", "no-schema"])
def test_deleting_a_datapath_deletes_its_hidden_rows_in_the_same_transaction(with_schema: bool) -> None:
    session = monitored(schema=with_schema)
    sent = json.loads(session.from_client(delete_datapath(DP_A)))
    assert sent["params"][:3] == json.loads(delete_datapath(DP_A))["params"]
    assert sent["params"][3:] == [
        {"op": "delete", "table": "Logical_Flow", "where": [["_uuid", "==", ["uuid", HOOK]]]}
    ]
    reply = json.loads(
        session.from_server(raw({"id": 28, "result": [{}, {"count": 1}, {"count": 1}], "error": None}))
    )
    assert reply["result"] == [{}, {"count": 1}], "northd must get the reply its own transaction would get"


def test_other_deletes_pass_unchanged() -> None:
    session = monitored()
    message = delete_datapath(DP_B)
    assert session.from_client(message) is message


def test_reference_moves_with_a_modify_when_the_schema_is_known() -> None:
    session = monitored()
    moved = {"modify": {"logical_datapath": ["set", [["uuid", DP_A], ["uuid", DP_B]]]}}
    session.from_server(update3({HOOK: moved}))
    assert session.from_client(delete_datapath(DP_A)) == delete_datapath(DP_A)
    assert HOOK in session.from_client(delete_datapath(DP_B, request_id=29)).decode()


def test_commit_error_stays_at_the_end_of_a_reshaped_reply() -> None:
    error = {"error": "referential integrity violation", "details": "..."}
    assert reshape_transact_reply([{}, {"count": 1}, {"count": 2}, error], 2, 1) == [{}, {"count": 1}, error]
    assert reshape_transact_reply([{"error": "timed out"}, None, None], 2, 1) == [
        {"error": "timed out"},
        None,
    ]


def test_form_1_monitor_and_monitor_cond_replies_are_filtered() -> None:
    session = GateSession()
    session.from_client(raw({"id": 1, "method": "monitor", "params": ["OVN_Southbound", "m1", {}]}))
    reply = {"id": 1, "result": {"Logical_Flow": {HOOK: {"new": flow(DP_A, True)}}}, "error": None}
    assert json.loads(session.from_server(raw(reply)))["result"] == {}
    gone = {"id": None, "method": "update", "params": ["m1", {"Logical_Flow": {HOOK: {"old": {}}}}]}
    assert json.loads(session.from_server(raw(gone)))["params"][1] == {}
    session.from_client(raw({"id": 2, "method": "monitor_cond", "params": ["OVN_Southbound", "m2", {}]}))
    reply = {"id": 2, "result": {"Logical_Flow": {HOOK: {"initial": flow(DP_A, True)}}}, "error": None}
    assert json.loads(session.from_server(raw(reply)))["result"] == {}


@pytest.mark.parametrize(
    "message",
    [
        {"id": 6, "method": "lock", "params": ["ovn_northd"]},
        {"id": "echo", "method": "echo", "params": []},
        {"id": 9, "method": "set_db_change_aware", "params": [True]},
    ],
)
def test_other_requests_pass_through_unchanged(message: dict[str, object]) -> None:
    session = monitored()
    data = raw(message)
    assert session.from_client(data) is data


def test_protocol_violations_are_errors() -> None:
    session = monitored()
    with pytest.raises(ProtocolError, match="malformed JSON"):
        session.from_server(b'{"id": 1, "result": [1,}')
    with pytest.raises(ProtocolError, match="unknown monitor"):
        session.from_server(raw({"id": None, "method": "update3", "params": [["nope"], TXN, {}]}))
    with pytest.raises(ProtocolError, match="must be an object"):
        session.from_client(b'["monitor"]')


def test_schema_knows_strong_references() -> None:
    schema = schema_from_json(json.loads(find_schema("ovn-sb.ovsschema").read_text()))
    columns = schema.ref_columns["Logical_Flow"]
    assert set(columns) == {"logical_datapath", "logical_dp_group"}
    assert columns["logical_datapath"].kind == "set"
    assert "Logical_DP_Group" not in schema.ref_columns, "datapaths of a group are weak references"


def test_large_messages_are_decoded_only_when_they_name_a_hidden_row() -> None:
    session = monitored()
    rows = {f"{n:08x}-0000-4000-8000-000000000000": {"insert": flow(DP_B, False)} for n in range(1000)}
    large = update3(rows)
    assert len(large) > 64 * 1024
    assert session.from_server(large) is large
    rows[HOOK] = {"modify": {"priority": 7}}
    filtered = json.loads(session.from_server(update3(rows)))
    assert HOOK not in filtered["params"][2]["Logical_Flow"]
    assert len(filtered["params"][2]["Logical_Flow"]) == 1000


def test_schema_is_learnt_from_server_database_rows() -> None:
    """ovn-northd 23.03 reads SB's schema from _Server, so the gate must too."""
    session = GateSession()
    request = {"id": 10, "method": "monitor_cond", "params": ["_Server", ["monid", "_Server"], {}]}
    session.from_client(raw(request))
    schema_text = find_schema("ovn-sb.ovsschema").read_text()
    row = {"name": "OVN_Southbound", "model": "standalone", "leader": True, "schema": schema_text}
    reply = raw({"id": 10, "result": {"Database": {DP_A: {"initial": row}}}, "error": None})
    assert session.from_server(reply) is reply
    assert "Logical_Flow" in session.schemas["OVN_Southbound"].ref_columns


@pytest.mark.parametrize("hidden_rows", [1, 40])
@pytest.mark.parametrize("compact", [True, False])
def test_large_update_touching_one_of_many_hidden_rows(hidden_rows: int, compact: bool) -> None:
    session = monitored()
    extra = {f"{n:08x}-1111-4000-8000-000000000000": {"insert": flow(DP_B, True)} for n in range(hidden_rows)}
    session.from_server(update3(extra))
    assert session.hidden_count == hidden_rows + 1
    rows = {f"{n:08x}-0000-4000-8000-000000000000": {"insert": flow(DP_B, False)} for n in range(1000)}
    separators = (",", ":") if compact else (", ", ": ")
    untouched = json.dumps(
        {"id": None, "method": "update3", "params": [MONID, TXN, {"Logical_Flow": rows}]},
        separators=separators,
    ).encode()
    assert session.from_server(untouched) is untouched
    rows[HOOK] = {"delete": None}
    touching = json.dumps(
        {"id": None, "method": "update3", "params": [MONID, TXN, {"Logical_Flow": rows}]},
        separators=separators,
    ).encode()
    assert HOOK not in session.from_server(touching).decode()


def test_large_transaction_is_rewritten_only_when_it_deletes_a_referenced_row() -> None:
    session = monitored()
    group = {"op": "insert", "table": "Logical_DP_Group", "row": {"datapaths": ["set", [["uuid", DP_A]]]}}
    params: list[object] = ["OVN_Southbound", *[group] * 2000]
    mentions = raw({"id": 40, "method": "transact", "params": params})
    assert len(mentions) > 64 * 1024
    assert session.from_client(mentions) is mentions
    delete = {"op": "delete", "table": "Datapath_Binding", "where": [["_uuid", "==", ["uuid", DP_A]]]}
    deletes = raw({"id": 41, "method": "transact", "params": [*params, delete]})
    assert HOOK in session.from_client(deletes).decode()


def test_monitor_cond_change_keeps_hiding_under_the_new_id_and_cancel_forgets() -> None:
    session = monitored()
    new_id = ["monid2", "OVN_Southbound"]
    session.from_client(raw({"id": 50, "method": "monitor_cond_change", "params": [MONID, new_id, {}]}))
    session.from_server(raw({"id": 50, "result": {}, "error": None}))
    update = {
        "id": None,
        "method": "update3",
        "params": [new_id, TXN, {"Logical_Flow": {HOOK: {"delete": None}}}],
    }
    assert json.loads(session.from_server(raw(update)))["params"][2] == {}
    with pytest.raises(ProtocolError, match="unknown monitor"):
        session.from_server(update3({}))
    session.from_client(raw({"id": 51, "method": "monitor_cancel", "params": [new_id]}))
    session.from_server(raw({"id": 51, "result": {}, "error": None}))
    assert session.monitors == {}
