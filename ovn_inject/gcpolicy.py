"""Garbage collection for a process whose replica only grows: each full pass costs what is new.

CPython finds reference cycles by scanning objects. Its full (oldest
generation) pass scans every object the process has, and runs each time the
survivors grew by a quarter. A gateway's replica of OVN_Inject grows by a
few objects per flow, so 20,000 flows of a load balancer paid pass after
pass over the whole replica: 24 us of CPU per flow and pauses of 70 ms
(in-process, 10,000 flows, three full passes of 193 ms in all).

Here every full pass ends by freezing what survived it (``gc.freeze``): the
next pass scans only what came after. Cycles among frozen objects are found
once the frozen part has doubled, by a full pass over everything (the frozen
objects are thawed for it), so garbage in them is bounded, not lost. And the
youngest generation is collected after 5,000 allocations, not 700: most of a
request's objects are freed by reference counting before then, and each
young pass costs the same whatever its threshold. Measured in-process with
10,000 flows: the time in collections from 24 to 5-11 us per flow.
"""

from __future__ import annotations

import gc
from typing import Any

#: Allocations (net of frees) between two collections of the youngest generation.
YOUNG_THRESHOLD = 5000
#: A pass over everything once the frozen objects are this many times those of the last such pass.
THAW_GROWTH = 2.0


class FrozenSurvivors:
    """The gc callback: freeze after each full pass; thaw before the pass that must see everything."""

    def __init__(self, thaw_growth: float = THAW_GROWTH, collector: Any = gc) -> None:
        self.thaw_growth = thaw_growth
        self.gc = collector  # the gc module (a test's stand-in)
        self.base: int | None = None  # frozen objects after the last pass over everything
        self.thawed_passes = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or info.get("generation") != 2:
            return
        self.gc.freeze()
        frozen = self.gc.get_freeze_count()
        if self.base is None:
            self.base = frozen  # this pass scanned everything: the new reference
        elif frozen >= self.thaw_growth * max(self.base, 1):
            self.gc.unfreeze()  # the next full pass scans everything, old cycles included
            self.base = None
            self.thawed_passes += 1


_INSTALLED: list[FrozenSurvivors] = []


def install() -> FrozenSurvivors:
    """Install the policy once for this process (a long-running daemon's, not a command's)."""
    if _INSTALLED:
        return _INSTALLED[0]
    policy = FrozenSurvivors()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    gc.callbacks.append(policy)
    _INSTALLED.append(policy)
    return policy
