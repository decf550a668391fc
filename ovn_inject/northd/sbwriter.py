"""Applying a Delta to SB Logical_Flow through the daemon's SB IDL.

Rows are inserted with their content-derived uuid (``persist_uuid``), so the
same flow always has the same row, across restarts and failovers. Large
deltas go in batches so that no transaction grows without bound; the IDL
adds an ``assert`` of our lock to each, so a daemon that lost the lock
cannot write.
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
BATCH = 4000


class WriteError(OvnInjectError):
    pass


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def apply(idl: ovs.db.idl.Idl, delta: Delta) -> int:
    """Write ``delta``; return the number of row operations sent."""
    ops: list[tuple[str, Any]] = [("delete", u) for u in delta.delete]
    ops += [("insert", flow) for flow in delta.insert]
    table = idl.tables["Logical_Flow"]
    datapaths = idl.tables["Datapath_Binding"].rows
    sent = 0
    for batch in _chunks(ops, BATCH):
        txn = ovs.db.idl.Transaction(idl)
        for kind, item in batch:
            if kind == "delete":
                row = table.rows.get(item)
                if row is not None:
                    row.delete()
                    sent += 1
                continue
            flow: LogicalFlow = item
            datapath = datapaths.get(uuid.UUID(flow.datapath))
            if datapath is None:
                continue  # northd removed it meanwhile; the next pass recompiles
            row = txn.insert(table, new_uuid=flow.uuid, persist_uuid=True)
            row.logical_datapath = datapath
            row.pipeline = flow.pipeline
            row.table_id = flow.table_id
            row.priority = flow.priority
            row.match = flow.match
            row.actions = flow.actions
            row.external_ids = dict(flow.external_ids)
            sent += 1
        status = txn.commit_block()
        if status not in (ovs.db.idl.Transaction.SUCCESS, ovs.db.idl.Transaction.UNCHANGED):
            raise WriteError(f"SB transaction failed ({status}): {txn.get_error()}")
    return sent
