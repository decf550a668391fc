"""A linear-time JSON-RPC stream parser for python-ovs when its C extension is missing.

python-ovs parses OVSDB's JSON one character at a time in Python unless its
optional C extension is built, and the ``ovs`` wheel on the package index
ships without it. Measured: a third of the gateway's CPU went to parsing its
own inserted rows back from the monitor, and most of the compiler daemon's
start-up on 10,000 flows. This parser finds where a message ends by visiting
only the structural characters (a C regex finds them) with the string and
escape state carried across reads, then decodes the whole message once with
the standard library's C decoder: linear in the message size, unlike calling
``raw_decode`` on a growing buffer (docs/design.md, "Why the gate exists").
"""

from __future__ import annotations

import codecs
import json
import re

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from typing import Any

_STRUCTURAL = re.compile(r'[{}\[\]"\\]')
_DECODE = json.JSONDecoder().raw_decode


class StreamParser:
    """The interface of ``ovs.json.Parser`` that ``ovs.jsonrpc.Connection`` uses: feed, is_done, finish."""

    def __init__(self, check_trailer: bool = False) -> None:
        self._chunks: list[str] = []
        self._depth = 0
        self._in_string = False
        self._escape_next = False  # the previous chunk ended with a backslash inside a string
        self._started = False
        self.done = False

    def feed(self, text: str) -> int:
        """Take characters up to the end of one top-level value; return how many were taken."""
        if self.done:
            return 0
        skip = 0 if self._escape_next else -1
        self._escape_next = False
        start = 0
        if not self._started:
            stripped = len(text) - len(text.lstrip())
            if stripped == len(text):
                return len(text)
            start = stripped
            self._started = True
        for found in _STRUCTURAL.finditer(text, start):
            position = found.start()
            if position == skip:
                continue
            char = text[position]
            if self._in_string:
                if char == "\\":
                    skip = position + 1
                    if skip == len(text):
                        self._escape_next = True
                elif char == '"':
                    self._in_string = False
            elif char == '"':
                self._in_string = True
            elif char in "{[":
                self._depth += 1
            elif char in "}]":
                self._depth -= 1
                if self._depth == 0:
                    self._chunks.append(text[start : position + 1])
                    self.done = True
                    return position + 1
        self._chunks.append(text[start:])
        return len(text)

    def is_done(self) -> bool:
        return self.done

    def finish(self) -> Any:
        """The decoded value, or an error message (a str), as python-ovs's parser returns them."""
        try:
            value = json.loads("".join(self._chunks))
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

        A reply most often arrives whole in one read: a value that starts here is decoded
        at once when it is whole (the C decoder alone, without visiting its characters in
        Python: a reply of 1,000 flows, 0.7 ms instead of 3.1), else scanned.
        """
        text = self._decoder.decode(data)
        values = []
        while text:
            if not self._parser._started:
                whole = _whole(text)
                if whole is not None:
                    values.append(whole[0])
                    text = text[whole[1] :]
                    continue
            taken = self._parser.feed(text)
            text = text[taken:]
            if self._parser.is_done():
                values.append(self._parser.finish())
                self._parser = StreamParser()
        return values


def _whole(text: str) -> tuple[Any, int] | None:
    """The object or array ``text`` starts with and where it ends, if it is whole and valid JSON."""
    start = len(text) - len(text.lstrip())
    if start == len(text) or text[start] not in "{[":
        return None
    try:
        return _DECODE(text, start)
    except ValueError:
        return None  # not whole yet (or not JSON): the scanner takes it


def install() -> bool:
    """Make python-ovs use :class:`StreamParser` in this process, unless its C parser is there."""
    import ovs.json

    if ovs.json.PARSER == ovs.json.PARSER_C:
        return False
    ovs.json.Parser = StreamParser  # ovs.jsonrpc looks it up there on every message
    return True
