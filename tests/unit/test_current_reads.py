"""Reads in ovsdbapp's thread that skip python-ovs's work give what python-ovs's getattr and
ovsdbapp's lookup give, in and out of a transaction."""

from __future__ import annotations

import threading
import uuid
from types import SimpleNamespace
from typing import Any

import ovs.db.idl
import pytest

from ovn_inject.db import tokenguard
from ovn_inject.db.impl_idl import InjectDbApiIdlImpl
from ovn_inject.db.rows import current
from tests.unit.idlreplay import schema_helper

SVC, ATT, GONE, TOKEN, OTHER = (str(uuid.uuid4()) for _ in range(5))
COLUMNS = ["name", "enabled", "attachments", "flows", "options", "openflow_targets", "flows_seqno"]


def _idl() -> Any:
    helper = schema_helper(
        {
            "Service": COLUMNS,
            "Attachment": ["hook"],
            "Service_Flow": ["priority"],
            "Token": ["public_id", "secret_hash"],
        }
    )
    idl = ovs.db.idl.Idl("unix:/nonexistent", helper, leader_only=False)
    update = {
        "Service": {
            SVC: {
                "initial": {
                    "name": "s",
                    "attachments": ["set", [["uuid", ATT], ["uuid", GONE]]],  # one names no row
                    "options": ["map", [["max_flows", "9"], ["b", "c"]]],
                    "openflow_targets": ["set", ["ptcp:1", "tcp:2"]],
                    "flows_seqno": 3,
                }
            }
        },
        "Attachment": {ATT: {"initial": {"hook": "h"}}},
        "Token": {
            TOKEN: {"initial": {"public_id": "0123456789abcdef", "secret_hash": "x"}},
            OTHER: {"initial": {"public_id": "fedcba9876543210", "secret_hash": "y"}},
        },
    }
    idl._Idl__parse_update(update, ovs.db.idl.OVSDB_UPDATE3)
    return idl


def _same(row: Any) -> None:
    for column in COLUMNS:
        assert current(row, column) == getattr(row, column), column


def test_a_column_reads_as_getattr_reads_it_in_and_out_of_a_transaction() -> None:
    idl = _idl()
    service = idl.tables["Service"].rows[uuid.UUID(SVC)]
    _same(service)
    txn = ovs.db.idl.Transaction(idl)
    _same(service)
    service.verify("flows_seqno")
    service.flows_seqno = 4
    service.setkey("options", "max_flows", "10")
    service.addvalue("openflow_targets", "ptcp:3")
    attachment = idl.tables["Attachment"].rows[uuid.UUID(ATT)]
    service.delvalue("attachments", attachment)
    new = txn.insert(idl.tables["Service"])
    new.name = "n"
    service.addvalue("flows", uuid.uuid4())
    _same(service)
    assert current(service, "flows_seqno") == 4
    assert current(service, "options")["max_flows"] == "10"
    assert current(new, "name") == "n"
    with pytest.raises(AttributeError):
        current(service, "nope")
    txn.abort()
    _same(service)


def test_a_token_is_found_as_ovsdbapp_finds_it() -> None:
    idl = _idl()
    api = _api(idl)
    for public_id in ("0123456789abcdef", "fedcba9876543210", "0123456789abcdef", "nope", TOKEN):
        found = tokenguard.token_row(api, public_id)
        assert found is api.lookup("Token", public_id, default=None), public_id
    # a token revoked (the row deleted) is not found any more, though it was found before
    idl._Idl__parse_update({"Token": {TOKEN: {"delete": None}}}, ovs.db.idl.OVSDB_UPDATE3)
    assert tokenguard.token_row(api, "0123456789abcdef") is None
    assert tokenguard.token_row(api, "fedcba9876543210") is idl.tables["Token"].rows[uuid.UUID(OTHER)]


def _api(idl: Any) -> Any:
    """The project's ovsdbapp backend on a bare IDL (its lookup is the oracle)."""
    connection = SimpleNamespace(idl=idl, is_running=True, lock=threading.RLock(), timeout=1)
    return InjectDbApiIdlImpl(connection, start=False)
