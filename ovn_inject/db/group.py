"""Group commit: the writes of concurrent requests go to OVN_Inject together, in one transaction.

A transaction is one round trip to ovsdb-server, and ovsdbapp runs them one
at a time: with one transaction per request, requests queue behind each
other's round trips. Here one thread commits; every write submitted while a
transaction is in flight goes into the next one. Each write stays all or
nothing and gets its own result or error: its command checks everything
before it changes anything (so a refused one leaves the transaction as it
was), later commands see what earlier ones staged (:class:`~ovn_inject.db.rows.Staged`),
and when the transaction as a whole fails, each write is committed alone so
that the failure reaches only the writes it belongs to.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ovn_inject.db import commands, flowtxn
from ovn_inject.db.errors import InjectDbError
from ovn_inject.db.rows import Staged
from ovn_inject.errors import OvnInjectError

LOG = logging.getLogger("ovn_inject.db.group")

#: At most this many writes in one transaction (a bound on its size, and on what one failure re-runs).
MAX_GROUP = 256


@dataclass(frozen=True)
class Done:
    """A write's command result, and the Inject_Global.cfg to ?wait for (None without a wait)."""

    result: Any
    cfg: int | None


@dataclass(eq=False)
class _Write:
    command: Any  # a command of db.commands that takes ``staged``
    wait: bool
    future: Future[Done] = field(default_factory=Future)
    error: BaseException | None = None


class _GroupCommand(commands.Command):
    """Run every write's command in one transaction; a refused one is set aside, not fatal."""

    def __init__(self, api: Any, writes: Sequence[_Write]) -> None:
        super().__init__(api)
        self.writes = writes
        self.cfg: int | None = None
        self._where: list[tuple[int, int] | None] = []  # each write's rows among the inserts (run_raw)

    def run_idl(self, txn: Any) -> None:
        staged = Staged()  # afresh on every attempt: ovsdbapp re-runs the commands when a guard fails
        self.cfg = None
        accepted = 0
        for write in self.writes:
            write.error = None
            write.command.staged = staged
            try:
                write.command.run_idl(txn)
                accepted += 1
            except OvnInjectError as exc:
                write.error = exc  # checked before anything changed: the others go on
        if accepted and any(w.wait and w.error is None for w in self.writes):
            bump = commands.BumpCfgCommand(self.api)
            bump.run_idl(txn)
            self.cfg = bump.result

    def post_commit(self, txn: Any) -> None:
        for write in self.writes:
            if write.error is None:
                write.command.post_commit(txn)

    def run_raw(self, txn: Any, ops: flowtxn.FlowOps) -> None:
        """:meth:`run_idl` for a group of flow adds whose rows go into ``ops`` (db.flowtxn)."""
        staged = Staged()
        self.cfg = None
        self._where = []
        for write in self.writes:
            write.error = None
            where = None
            try:
                where = flowtxn.add_flows(write.command, ops, staged)
            except OvnInjectError as exc:
                write.error = exc
            self._where.append(where)
        if len(ops) and any(w.wait and w.error is None for w in self.writes):
            bump = commands.BumpCfgCommand(self.api)
            bump.run_idl(txn)
            self.cfg = bump.result

    def answer(self, uuids: Sequence[Any]) -> None:
        """Each accepted write's result: the uuids of its new rows, in order."""
        for write, where in zip(self.writes, self._where, strict=True):
            if where is not None:
                write.command.result = list(uuids[where[0] : where[1]])


class GroupCommit:
    """One committer thread for an API; :meth:`submit` hands it a write and returns its future."""

    def __init__(self, api: Any, max_group: int = MAX_GROUP) -> None:
        self.api = api
        self.max_group = max_group
        self._pending: list[_Write] = []
        self._cond = threading.Condition()
        self._stopping = False
        self.transactions = 0  # for metrics: writes / transactions is the mean group size
        self.writes = 0
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    def submit(self, command: Any, wait: bool = False) -> Future[Done]:
        write = _Write(command, wait)
        with self._cond:
            if self._stopping:
                raise InjectDbError("the gateway is stopping")
            self._pending.append(write)
            self._cond.notify()
        return write.future

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping and not self._pending:
                    return
                group = self._pending[: self.max_group]
                del self._pending[: self.max_group]
            # A write whose caller gave up (its future cancelled) is not committed, and one that
            # is committed can no longer be cancelled: setting its result then cannot fail.
            group = [w for w in group if w.future.set_running_or_notify_cancel()]
            try:
                if group:
                    self._commit(group)
            except BaseException as exc:  # the committer must outlive any one group: later writes wait on it
                LOG.exception("group commit failed unexpectedly")
                for write in group:
                    if not write.future.done():
                        _settle(write, None, exc)

    def _commit(self, group: list[_Write]) -> None:
        command = _GroupCommand(self.api, group)
        try:
            if flowtxn.suits(self.api, [w.command for w in group]):
                self.api.commit_flows(command)
            else:
                self.api.commit(command)
        except BaseException as exc:  # every write must get an answer
            if len(group) == 1:
                _settle(group[0], None, exc)
                return
            LOG.info("a group of %d writes failed as a whole (%s); committing each alone", len(group), exc)
            for write in group:
                self._commit([write])
            return
        self.transactions += 1
        self.writes += len(group)
        for write in group:
            _settle(write, Done(write.command.result, command.cfg if write.wait else None), write.error)


def _settle(write: _Write, done: Done | None, error: BaseException | None) -> None:
    if error is not None:
        write.future.set_exception(error)
    else:
        assert done is not None
        write.future.set_result(done)
