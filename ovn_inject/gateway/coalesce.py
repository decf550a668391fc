"""One write per answer: uvicorn's head and body leave in one segment, not two.

uvicorn writes a response's head when the app starts it and the body when
the app sends it, each a ``send()`` on the socket: two system calls and two
TCP segments for every answer, which a peer then reads twice. The app sends
both in one step of the event loop, so a transport that gathers what is
written during a step and writes it once when the step ends sends the same
bytes, in the same order, with one system call. The protocol flushes it
sooner, as soon as a response is complete (gateway.limits.HeaderDeadline):
answers that come in the same step then each leave at once.
"""

from __future__ import annotations

import asyncio
from typing import Any


class GatheringTransport:
    """A transport's proxy whose writes within one event-loop step leave as one write.

    Everything else is the transport's own; closing (or ending the stream)
    writes what was gathered first, so nothing written is ever lost or
    reordered.
    """

    __slots__ = ("__weakref__", "_gathered", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._gathered: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._gathered:
            self._loop.call_soon(self.flush)
        self._gathered.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Write what was gathered (a no-op when nothing was, or once the transport closed)."""
        if not self._gathered:
            return
        data = self._gathered[0] if len(self._gathered) == 1 else b"".join(self._gathered)
        self._gathered = []
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(d) for d in self._gathered)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
