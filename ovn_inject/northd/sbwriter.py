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
A batch that fails is reported, not raised: the caller resyncs and diffs
again, and a batch that did commit although its reply was lost
(``duplicate uuid`` on the retry) then simply no longer differs.

A pass that only adds rows sends them while it still computes instead
(northd.sbstream).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import ovs.db.idl

from ovn_inject.core.compiler import LogicalFlow
from ovn_inject.core.diff import Delta

LOG = logging.getLogger(__name__)
BATCH = 20_000
DONE = (ovs.db.idl.Transaction.SUCCESS, ovs.db.idl.Transaction.UNCHANGED)


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


def delete_op(row: uuid.UUID) -> dict[str, Any]:
    return {"op": "delete", "table": "Logical_Flow", "where": [["_uuid", "==", ["uuid", str(row)]]]}


def apply(idl: ovs.db.idl.Idl, delta: Delta) -> tuple[int, str | None]:
    """Write ``delta``; return the row operations committed and why a batch failed (None: none did).

    Batches after a failed one are not sent: SB is then as far along as the
    batches before it, which the next diff takes from there.
    """
    ops: list[tuple[str, Any]] = [("delete", u) for u in delta.delete]
    ops += [("insert", flow) for flow in delta.insert]
    rows = idl.tables["Logical_Flow"].rows
    datapaths = {str(key) for key in idl.tables["Datapath_Binding"].rows}  # not a uuid parsed per row
    sent = 0
    for batch in _chunks(ops, BATCH):
        ops_in_batch = 0
        txn = ovs.db.idl.Transaction(idl)
        for kind, item in batch:
            if kind == "delete":
                if item in rows:
                    txn.add_op(delete_op(item))
                    ops_in_batch += 1
                continue
            flow: LogicalFlow = item
            if flow.datapath not in datapaths:
                continue  # northd removed it meanwhile; the next pass recompiles
            txn.add_op(insert_op(flow))
            ops_in_batch += 1
        status = txn.commit_block()
        if status not in DONE:
            return sent, failure(txn, status)
        sent += ops_in_batch
    return sent, None


def failure(txn: ovs.db.idl.Transaction, status: str) -> str:
    error = txn.get_error()
    return f"{status}: {error}" if error and error != status else status
