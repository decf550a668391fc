"""Applying a Delta to SB Logical_Flow through the daemon's SB IDL.

Rows are inserted with their content-derived uuid (the insert's ``uuid``),
so the same flow always has the same row, across restarts and failovers.
The operations are written as OVSDB JSON directly (``Transaction.add_op``),
not through IDL rows: a cold start inserts tens of thousands of rows, and
building each through the IDL (a checked Python datum per column) cost more
than the server's work. The daemon monitors only the rows' uuids (see
northd.sources), so the echo of the inserts is cheap too. Large deltas go
in batches so that no transaction grows without bound; the IDL adds an
``assert`` of our lock to each, so a daemon that lost the lock cannot write.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import ovs.db.idl

from ovn_inject.core.compiler import LogicalFlow
from ovn_inject.core.diff import Delta
from ovn_inject.errors import OvnInjectError

LOG = logging.getLogger(__name__)
BATCH = 20_000


class WriteError(OvnInjectError):
    pass


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_op(flow: LogicalFlow) -> dict[str, Any]:
    """The OVSDB ``insert`` of one hook lflow, with its own uuid."""
    return {
        "op": "insert",
        "table": "Logical_Flow",
        "uuid": str(flow.uuid),
        "row": {
            "logical_datapath": ["uuid", flow.datapath],
            "pipeline": flow.pipeline,
            "table_id": flow.table_id,
            "priority": flow.priority,
            "match": flow.match,
            "actions": flow.actions,
            "external_ids": ["map", [list(pair) for pair in flow.external_ids]],
        },
    }


def apply(idl: ovs.db.idl.Idl, delta: Delta) -> int:
    """Write ``delta``; return the number of row operations sent."""
    ops: list[tuple[str, Any]] = [("delete", u) for u in delta.delete]
    ops += [("insert", flow) for flow in delta.insert]
    rows = idl.tables["Logical_Flow"].rows
    datapaths = idl.tables["Datapath_Binding"].rows
    sent = 0
    for batch in _chunks(ops, BATCH):
        txn = ovs.db.idl.Transaction(idl)
        for kind, item in batch:
            if kind == "delete":
                if item in rows:
                    txn.add_op(
                        {
                            "op": "delete",
                            "table": "Logical_Flow",
                            "where": [["_uuid", "==", ["uuid", str(item)]]],
                        }
                    )
                    sent += 1
                continue
            flow: LogicalFlow = item
            if uuid.UUID(flow.datapath) not in datapaths:
                continue  # northd removed it meanwhile; the next pass recompiles
            txn.add_op(insert_op(flow))
            sent += 1
        status = txn.commit_block()
        if status not in (ovs.db.idl.Transaction.SUCCESS, ovs.db.idl.Transaction.UNCHANGED):
            raise WriteError(f"SB transaction failed ({status}): {txn.get_error()}")
    return sent
