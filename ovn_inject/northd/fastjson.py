"""A faster stand-in for python-ovs's JSON stream parser, for the daemon's process.

python-ovs parses JSON-RPC character by character in Python unless its C
extension was built (pip's ``ovs`` usually is not); on a 10,000-flow dump that
is most of the daemon's start-up. This parser only finds where a message ends
(skipping whole string literals with one regular expression, counting
brackets) and hands the message to the standard library's C-accelerated
``json``. It implements the part of ``ovs.json.Parser`` that
``ovs.jsonrpc.Connection`` uses: ``feed``, ``is_done``, ``finish``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import ovs.json

#: a whole string literal | a run of anything else but brackets | an opening | a closing bracket
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[^"{}\[\]]+|[{\[]|[}\]]', re.DOTALL)


class StreamParser:
    def __init__(self, check_trailer: bool = False) -> None:
        self._parts: list[str] = []
        self._pending = ""  # an unfinished string literal from the previous feed
        self._depth = 0
        self._error: str | None = None
        self.done = False

    def feed(self, text: str) -> int:
        """Take ``text``; return how many of its characters belong to this message."""
        if self.done:
            return 0
        buffer = self._pending + text
        carried = len(self._pending)
        pos, end, depth = 0, len(buffer), self._depth
        match = _TOKEN.match
        while pos < end:
            found = match(buffer, pos)
            if found is None:
                break  # a string literal that goes on in the next feed
            char = buffer[pos]
            if char == "{" or char == "[":
                depth += 1
            elif char == "}" or char == "]":
                depth -= 1
                if depth <= 0:
                    stop = found.end()
                    self._parts.append(buffer[:stop])
                    self._pending, self._depth, self.done = "", 0, True
                    if depth < 0:
                        self._error = "unbalanced brackets"
                    return stop - carried
            pos = found.end()
        self._parts.append(buffer[:pos])
        self._pending, self._depth = buffer[pos:], depth
        return len(text)

    def is_done(self) -> bool:
        return self.done

    def finish(self) -> Any:
        """The parsed value, or an error message (a str), as ``ovs.json.Parser.finish`` returns."""
        if self._error is not None:
            return self._error
        text = "".join(self._parts) + self._pending
        try:
            return json.loads(text)
        except ValueError as exc:
            return f"syntax error: {exc}"


def install() -> None:
    """Make python-ovs's JSON-RPC use StreamParser, unless its C parser is there."""
    if ovs.json.PARSER != ovs.json.PARSER_C:
        ovs.json.Parser = StreamParser
