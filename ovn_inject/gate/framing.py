"""Cut a JSON-RPC byte stream into complete messages, in time linear in its length.

OVSDB peers send top-level JSON objects back to back with nothing between
them. Re-parsing a growing buffer on every read is quadratic on the
multi-megabyte messages of a bulk change, so the framer keeps its scan
position, nesting depth and "inside a string" state across reads. One
possessive regex consumes everything that cannot change the depth (plain
text and whole strings) at C speed; the Python loop only runs once per brace.
The framer never decodes JSON: callers parse a message only if they need to.
"""

from __future__ import annotations

import re

from ovn_inject.errors import OvnInjectError

#: Everything up to the next brace, unterminated string or stray backslash.
_SKIP = re.compile(rb'(?:[^{}"\\]++|"(?:[^"\\]++|\\.)*+")*+', re.DOTALL)
#: The rest of a string whose opening quote was already consumed.
_STRING_REST = re.compile(rb'(?:[^"\\]++|\\.)*+', re.DOTALL)
_WHITESPACE = re.compile(rb"[ \t\r\n]*+")

DEFAULT_MAX_MESSAGE = 1 << 30

_OPEN, _CLOSE, _QUOTE, _BACKSLASH = ord("{"), ord("}"), ord('"'), ord("\\")


class FramingError(OvnInjectError):
    """The peer sent bytes that cannot be the start or body of a JSON-RPC message."""


class JsonStreamFramer:
    """Feed it bytes as they arrive; it returns every message completed so far."""

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self._buffer = bytearray()
        self._scan = 0  # next byte to examine; everything before it is understood
        self._depth = 0
        self._in_string = False
        self._max_message = max_message

    @property
    def pending(self) -> int:
        """Bytes of a message that has begun but not ended."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer
        buffer += data
        messages: list[bytes] = []
        scan = self._scan
        depth = self._depth
        end = len(buffer)
        while scan < end:
            if self._in_string:
                scan = _STRING_REST.match(buffer, scan).end()  # type: ignore[union-attr]
                if scan >= end:
                    break
                if buffer[scan] == _BACKSLASH:  # escape split by the read boundary
                    break
                scan += 1  # the closing quote
                self._in_string = False
                continue
            if depth == 0:
                scan = _WHITESPACE.match(buffer, scan).end()  # type: ignore[union-attr]
                if scan >= end:
                    break
                if buffer[scan] != _OPEN:
                    snippet = bytes(buffer[scan : scan + 40])
                    raise FramingError(f"expected a JSON object, got {snippet!r}")
                if scan:
                    del buffer[:scan]
                    end -= scan
                    scan = 0
                depth = 1
                scan = 1
                continue
            scan = _SKIP.match(buffer, scan).end()  # type: ignore[union-attr]
            if scan >= end:
                break
            char = buffer[scan]
            if char == _OPEN:
                depth += 1
                scan += 1
            elif char == _CLOSE:
                depth -= 1
                scan += 1
                if depth == 0:
                    messages.append(bytes(buffer[:scan]))
                    del buffer[:scan]
                    end -= scan
                    scan = 0
            elif char == _QUOTE:
                self._in_string = True
                scan += 1
            else:
                raise FramingError(f"backslash outside a JSON string at byte {scan} of a message")
        if depth and len(buffer) > self._max_message:
            raise FramingError(f"message longer than {self._max_message} bytes")
        if depth == 0 and scan >= end:
            buffer.clear()
            scan = 0
        self._scan = scan
        self._depth = depth
        return messages
