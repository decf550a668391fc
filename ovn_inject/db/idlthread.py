"""ovsdbapp's connection thread, which also runs one hook of ours per loop (the group commit).

The gateway's group commit had a thread of its own that handed each group to
ovsdbapp's thread through its transaction queue and waited for the answer:
per group, two hand-offs between threads (a Condition, a queue put and get
with a pipe write and read, the result queue), and the committer's own wake-up
and settle. Here ovsdbapp's thread takes the pending group itself, woken by a
pipe written once per group (not per write) while nothing is pending.

:class:`HookedConnection` is ovsdbapp's ``Connection`` with its ``run`` loop
as ovsdbapp has it plus the hook; it is used only where ovsdbapp's loop is the
one copied here (:data:`AVAILABLE`), elsewhere ovsdbapp's own connection and
the committer thread (db.group).
"""

from __future__ import annotations

import contextlib
import logging
import os
import traceback
from collections.abc import Callable
from typing import Any

from ovs import poller
from ovsdbapp.backend.ovs_idl import connection, idlutils

LOG = logging.getLogger("ovn_inject.db.idlthread")

#: What ovsdbapp's Connection.run names, as the loop below (a copy of it) does.
_RUN_NAMES = frozenset(
    {
        "Exception",
        "ExceptionResult",
        "LOG",
        "POLLIN",
        "_check_lock_change",
        "alert_fileno",
        "block",
        "close",
        "do_commit",
        "exception",
        "fd_wait",
        "format_exc",
        "get_nowait",
        "idl",
        "idlutils",
        "is_running",
        "lock",
        "poller",
        "put",
        "results",
        "run",
        "task_done",
        "traceback",
        "txns",
        "wait",
    }
)


def loop_is_known(connection_class: type = connection.Connection) -> bool:
    """Whether ovsdbapp's ``Connection.run`` names exactly what the copy in :class:`HookedConnection` does."""
    run = getattr(connection_class.__dict__.get("run"), "__code__", None)
    return run is not None and frozenset(run.co_names) == _RUN_NAMES


AVAILABLE = loop_is_known()


class HookedConnection(connection.Connection):
    """ovsdbapp's connection whose thread runs :meth:`set_hook`'s function after each loop."""

    def __init__(self, idl: Any, timeout: float) -> None:
        super().__init__(idl, timeout)
        self._hook: Callable[[], None] | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def set_hook(self, hook: Callable[[], None] | None) -> None:
        """Run ``hook`` (which must not raise) in the connection's thread on every loop."""
        self._hook = hook

    def wake(self) -> None:
        """Wake the thread (it runs the hook); stays signalled until :meth:`consume_wake`."""
        with contextlib.suppress(BlockingIOError):  # a full pipe is signalled already
            os.write(self._wake_w, b"x")

    def consume_wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(self._wake_r, 4096)

    def run(self) -> None:
        """ovsdbapp's ``Connection.run``, also woken by :meth:`wake` and running the hook."""
        while self.is_running:
            try:
                self.idl.wait(self.poller)
                self.poller.fd_wait(self.txns.alert_fileno, poller.POLLIN)
                self.poller.fd_wait(self._wake_r, poller.POLLIN)
                self.poller.block()
                with self.lock:
                    self.idl.run()
                    self._check_lock_change()
            except Exception as e:
                LOG.exception(e)
                continue
            txn = self.txns.get_nowait()
            if txn is not None:
                try:
                    with self.lock:
                        txn.results.put(txn.do_commit())
                except Exception as ex:
                    er = idlutils.ExceptionResult(ex=ex, tb=traceback.format_exc())
                    txn.results.put(er)
                self.txns.task_done()
            hook = self._hook
            if hook is not None:
                hook()
        self.idl.close()

    def __del__(self) -> None:
        super().__del__()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


def connection_class() -> type[connection.Connection]:
    """The connection class to open an IDL with: :class:`HookedConnection` where it is ovsdbapp's loop."""
    return HookedConnection if AVAILABLE else connection.Connection
