"""ovsdbapp's thread runs one hook of ours on each of its loops (the group commit), through the IDL.

The gateway's group commit had a thread of its own that handed each group to
ovsdbapp's thread through its transaction queue and waited for the answer:
per group, two hand-offs between threads (a Condition, a queue put and get
with a pipe write and read, the result queue), and the committer's own wake-up
and settle. Here ovsdbapp's thread takes the pending group itself, woken by a
pipe written once per group (not per write) while nothing is pending.

Nothing of ovsdbapp is replaced: on every turn its loop waits on the IDL
(``idl.wait(poller)``) and then runs it (``idl.run()``, holding the
connection's lock). :class:`HookedIdl` adds the wake pipe to that wait and
runs the hook after the IDL's own run. python-ovs also runs the IDL inside a
commit (``commit_block``), the hook's own commits included: the hook runs
only where no transaction is open, at the outer call.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

from ovs import poller


class HookedIdl:
    """A mixin for a python-ovs ``Idl``: :meth:`set_hook`'s function runs after each ``run()``."""

    _hook: Callable[[], None] | None = None
    _hooking = False
    _wake_r = -1
    _wake_w = -1

    def set_hook(self, hook: Callable[[], None] | None) -> None:
        """Run ``hook`` (which must not raise) in the thread that runs the IDL, after each run."""
        if hook is not None and self._wake_r < 0:
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            os.set_blocking(self._wake_w, False)
        self._hook = hook

    def wake(self) -> None:
        """Wake the thread that waits on the IDL (it runs the hook); signalled until :meth:`consume_wake`."""
        with contextlib.suppress(BlockingIOError):  # a full pipe is signalled already
            os.write(self._wake_w, b"x")

    def consume_wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(self._wake_r, 4096)

    def wait(self, waiter: Any) -> None:
        super().wait(waiter)  # type: ignore[misc]
        if self._hook is not None:
            waiter.fd_wait(self._wake_r, poller.POLLIN)

    def run(self) -> Any:
        result = super().run()  # type: ignore[misc]
        hook = self._hook
        # Not inside a commit (python-ovs runs the IDL in commit_block; one transaction at a time).
        if hook is not None and not self._hooking and getattr(self, "txn", None) is None:
            self._hooking = True
            try:
                hook()
            finally:
                self._hooking = False
        return result

    def close(self) -> None:
        super().close()  # type: ignore[misc]
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._wake_r = self._wake_w = -1
