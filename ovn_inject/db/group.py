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

import asyncio
import contextlib
import logging
import threading
import time
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
#: How long at most ovsdbapp's thread waits for as many writes as its last group had before it
#: takes a smaller group (GroupCommit._hook): 8 clients, 7.5 writes a group instead of 4.4, and
#: CPU per flow -15% (a smaller group is a transaction, its echo and its answers for fewer writes).
SETTLE_S = 0.0005
#: At most this many groups one after the other in ovsdbapp's thread (GroupCommit._hook).
HOOK_GROUPS = 4


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
    #: :meth:`GroupCommit.submit_async`'s future and its loop (answered once per group on it)
    answer: asyncio.Future[Done] | None = None
    loop: asyncio.AbstractEventLoop | None = None


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
    """Commits the writes :meth:`submit` hands it, a group at a time; returns each write's future.

    Where the API's IDL takes a hook (db.idlthread), ovsdbapp's thread
    takes each group itself and commits it there; elsewhere a committer thread
    of its own hands each group to the API's commit.
    """

    def __init__(self, api: Any, max_group: int = MAX_GROUP) -> None:
        self.api = api
        self.max_group = max_group
        self._pending: list[_Write] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._last = 0  # the size of the last group the hook took
        self._settling = False  # the hook waits for more writes before it takes a group
        self._busy = False  # the hook is committing a group
        self._signalled = False  # the connection was woken for the pending writes
        self.transactions = 0  # for metrics: writes / transactions is the mean group size
        self.writes = 0
        connection = getattr(api, "ovsdb_connection", None)
        idl = getattr(connection, "idl", None)
        hooked = callable(getattr(idl, "set_hook", None)) and callable(getattr(api, "commit_here", None))
        self._idl = idl if hooked else None  # db.idlthread: its thread commits the groups
        self._here = self._idl is not None
        self._thread: threading.Thread | None = None
        # submit_async's writes not answered yet, by loop (touched on their loop only): see _watch
        self._unanswered: dict[asyncio.AbstractEventLoop, dict[_Write, float]] = {}
        self._watching: set[asyncio.AbstractEventLoop] = set()
        timeout = getattr(connection, "timeout", None)
        self._timeout = float(timeout) if isinstance(timeout, int | float) else 30.0
        self._period = max(0.05, self._timeout / 10)
        if self._here:
            self._idl.set_hook(self._hook)  # type: ignore[union-attr]
        else:
            self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
            self._thread.start()

    def submit(self, command: Any, wait: bool = False) -> Future[Done]:
        write = _Write(command, wait)
        self._submit(write)
        return write.future

    def submit_async(self, command: Any, wait: bool = False) -> asyncio.Future[Done]:
        """:meth:`submit` for the running event loop: the answers of a group's writes come to the
        loop in one call (``asyncio.wrap_future`` wakes it once per write); cancelling the
        returned future gives the write up as cancelling :meth:`submit`'s does."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Done] = loop.create_future()
        write = _Write(command, wait, answer=answer, loop=loop)
        if self._here:
            self._watch(loop, write)
        else:
            answer.add_done_callback(lambda answer: answer.cancelled() and write.future.cancel())
        self._submit(write)
        return answer

    def _watch(self, loop: asyncio.AbstractEventLoop, write: _Write) -> None:
        """Answer ``write`` with a timeout error if its commit has not answered in time (on the loop).

        The committer thread's wait for ovsdbapp's thread had a timeout; ovsdbapp's
        thread itself waits for the server without one (python-ovs's commit_block).
        """
        unanswered = self._unanswered.setdefault(loop, {})
        unanswered[write] = time.monotonic()

        def done(answer: asyncio.Future[Done]) -> None:
            unanswered.pop(write, None)
            if answer.cancelled():
                write.future.cancel()

        write.answer.add_done_callback(done)  # type: ignore[union-attr]
        if loop not in self._watching:
            self._watching.add(loop)
            loop.call_later(self._period, self._expire, loop)

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        unanswered = self._unanswered.get(loop, {})
        timeout = self._timeout
        late = [w for w, since in unanswered.items() if time.monotonic() - since >= timeout]
        for write in late:
            write.future.cancel()  # not committed if it is still pending
            if write.answer is not None and not write.answer.done():
                write.answer.set_exception(
                    InjectDbError(
                        f"OVN_Inject did not answer within {timeout:g} s (a larger --timeout?); "
                        "the change may still commit"
                    )
                )
            unanswered.pop(write, None)
        if unanswered:
            loop.call_later(self._period, self._expire, loop)
        else:
            self._watching.discard(loop)

    def _submit(self, write: _Write) -> None:
        with self._cond:
            if self._stopping:
                raise InjectDbError("the gateway is stopping")
            self._pending.append(write)
            if self._idl is None:
                self._cond.notify()
            elif not self._signalled:
                self._signalled = True
                self._idl.wake()
            elif self._settling and len(self._pending) >= self._last:
                self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
            if self._here:
                self._cond.wait_for(lambda: not self._pending and not self._busy, timeout=5)
        if self._here:
            self._idl.set_hook(None)  # type: ignore[union-attr]
        elif self._thread is not None:
            self._thread.join(timeout=5)

    def _take(self) -> list[_Write]:
        """The next group (called with the lock held)."""
        group = self._pending[: self.max_group]
        del self._pending[: self.max_group]
        return group

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping and not self._pending:
                    return
                group = self._take()
            self._commit_guarded(group)

    def _hook(self) -> None:
        """In the connection's thread, after each of its loops: commit the pending groups.

        A few groups in a row at most, without the loop's poll and IDL run in
        between (each commit ran the IDL until its echo): the loop's other
        transactions and updates still come between.
        """
        for _ in range(HOOK_GROUPS):
            with self._cond:
                if not self._pending:
                    return
                # Fewer writes than the last group: their requests are likely still being read.
                # The event loop's thread (the GIL released) reads them for a moment.
                if len(self._pending) < self._last and not self._stopping:
                    self._settling = True
                    try:
                        self._cond.wait(SETTLE_S)  # :meth:`_submit` ends it once the last group's size is in
                    finally:
                        self._settling = False
                group = self._take()
                self._last = len(group)
                if not self._pending:  # else stay signalled: the thread comes back for the rest
                    self._signalled = False
                    self._idl.consume_wake()  # type: ignore[union-attr]
                self._busy = True
            try:
                self._commit_guarded(group)
            finally:
                with self._cond:
                    self._busy = False
                    if self._stopping:
                        self._cond.notify_all()

    def _commit_guarded(self, group: list[_Write]) -> None:
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
        finally:
            _answer(group)

    def _commit(self, group: list[_Write]) -> None:
        command = _GroupCommand(self.api, group)
        try:
            flows = flowtxn.suits(self.api, [w.command for w in group])
            if self._here:
                self.api.commit_here(command, flows)
            elif flows:
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


def _answer(group: Sequence[_Write]) -> None:
    """Hand the settled writes of :meth:`GroupCommit.submit_async` to their loops, one call per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Write]] = {}
    for write in group:
        if write.loop is not None and write.future.done():
            by_loop.setdefault(write.loop, []).append(write)
    for loop, writes in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any longer
            loop.call_soon_threadsafe(_answer_on_loop, writes)


def _answer_on_loop(writes: Sequence[_Write]) -> None:
    for write in writes:
        answer = write.answer
        if answer is None or answer.done():
            continue
        error = write.future.exception()
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(write.future.result())
