"""Send a frame into a port and collect what other ports transmitted as a result."""

from __future__ import annotations

import time
from collections.abc import Iterable

from ovn_inject.sandbox.sandbox import Sandbox


def send_and_capture(
    sandbox: Sandbox,
    lport: str,
    frame: bytes,
    watch: Iterable[str],
    expect: str | None = None,
    timeout: float = 3.0,
    settle: float = 0.3,
) -> dict[str, list[bytes]]:
    """New frames per watched port after sending ``frame`` from ``lport``.

    With ``expect``, waits until that port got something (or ``timeout``);
    then waits ``settle`` seconds more so that stray copies show up too.
    """
    ports = list(watch)
    if expect is not None and expect not in ports:
        ports.append(expect)
    before = {port: len(sandbox.transmitted(port)) for port in ports}
    sandbox.send(lport, frame)
    if expect is not None:
        deadline = time.monotonic() + timeout
        while len(sandbox.transmitted(expect)) == before[expect] and time.monotonic() < deadline:
            time.sleep(0.01)
    time.sleep(settle)
    return {port: sandbox.transmitted(port)[before[port] :] for port in ports}
