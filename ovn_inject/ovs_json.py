"""A linear-time JSON-RPC stream parser for python-ovs when its C extension is missing.

python-ovs parses OVSDB's JSON one character at a time in Python unless its
optional C extension is built, and the ``ovs`` wheel on the package index
ships without it. Measured: a third of the gateway's CPU went to parsing its
own inserted rows back from the monitor, and most of the compiler daemon's
start-up on 10,000 flows. A message that starts with a bracket is decoded by
the standard library's C decoder as it comes (python-ovs reads 4 KiB at a
time: a message cut by a read is decoded again with the next read) while it
is at most :data:`DECODE_LIMIT` long, which is most messages of a writer:
the gateway's group commits and their echoes, 0.1-10 KiB. A longer one, or
one the decoder calls bad JSON, is scanned: this parser finds where a message ends with C
regular expressions that step over whole strings, scalars and complete
bracketed values up to :data:`SKIP_DEPTH` deep (possessive, so never
backtracking), and visits in Python only what they leave: the brackets that
a read splits, a string that a read cuts, values nested deeper. The string
and escape state is carried across reads, and the whole message is decoded
once with the standard library's C decoder: linear in the message size,
unlike calling ``raw_decode`` on a growing buffer (docs/design.md, "Why the
gate exists"). Stepping over a row of a monitor update at a time cost a
fifth of visiting every bracket and quote in Python (measured on the
daemon's initial read of 10,000 flows).
"""

from __future__ import annotations

import codecs
from functools import cache

from ovn_inject import cjson

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from typing import Any

#: Complete bracketed values up to this deep are stepped over by one regex match.
SKIP_DEPTH = 8
_STRING = r'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_SCALARS = r'[^"{}\[\]]++'  # numbers, literals, commas, colons, whitespace


def _nested(depth: int) -> str:
    """A regex for one bracketed value at most ``depth`` deep (brackets are not paired by kind:
    a mismatch is bad JSON, which the decoder reports)."""
    value = rf"[\[{{](?:{_STRING}|{_SCALARS})*+[\]}}]"
    for _ in range(depth - 1):
        value = rf"[\[{{](?:{_STRING}|{_SCALARS}|{value})*+[\]}}]"
    return value


class _Scanners:
    """The regexes of :class:`StreamParser`, compiled when a message first needs scanning.

    Compiling them takes 0.9 ms; a one-shot command's replies mostly arrive whole, and
    :class:`MessageStream` decodes those without them.
    """

    def __init__(self) -> None:
        import re  # not before a message needs scanning: a direct flow-add imports no ``re``

        self.value = re.compile(_nested(SKIP_DEPTH), re.DOTALL)
        self.skip = re.compile(rf"(?:{_STRING}|{_SCALARS}|{_nested(SKIP_DEPTH)})*+", re.DOTALL)
        self.string_rest = re.compile(r'[^"\\]*+(?:\\.[^"\\]*+)*+', re.DOTALL)  # up to a quote, or a cut


@cache
def _scanners() -> _Scanners:
    return _Scanners()


_WHITESPACE = " \t\r\n"
#: What a value cut by the end of a read may end with where the decoder stopped: part of a literal,
#: a number or an escape (anything else there is bad JSON, or a value already closed).
_OPEN_TAIL = r'[^\s{}\[\],:"]{0,5}'
#: A value cut by reads is decoded whole again as each read comes while it is at most this long
#: (a decode is C, a scan is Python); a longer one is scanned once, which is linear.
DECODE_LIMIT = 32 * 1024
_UNSET = object()


def _cut(text: str) -> bool:
    """Whether the decoder stopped because ``text`` ends inside the value (more may come), not at bad JSON.

    json words why it stopped (cjson's scanner alone cannot): imported on the first value cut by a read.
    """
    import json
    import re

    try:
        json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as error:
        if error.msg.startswith("Unterminated string"):
            return True
        return re.fullmatch(_OPEN_TAIL, text[error.pos :]) is not None
    return False


class StreamParser:
    """The interface of ``ovs.json.Parser`` that ``ovs.jsonrpc.Connection`` uses: feed, is_done, finish."""

    def __init__(self, check_trailer: bool = False) -> None:
        self._chunks: list[str] = []
        self._depth = 0
        self._in_string = False
        self._escape_next = False  # the previous chunk ended with a backslash inside a string
        self._started = False
        self._pending: list[str] | None = None  # a bracketed value, decoded as its reads come
        self._pending_length = 0
        self._value: Any = _UNSET
        self.done = False

    def feed(self, text: str) -> int:
        """Take characters up to the end of one top-level value; return how many were taken."""
        if self.done:
            return 0
        pos = 0
        if not self._started:
            pos = len(text) - len(text.lstrip(_WHITESPACE))
            if pos == len(text):
                return pos
            self._started = True
            if text[pos] in "{[":
                self._pending = []
        if self._pending is not None:
            return self._decode(text, pos)
        return self._scan(text, pos)

    def _decode(self, text: str, pos: int) -> int:
        """Decode what came of the value so far (C speed); scan it once too long or not JSON."""
        assert self._pending is not None
        pending = self._pending
        pending.append(text[pos:] if pos else text)
        self._pending_length += len(text) - pos
        joined = pending[0] if len(pending) == 1 else "".join(pending)
        earlier = len(joined) - (len(text) - pos)  # of the value, what came in earlier reads
        found = cjson.value_at(joined)
        if found is None:
            if self._pending_length <= DECODE_LIMIT and _cut(joined):
                self._pending = [joined]
                return len(text)
            self._pending = None  # scanned from its start, as if it had come in one read
            whole = _scanners().value.match(joined)
            taken = self._complete(joined[: whole.end()], whole.end()) if whole else self._scan(joined, 0)
            return pos + max(0, taken - earlier)
        self._pending = None
        self._value, stop = found
        self.done = True
        return pos + stop - earlier

    def _scan(self, text: str, pos: int) -> int:
        """Step over ``text`` from ``pos`` to the end of the value, or keep it all (the value goes on)."""
        end = len(text)
        scan = _scanners()
        start, depth = pos, self._depth
        while pos < end:
            if self._in_string:
                if self._escape_next:  # the previous read ended with this string's backslash
                    self._escape_next = False
                    pos += 1
                    continue
                pos = scan.string_rest.match(text, pos).end()  # type: ignore[union-attr]
                if pos == end:
                    break
                if text[pos] == '"':
                    self._in_string = False
                    pos += 1
                else:  # a backslash, the read's last character
                    self._escape_next = True
                    pos = end
                continue
            pos = scan.skip.match(text, pos).end()  # type: ignore[union-attr]
            if pos == end:
                break
            char = text[pos]
            pos += 1
            if char == '"':  # a string this read cuts
                self._in_string = True
            elif char in "{[":  # a value this read cuts, or one nested deeper than SKIP_DEPTH
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    self._depth = 0
                    return self._complete(text[start:pos], pos)
        self._depth = depth
        self._chunks.append(text[start:])
        return end

    def _complete(self, last: str, taken: int) -> int:
        self._chunks.append(last)
        self.done = True
        return taken

    def is_done(self) -> bool:
        return self.done

    def finish(self) -> Any:
        """The decoded value, or an error message (a str), as python-ovs's parser returns them."""
        if self._value is not _UNSET:
            return self._value  # an object or an array
        try:
            value = cjson.loads("".join(self._pending if self._pending is not None else self._chunks))
        except ValueError as exc:
            return f"bad JSON: {exc}"
        if isinstance(value, str):
            return "a JSON-RPC message must be an object"
        return value


class MessageStream:
    """Whole JSON values out of a byte stream, which may split a value, or a UTF-8 character, anywhere."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._parser = StreamParser()

    def feed(self, data: bytes) -> list[Any]:
        """The values ``data`` completes, in order (a bad one as :meth:`StreamParser.finish` says).

        A reply most often arrives whole in one read: the parser then decodes it at once
        with the C decoder alone, without visiting its characters in Python (a reply of
        1,000 flows, 0.7 ms instead of 3.1).
        """
        text = self._decoder.decode(data)
        values = []
        while text:
            taken = self._parser.feed(text)
            text = text[taken:]
            if self._parser.is_done():
                values.append(self._parser.finish())
                self._parser = StreamParser()
        return values


def install() -> bool:
    """Make python-ovs use :class:`StreamParser` in this process, unless its C parser is there."""
    import ovs.json

    if ovs.json.PARSER == ovs.json.PARSER_C:
        return False
    ovs.json.Parser = StreamParser  # ovs.jsonrpc looks it up there on every message
    return True
