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

A pass that only adds rows streams them (:class:`Stream`): the output
contract hands over each service's rows as soon as they are decided, and
full batches go to SB at once, with no wait for the previous one's reply,
so that ovsdb-server takes them on the other core while the daemon checks
the rest. What is left goes as a last batch, with the rare deletion.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import ovs.db.idl

from ovn_inject.core.compiler import LogicalFlow
from ovn_inject.core.diff import Delta

LOG = logging.getLogger(__name__)
BATCH = 20_000
#: Rows per transaction that a Stream sends while the pass goes on.
STREAM_BATCH = 1_000
#: A Stream reads SB's replies after this many rows: ovsdb-server takes no request from a
#: client that has not read what it sent, and the echo of a batch fills the socket.
STREAM_READ_ROWS = 250
_DONE = (ovs.db.idl.Transaction.SUCCESS, ovs.db.idl.Transaction.UNCHANGED)


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
        if status not in _DONE:
            return sent, _failure(txn, status)
        sent += ops_in_batch
    return sent, None


def _failure(txn: ovs.db.idl.Transaction, status: str) -> str:
    error = txn.get_error()
    return f"{status}: {error}" if error and error != status else status


def stream_for(idl: ovs.db.idl.Idl, wanted: Mapping[uuid.UUID, LogicalFlow]) -> Stream | None:
    """A writer for the rows of a pass as the contract decides them, if the pass only adds rows.

    When every row SB holds is still ``wanted`` (as compiled, before the
    contract), the contract can only remove one of them (rarely: a verdict
    that changed), and that deletion goes with the last rows. Otherwise rows
    are replaced (a chain renumbered, a flow changed): they all go in one
    transaction, old and new never side by side.
    """
    if not set(idl.tables["Logical_Flow"].rows) <= wanted.keys():
        return None
    return Stream(idl)


class Stream:
    """Inserts sent to SB in batches while the pass still computes the rest.

    Only for a pass that replaces none of SB's rows (see :func:`stream_for`):
    until the pass ends, SB holds what it held plus some of the new rows,
    never a mix of old rows and their replacements. The rows of one
    :meth:`add` (one service's) go in one transaction, so a service's rows
    appear together. After a batch failed no other is sent; :meth:`finish`
    reports it, and the caller resyncs without writing statuses, as after
    any failed SB transaction: the next pass diffs from what SB then holds.
    """

    def __init__(self, idl: ovs.db.idl.Idl, batch: int = STREAM_BATCH) -> None:
        self._idl = idl
        self._present = idl.tables["Logical_Flow"].rows
        self._datapaths = {str(key) for key in idl.tables["Datapath_Binding"].rows}
        self._batch = batch
        self._ops: list[dict[str, Any]] = []
        self._deletes = 0  # of the ops not sent yet
        self._sent: list[tuple[ovs.db.idl.Transaction, int, int]] = []  # (txn, inserts, deletes)
        self._unread = 0
        self.error: str | None = None
        self.inserted = self.deleted = 0  # rows SB took

    def add(self, flows: Iterable[LogicalFlow]) -> None:
        """Rows that the pass will keep; sent once a batch is full."""
        if self.error is not None:
            return
        for flow in flows:
            if flow.uuid not in self._present and flow.datapath in self._datapaths:
                self._ops.append(insert_op(flow))
                self._unread += 1
        if len(self._ops) >= self._batch:
            self._send()
        if self._sent and self._unread >= STREAM_READ_ROWS:
            self._unread = 0
            self._idl.run()
            self._check()

    def _send(self) -> None:
        txn = ovs.db.idl.Transaction(self._idl)
        for op in self._ops:
            txn.add_op(op)
        status = txn.commit()
        if status == ovs.db.idl.Transaction.INCOMPLETE:
            self._sent.append((txn, len(self._ops) - self._deletes, self._deletes))
        elif status not in _DONE:
            self.error = _failure(txn, status)
        self._ops = []
        self._deletes = 0

    def _check(self) -> None:
        for txn, _, _ in self._sent:
            status = txn.commit()  # not blocking: the reply, if it came, was read by run()
            if status not in (*_DONE, ovs.db.idl.Transaction.INCOMPLETE):
                self.error = self.error or _failure(txn, status)

    def finish(self, delete: Iterable[uuid.UUID] = ()) -> str | None:
        """Send the rest with the rows to ``delete``, wait for every batch; say why one failed (None: none).

        The rest goes at once, in the batch's shadow: the caller's diff then
        finds nothing left (but rows whose datapath went meanwhile).
        """
        if self.error is None:
            for row in delete:
                if row in self._present:
                    self._ops.append(delete_op(row))
                    self._deletes += 1
            if self._ops:
                self._send()
        for txn, inserts, deletes in self._sent:
            status = txn.commit_block()
            if status in _DONE:
                self.inserted += inserts
                self.deleted += deletes
            else:
                self.error = self.error or _failure(txn, status)
        return self.error
