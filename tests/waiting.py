"""Waiting on a condition, the one way tests wait.

The timeout only ends a test that would otherwise hang: nothing asserts how
long a condition took to become true.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: Long enough for a loaded 2-core CI machine; a passing test never waits this long.
HANG_TIMEOUT = 60.0


def wait_until(condition: Callable[[], T], what: str, timeout: float = HANG_TIMEOUT, poll: float = 0.02) -> T:
    """Poll ``condition`` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout:.0f} s: {what}")
        time.sleep(poll)
