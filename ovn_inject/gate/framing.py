"""Cut a JSON-RPC byte stream into complete messages, in time linear in its length.

OVSDB peers send top-level JSON objects back to back. Re-parsing a growing
buffer on every read is quadratic on the multi-megabyte messages of a bulk
change, and even a per-token Python loop costs more than the gate may add, so
the framer works on whole segments with C-speed bytes operations:

1. Each byte is "normalised" once: escaped backslashes and escaped quotes
   become ``__`` (same length), so every remaining ``"`` delimits a string.
2. For a segment, keep only braces and quotes (``translate``), drop complete
   strings, and cancel adjacent ``{}`` pairs until the braces read ``}}..{{..``:
   the leading ``}`` count is the deepest the nesting goes down inside the
   segment. If that cannot reach zero, no message ends in the segment, and
   the segment is done without looking at single characters.
3. Segments where a message may end are halved until small, then scanned
   brace by brace.

The framer never decodes JSON; callers decode a message only if they need to.
"""

from __future__ import annotations

import re

from ovn_inject.errors import OvnInjectError

DEFAULT_MAX_MESSAGE = 1 << 30
#: Segments up to this size are scanned brace by brace.
PRECISE_SEGMENT = 256
#: More ``{}`` cancelling passes than this (absurd nesting) means: split instead.
MAX_CANCEL_PASSES = 32

_OPEN, _CLOSE, _QUOTE = ord("{"), ord("}"), ord('"')
_STRUCTURE_ONLY = bytes(c for c in range(256) if c not in b'{}"')
_STRINGS = re.compile(rb'"[^"]*+"')
_STRUCTURAL = re.compile(rb'[{}"]')
_WHITESPACE = re.compile(rb"[ \t\r\n]*+")


class FramingError(OvnInjectError):
    """The peer sent bytes that cannot be the start of a JSON-RPC message."""


def normalise(data: bytes) -> bytes:
    """``data`` with every escaped backslash or quote replaced by ``__``."""
    if b"\\" not in data:
        return data
    return data.replace(b"\\\\", b"__").replace(b'\\"', b"__")


class JsonStreamFramer:
    """Feed it bytes as they arrive; it returns every message completed so far."""

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self._raw = bytearray()  # unconsumed input
        self._norm = bytearray()  # normalised copy of a prefix of _raw (the rest: a backslash run)
        self._scan = 0  # everything in _norm before this is understood
        self._start = -1  # where the current message began, -1 between messages
        self._depth = 0
        self._in_string = False
        self._max_message = max_message

    @property
    def pending(self) -> int:
        """Bytes received but not yet returned as part of a message."""
        return len(self._raw)

    def feed(self, data: bytes) -> list[bytes]:
        raw, norm = self._raw, self._norm
        raw += data
        fresh = bytes(raw[len(norm) :])
        kept = len(fresh.rstrip(b"\\"))  # a backslash run may continue in the next read
        norm += normalise(fresh[:kept])
        ends: list[tuple[int, int]] = []
        self._segment(self._scan, len(norm), ends)
        self._scan = len(norm)
        messages = [bytes(raw[start:end]) for start, end in ends]
        cut = ends[-1][1] if ends else 0
        if self._start < 0:
            cut = self._scan  # only whitespace since the last message
        if cut:
            del raw[:cut]
            del norm[:cut]
            self._scan -= cut
            if self._start >= 0:
                self._start -= cut
        if self._start >= 0 and len(raw) - self._start > self._max_message:
            raise FramingError(f"message longer than {self._max_message} bytes")
        return messages

    # ---- scanning ------------------------------------------------------------------

    def _segment(self, lo: int, hi: int, ends: list[tuple[int, int]]) -> None:
        """Advance the state over ``_norm[lo:hi]``, recording every message end."""
        todo = [(lo, hi)]
        while todo:
            lo, hi = todo.pop()
            if self._depth == 0 and not self._in_string:
                lo = self._message_start(lo, hi)
            if lo >= hi:
                continue
            if hi - lo <= PRECISE_SEGMENT:
                self._precise(lo, hi, ends)
            elif not self._may_end_within(lo, hi):
                continue
            else:
                middle = (lo + hi) // 2
                todo.append((middle, hi))
                todo.append((lo, middle))

    def _message_start(self, pos: int, hi: int) -> int:
        """Skip whitespace to the next message's ``{``; return the position after it."""
        pos = _WHITESPACE.match(self._norm, pos, hi).end()  # type: ignore[union-attr]
        if pos >= hi:
            return hi
        if self._norm[pos] != _OPEN:
            snippet = bytes(self._raw[pos : pos + 40])
            raise FramingError(f"expected a JSON object, got {snippet!r}")
        self._start = pos
        self._depth = 1
        return pos + 1

    def _may_end_within(self, lo: int, hi: int) -> bool:
        """Advance over a segment unless a message may end inside it (then change nothing)."""
        braces = bytes(self._norm[lo:hi]).translate(None, _STRUCTURE_ONLY)
        in_string = self._in_string
        if in_string:
            quote = braces.find(b'"')
            if quote < 0:
                return False
            braces = braces[quote + 1 :]
            in_string = False
        if b'"' in braces:
            # Dropping two adjacent quotes changes no brace's inside/outside-a-string
            # parity, and leaves quotes only around strings that hold braces.
            braces = _STRINGS.sub(b"", braces.replace(b'""', b""))
            quote = braces.find(b'"')
            if quote >= 0:
                in_string = True
                braces = braces[:quote]
        for _ in range(MAX_CANCEL_PASSES):
            shorter = braces.replace(b"{}", b"")
            if len(shorter) == len(braces):
                break
            braces = shorter
        else:
            return True
        closes = len(braces) - len(braces.lstrip(b"}"))
        if self._depth - closes <= 0:
            return True
        self._depth += len(braces) - 2 * closes
        self._in_string = in_string
        return False

    def _precise(self, pos: int, hi: int, ends: list[tuple[int, int]]) -> None:
        norm = self._norm
        depth = self._depth
        in_string = self._in_string
        while pos < hi:
            if in_string:
                quote = norm.find(b'"', pos, hi)
                if quote < 0:
                    break
                pos = quote + 1
                in_string = False
            elif depth == 0:
                self._depth = 0
                pos = self._message_start(pos, hi)
                depth = self._depth
            else:
                found = _STRUCTURAL.search(norm, pos, hi)
                if found is None:
                    break
                pos = found.start() + 1
                char = norm[pos - 1]
                if char == _QUOTE:
                    in_string = True
                elif char == _OPEN:
                    depth += 1
                else:
                    depth -= 1
                    if depth == 0:
                        ends.append((self._start, pos))
                        self._start = -1
        self._depth = depth
        self._in_string = in_string
