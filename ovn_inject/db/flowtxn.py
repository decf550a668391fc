"""A group of flow adds as one OVN_Inject transaction whose new rows are written as plain JSON operations.

python-ovs builds, for every row a transaction inserts, a Row and a checked
Datum per column, then the transaction's JSON from them, then walks that JSON
to replace each new row's temporary uuid. For the gateway's group commit of
single-flow writes that was most of ovsdbapp's thread per flow (py-spy:
insert_flows 31%, Transaction.commit 21% of it). Here the new flows, and the
service's ``flows`` growing by them, are operations built as dicts and given
to python-ovs's transaction with its public ``add_op``; everything else stays
python-ovs's and the commands': each write's checks (:meth:`FlowAddCommand.check`),
the token's and ``flows_seqno``'s verify, the ``flows_seqno`` and ``cfg``
bumps, TRY_AGAIN and its retry, the reply's reading. A wait operation per
attachment bound also makes a concurrent attach-del retry the transaction
(the flow would otherwise lose its weak reference and apply everywhere).

Used only where python-ovs is as expected (:data:`AVAILABLE`: the one private
method relied on is ``Transaction._process_reply(msg)``, which keeps the
reply's results for the new rows' uuids) and the schema has ``flows_seqno``;
anything else, and a value a column's constraints refuse, goes through
python-ovs's rows as before (:func:`suits`, :class:`Unsuitable`).

A write is answered once the IDL shows it: after the reply, ovsdbapp's thread
runs the IDL until every service written to shows the ``flows_seqno`` this
transaction set (or a later one), so the next group's checks and the
caller's read of its flows see the new rows.
"""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import ovs.db.idl
import ovs.jsonrpc
import ovs.poller
from ovsdbapp import exceptions
from ovsdbapp.backend.ovs_idl import idlutils
from ovsdbapp.backend.ovs_idl import transaction as ovsdbapp_transaction

from ovn_inject.core.validate import ValidFlow
from ovn_inject.db import inserts
from ovn_inject.db.commands import now_ms
from ovn_inject.db.flow_commands import FlowAddCommand, bound_attachments
from ovn_inject.db.flowrow import flow_columns
from ovn_inject.db.rows import FLOWS_VERSION, Staged, bump_flows, committed_scalar, current

Row = Any  # an ovs.db.idl.Row


def can_keep_reply(txn_class: type = ovs.db.idl.Transaction, idl_class: type = ovs.db.idl.Idl) -> bool:
    """Whether python-ovs hands a transaction's reply to ``Transaction._process_reply(msg)`` (which
    :class:`_Transaction` extends to keep the results) and has ``add_op``."""
    process = getattr(txn_class.__dict__.get("_process_reply"), "__code__", None)
    dispatch = getattr(idl_class.__dict__.get("_Idl__txn_process_reply"), "__code__", None)
    return (
        callable(txn_class.__dict__.get("add_op"))
        and process is not None
        and tuple(process.co_varnames[: process.co_argcount]) == ("self", "msg")
        and dispatch is not None
        and "_process_reply" in dispatch.co_names
    )


AVAILABLE = can_keep_reply()


class Unsuitable(Exception):
    """A value the raw operations would send unchecked: the group goes through python-ovs's rows."""


def suits(api: Any, commands: Sequence[Any]) -> bool:
    """Whether a group of these commands can be committed here (flow adds only)."""
    return (
        AVAILABLE
        and bool(commands)
        and all(type(command) is FlowAddCommand for command in commands)
        and FLOWS_VERSION in api.tables["Service"].columns
    )


class _Transaction(ovs.db.idl.Transaction):
    """python-ovs's transaction, keeping the results of its reply (python-ovs reads them as ever)."""

    results: list[Any] | None = None

    def _process_reply(self, msg: Any) -> None:
        if msg.type == ovs.jsonrpc.Message.T_REPLY and isinstance(msg.result, list):
            self.results = msg.result
        super()._process_reply(msg)


def _checks(table: Any) -> dict[str, Callable[[Any], bool]]:
    """The constraint test of each atomic column of ``table`` (python-ovs's, see db.inserts)."""
    return {name: column.allows for name, column in inserts.columns_of(table).items() if column is not None}


class FlowOps:
    """The operations that insert a transaction's new flows and add them to their services."""

    def __init__(self, table: Any) -> None:
        self._checks = _checks(table)
        self._inserts: list[dict[str, Any]] = []
        self._added: dict[str, list[list[str]]] = {}  # service uuid -> the named uuids it gains
        self._attachments: set[str] = set()
        self._created = now_ms()
        #: The flows_seqno each service written to has once this transaction commits.
        self.seqnos: dict[uuid.UUID, int] = {}

    def __len__(self) -> int:
        return len(self._inserts)

    def insert(self, service: str, flows: Sequence[ValidFlow]) -> tuple[int, int]:
        """Insert ``flows`` into the service (uuid); return where their inserts are among all."""
        start = len(self._inserts)
        added = self._added.setdefault(service, [])
        reference = ["uuid", service]
        allows = self._checks
        for flow in flows:
            name = f"flow{len(self._inserts)}"
            # The columns insert_flows writes, as python-ovs sends them (tests/unit/test_flowtxn.py).
            row: dict[str, Any] = {"service": reference}
            if flow.attachment is not None:
                row["attachment"] = ["uuid", flow.attachment]
                self._attachments.add(flow.attachment)
            row.update(flow_columns(flow, self._created))
            for column, value in row.items():
                if type(value) in (int, str) and not allows[column](value):
                    raise Unsuitable(column)
            self._inserts.append({"op": "insert", "table": "Service_Flow", "row": row, "uuid-name": name})
            added.append(["named-uuid", name])
        return start, len(self._inserts)

    def operations(self) -> list[dict[str, Any]]:
        """The inserts, then each service's ``flows`` mutation, then a guard per attachment bound."""
        ops = list(self._inserts)
        for service, added in self._added.items():
            ops.append(
                {
                    "op": "mutate",
                    "table": "Service",
                    "where": [["_uuid", "==", ["uuid", service]]],
                    "mutations": [["flows", "insert", ["set", added]]],
                }
            )
        for attachment in sorted(self._attachments):
            ops.append(
                {
                    "op": "wait",
                    "timeout": 0,
                    "table": "Attachment",
                    "where": [["_uuid", "==", ["uuid", attachment]]],
                    "columns": ["_uuid"],
                    "until": "==",
                    "rows": [{"_uuid": ["uuid", attachment]}],
                }
            )
        return ops

    def uuids(self, results: list[Any], sent: int) -> list[uuid.UUID]:
        """The new rows' uuids, in order, from the results of a transaction whose last ``sent``
        operations were :meth:`operations` (python-ovs puts those added with add_op last)."""
        first = len(results) - sent
        return [uuid.UUID(results[first + i]["uuid"][1]) for i in range(len(self._inserts))]


def add_flows(command: FlowAddCommand, ops: FlowOps, staged: Staged) -> tuple[int, int]:
    """:meth:`FlowAddCommand.run_idl` with its rows added to ``ops``: the same checks, in the same order."""
    command.staged = staged
    service, adding = command.check(staged)
    bound_attachments(service, command.flows, staged)
    where = ops.insert(str(service.uuid), command.flows)
    bump_flows(service, staged)
    ops.seqnos[service.uuid] = int(current(service, FLOWS_VERSION))
    staged.add(service.uuid, ((f.attachment, f.priority, f.match) for f in command.flows), adding)
    return where


class FlowGroupTransaction(ovsdbapp_transaction.Transaction):
    """ovsdbapp's transaction (queued to its thread, retried on TRY_AGAIN) of one group command whose
    ``run_raw(txn, ops)`` adds its flows to ``ops``, and ``answer(uuids)`` takes their uuids."""

    def __init__(self, api: Any, command: Any) -> None:
        # Not ovsdbapp's __init__: its result queue (a queue.Queue, three Conditions) cost the
        # committer half its CPU per group, and its put a sixth of ovsdbapp's thread's. A
        # SimpleQueue has the put and get(timeout) that ovsdbapp's thread and commit() use.
        self.api = api
        self.ovsdb_connection = api.ovsdb_connection
        self.timeout = self.ovsdb_connection.timeout
        self.check_error = True
        self.log_errors = False
        self.commands = [command]
        self.results: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def commit(self) -> Any:
        """ovsdbapp's commit (queue, wait for the result, raise an error as it is) on the SimpleQueue."""
        self.ovsdb_connection.queue_txn(self)
        try:
            result = self.results.get(timeout=self.timeout)
        except queue.Empty as exc:
            raise exceptions.TimeoutException(
                commands=self.commands, timeout=self.timeout, cause="Result queue is empty"
            ) from exc
        if isinstance(result, idlutils.ExceptionResult):
            raise result.ex
        return result

    def do_commit(self) -> Any:
        """ovsdbapp's do_commit, for the one command, with its operations and the wait for the echo."""
        self.start_time = time.time()
        idl = self.api.idl
        (command,) = self.commands
        attempts = 0
        while True:
            if attempts > 0 and self.timeout_exceeded():
                raise RuntimeError("OVS transaction timed out")
            attempts += 1
            seqno = idl.change_seqno
            txn = _Transaction(idl)
            ops = FlowOps(idl.tables["Service_Flow"])
            try:
                command.run_raw(txn, ops)
            except BaseException:
                txn.abort()
                raise
            sent = ops.operations() if len(ops) else []
            for op in sent:
                txn.add_op(op)
            status = txn.commit_block()
            if status == txn.TRY_AGAIN:
                idlutils.wait_for_change(idl, self.time_remaining(), seqno)
                continue
            if status in (txn.ERROR, txn.NOT_LOCKED):
                message = "OVSDB Error: "
                if status == txn.NOT_LOCKED:
                    message += (
                        "The transaction failed because the IDL has been configured to require a "
                        "database lock but didn't get it yet or has already lost it"
                    )
                else:
                    message += txn.get_error()
                raise RuntimeError(message)
            if status == txn.SUCCESS and sent:
                assert txn.results is not None
                command.answer(ops.uuids(txn.results, len(sent)))
                self._wait_for_echo(idl, ops.seqnos)
            return [command.result]

    def _wait_for_echo(self, idl: Any, seqnos: dict[uuid.UUID, int]) -> None:
        """Run the IDL until each service shows at least the ``flows_seqno`` this transaction set
        (or is gone), so that the replica holds the new rows; at most until the timeout."""
        services = idl.tables["Service"].rows
        while self.time_remaining() > 0:
            if all(
                (row := services.get(service)) is None or (committed_scalar(row, FLOWS_VERSION) or 0) >= seqno
                for service, seqno in seqnos.items()
            ):
                return
            idl.run()
            poller = ovs.poller.Poller()
            idl.wait(poller)
            poller.timer_wait(max(1, int(self.time_remaining() * 1000)))
            poller.block()
