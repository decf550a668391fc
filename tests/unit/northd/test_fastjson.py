"""The daemon's JSON stream parser agrees with python-ovs's own, however the stream is cut."""

from __future__ import annotations

import json
import random

import ovs.json
import pytest

from ovn_inject.northd.fastjson import StreamParser

MATCH = 'inport == {"a", "b"}'
MESSAGES = [
    {"id": 1, "method": "update2", "params": [None, {"Logical_Flow": {"u": {"insert": {"match": MATCH}}}}]},
    {"id": "x", "result": [{"rows": [{"s": 'q"uote\\\\ [not] {a} \\u00e9 é', "n": -1.5e3, "b": True}]}]},
    {"id": None, "method": "echo", "params": [], "z": None},
    {"nested": [[[], {}], [{"k": ["]", "}", "[", "{"]}]]},
]


def stream_parse(text: str, cuts: list[int]) -> list[object]:
    """Feed ``text`` in pieces cut at ``cuts``, as ovs.jsonrpc.Connection.recv does."""
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    out: list[object] = []
    parser: StreamParser | None = None
    buffered = ""
    for piece in pieces:
        buffered += piece
        while buffered:
            parser = parser or StreamParser()
            buffered = buffered[parser.feed(buffered) :]
            if not parser.is_done():
                break
            out.append(parser.finish())
            parser = None
    return out


@pytest.mark.parametrize("seed", range(40))
def test_any_cutting_gives_the_same_messages(seed: int) -> None:
    rng = random.Random(seed)
    text = "".join(json.dumps(m, separators=(",", ":"), ensure_ascii=rng.random() < 0.5) for m in MESSAGES)
    cuts = sorted(rng.sample(range(1, len(text)), rng.randint(0, min(40, len(text) - 1))))
    assert stream_parse(text, cuts) == MESSAGES


def test_agrees_with_python_ovs() -> None:
    for message in MESSAGES:
        text = json.dumps(message)
        reference = ovs.json.Parser.__new__(ovs.json.Parser)
        reference.__init__()  # type: ignore[misc]
        reference.feed(text)
        assert stream_parse(text, []) == [reference.finish()]


def test_a_bad_message_is_an_error_string() -> None:
    parser = StreamParser()
    parser.feed('{"a": tru}')
    assert parser.is_done()
    assert isinstance(parser.finish(), str)
