"""SB rows sent while a pass still computes: the output contract decides, the server takes them.

A cold start compiled, checked and only then sent its 11,000 inserts, and
waited while SB took them: the pass ran on one core. A pass that replaces
none of SB's rows (see :func:`stream_for`) now hands each service's rows to
a :class:`Stream` as soon as the contract has decided them; full batches go
at once, with no wait for the previous one's reply, so that ovsdb-server
takes them on the other core while the daemon checks the rest. What is left
goes last, with the rare deletion.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterable, Mapping

import ovs.db.idl
import ovs.poller

from ovn_inject.core.compiler import LogicalFlow
from ovn_inject.northd.sbwriter import DONE, delete_op, failure, insert_op

#: Rows per transaction sent while the pass goes on.
BATCH = 1_000
#: The connection is read after this many rows: ovsdb-server takes no request from a client that
#: has not read what it sent, and the echo of a batch fills the socket.
READ_ROWS = 250
#: Bytes of requests left unsent on the connection above which no batch is added: python-ovs
#: copies all of them on every write, which grows quadratic when the daemon outruns the server.
BACKLOG = 1 << 20

#: What a Stream holds until it sends it: rows to insert, uuids of rows to delete.
Group = list[LogicalFlow] | list[uuid.UUID]


def stream_for(idl: ovs.db.idl.Idl, wanted: Mapping[uuid.UUID, LogicalFlow]) -> Stream | None:
    """A stream for the rows of a pass, if the pass only adds rows.

    When every row SB holds is still ``wanted`` (as compiled, before the
    contract), the contract can only remove one of them (rarely: a verdict
    that changed), and that deletion goes with the last rows. Otherwise rows
    are replaced (a chain renumbered, a flow changed): they all go in one
    transaction (sbwriter.apply), old and new never side by side.
    """
    if not set(idl.tables["Logical_Flow"].rows) <= wanted.keys():
        return None
    return Stream(idl)


class Stream:
    """Inserts sent to SB in batches while the pass still computes the rest.

    Until the pass ends, SB holds what it held plus some of the new rows,
    never a mix of old rows and their replacements. The rows of one
    :meth:`add` (one service's) go in one transaction, so a service's rows
    appear together. After a batch failed no other is sent; :meth:`finish`
    reports it, and the caller resyncs without writing statuses, as after
    any failed SB transaction: the next pass diffs from what SB then holds.
    """

    def __init__(self, idl: ovs.db.idl.Idl, batch: int = BATCH) -> None:
        self._idl = idl
        self._present = idl.tables["Logical_Flow"].rows
        self._datapaths = {str(key) for key in idl.tables["Datapath_Binding"].rows}
        self._batch = batch
        self._waiting: deque[Group] = deque()  # one per add() (deletions last), not sent yet
        self._count = 0  # rows in _waiting
        self._sent: list[tuple[ovs.db.idl.Transaction, int, int]] = []  # (txn, inserts, deletes)
        self._unread = 0
        self.error: str | None = None
        self.inserted = self.deleted = 0  # rows SB took

    def add(self, flows: Iterable[LogicalFlow]) -> None:
        """Rows that the pass will keep; sent once a batch is full."""
        if self.error is not None:
            return
        new = [f for f in flows if f.uuid not in self._present and f.datapath in self._datapaths]
        if new:
            self._waiting.append(new)
            self._count += len(new)
            self._unread += len(new)
        self._send(self._batch)
        if self._sent and self._unread >= READ_ROWS:
            self._unread = 0
            self._idl.run()
            self._check()

    def _send(self, least: int) -> None:
        """Send batches of at least ``least`` operations while the connection keeps up."""
        session = self._idl._session  # python-ovs's jsonrpc.Session: what it has not written yet
        while self.error is None and self._count >= least and session.get_backlog() < BACKLOG:
            txn = ovs.db.idl.Transaction(self._idl)
            inserts = deletes = 0
            while self._waiting and inserts + deletes < self._batch:
                for row in self._waiting.popleft():
                    if isinstance(row, LogicalFlow):
                        txn.add_op(insert_op(row))  # built now: a row waiting costs no JSON
                        inserts += 1
                    else:
                        txn.add_op(delete_op(row))
                        deletes += 1
            self._count -= inserts + deletes
            status = txn.commit()
            # python-ovs keeps a transaction's operations as long as the transaction, which waits
            # here for its reply: 150 MB of them at 100,000 flows. Only the reply matters now.
            txn._operations = []
            if status == ovs.db.idl.Transaction.INCOMPLETE:
                self._sent.append((txn, inserts, deletes))
            elif status not in DONE:
                self.error = failure(txn, status)

    def _check(self) -> None:
        for txn, _, _ in self._sent:
            status = txn.commit()  # not blocking: the reply, if it came, was read by run()
            if status not in (*DONE, ovs.db.idl.Transaction.INCOMPLETE):
                self.error = self.error or failure(txn, status)

    def finish(self, delete: Iterable[uuid.UUID] = ()) -> str | None:
        """Send the rest with the rows to ``delete``, wait for every batch; say why one failed (None: none).

        The caller's diff then finds nothing left (but rows whose datapath
        went meanwhile).
        """
        if self.error is None:
            gone = [row for row in delete if row in self._present]
            if gone:
                self._waiting.append(gone)
                self._count += len(gone)
        while self.error is None and self._count:
            self._send(1)
            if self._count:  # held back until the server reads what is queued
                poller = ovs.poller.Poller()
                self._idl.wait(poller)
                poller.block()
                self._idl.run()
                self._check()
        for txn, inserts, deletes in self._sent:
            status = txn.commit_block()
            if status in DONE:
                self.inserted += inserts
                self.deleted += deletes
            else:
                self.error = self.error or failure(txn, status)
        return self.error
