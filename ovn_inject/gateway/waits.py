"""``?wait=sb|hv`` as asyncio futures, resolved by the OVN_Inject IDL's change notification.

A wait used to hold one of the server's worker threads, polling
Inject_Global until the compiler caught up: 40 waiting requests during a
compiler outage left no thread for anybody else. Now a wait is a future on
the event loop; the IDL's thread calls :meth:`CfgWaits.notify` for every row
it changes and resolves the futures whose cfg Inject_Global has reached.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from ovn_inject.gateway.errors import ApiError

#: The columns of Inject_Global that the compiler daemon advances, by ?wait value.
WAIT_COLUMNS = {"sb": "sb_cfg", "hv": "hv_cfg"}


@dataclass(eq=False)
class _Waiter:
    column: str
    cfg: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


class CfgWaits:
    """Pending waits on Inject_Global's sb_cfg/hv_cfg; hooked into the IDL's ``notify``."""

    def __init__(self, idl: Any) -> None:
        self._idl = idl
        self._lock = threading.Lock()
        self._waiters: set[_Waiter] = set()
        previous = idl.notify
        table = idl.tables.get("Inject_Global")  # compared by identity: this runs for every row changed

        def notify(event: str, row: Any, updates: Any = None) -> None:
            previous(event, row, updates)
            if row._table is table:
                self._reached(row)

        idl.notify = notify

    def pending(self) -> int:
        return len(self._waiters)

    def _current(self, column: str) -> int:
        rows = list(self._idl.tables["Inject_Global"].rows.values())
        return int(getattr(rows[0], column)) if rows else 0

    def _reached(self, row: Any) -> None:
        with self._lock:
            done = {w for w in self._waiters if int(getattr(row, w.column, 0)) >= w.cfg}
            self._waiters -= done
        for waiter in done:
            waiter.loop.call_soon_threadsafe(_resolve, waiter.future)

    async def wait(self, wait: str, cfg: int, timeout: float) -> bool:
        """True once Inject_Global.<column> >= cfg; False after ``timeout`` seconds."""
        column = WAIT_COLUMNS[wait]
        loop = asyncio.get_running_loop()
        waiter = _Waiter(column, cfg, loop, loop.create_future())
        with self._lock:
            if self._current(column) >= cfg:
                return True
            self._waiters.add(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(waiter)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def wait_until_applied(
    waits: CfgWaits | None, wait: str | None, cfg: int | None, timeout: float
) -> None:
    """With ``wait``, until the compiler daemon has caught up with a commit (504 past ``timeout``)."""
    if wait is None or cfg is None or waits is None:
        return
    if not await waits.wait(wait, cfg, timeout):
        # Only what was seen: the daemon may be down, busy, or a chassis slow; nothing here tells which.
        if wait == "sb":
            what, column = "written to SB by the compiler daemon", "sb_cfg"
        else:
            what, column = "reported installed by every chassis", "hv_cfg"
        raise ApiError(
            504,
            "timeout",
            f"the change is committed but was not {what} within {timeout:g} s "
            f"(Inject_Global.{column} has not reached {cfg}); GET the flows for their status",
        )
