"""The gate's stream framer cuts any byte stream exactly where each JSON message ends."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovn_inject.gate import framing
from ovn_inject.gate.framing import FramingError, JsonStreamFramer

TRICKY_TEXT = st.text(alphabet=st.sampled_from(list('{}[]"\\ab:,\n\t é\u2028')), max_size=12)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TRICKY_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TRICKY_TEXT, children, max_size=4),
    max_leaves=25,
)
MESSAGES = st.dictionaries(TRICKY_TEXT, JSON_VALUES, min_size=1, max_size=4)


def feed_in_pieces(framer: JsonStreamFramer, stream: bytes, cuts: list[int]) -> list[bytes]:
    out: list[bytes] = []
    previous = 0
    for cut in [*sorted(cuts), len(stream)]:
        out += framer.feed(stream[previous:cut])
        previous = cut
    return out


@pytest.mark.parametrize("segment", [256, 7], ids=["default-segments", "tiny-segments"])
@settings(max_examples=150, deadline=None)
@given(
    messages=st.lists(MESSAGES, min_size=1, max_size=5),
    compact=st.booleans(),
    ascii_only=st.booleans(),
    data=st.data(),
)
def test_any_split_yields_the_same_messages(
    segment: int, messages: list[dict[str, object]], compact: bool, ascii_only: bool, data: st.DataObject
) -> None:
    separators = (",", ":") if compact else (", ", ": ")
    encoded = [json.dumps(m, separators=separators, ensure_ascii=ascii_only).encode() for m in messages]
    stream = b"\n ".join(encoded)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=8))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(framing, "PRECISE_SEGMENT", segment)  # tiny segments: the halving path everywhere
        framer = JsonStreamFramer()
        assert feed_in_pieces(framer, stream, cuts) == encoded
    assert framer.pending == 0


def test_byte_by_byte_with_escapes_at_every_boundary() -> None:
    tricky = ['x\\"}{', "\\", "{", '}\\\\"}', "\\\\"]
    message = json.dumps({"a": tricky, "b": [{"c": text} for text in tricky]}).encode()
    framer = JsonStreamFramer()
    out: list[bytes] = []
    for index in range(len(message) * 2):
        out += framer.feed((message + message)[index : index + 1])
    assert out == [message, message]


def test_large_message_in_reads_of_any_size() -> None:
    row = {"match": 'inport == "vm1" && ip4.src == {10.0.0.1}', "actions": 'next; /* "}" */'}
    message = json.dumps({"id": 1, "method": "transact", "params": [row] * 20000}).encode()
    for size in (1000, 65536, len(message)):
        framer = JsonStreamFramer()
        assert feed_in_pieces(framer, message, list(range(size, len(message), size))) == [message]


def test_garbage_between_messages_is_an_error() -> None:
    framer = JsonStreamFramer()
    assert framer.feed(b'{"id":1} ') == [b'{"id":1}']
    with pytest.raises(FramingError, match="expected a JSON object"):
        framer.feed(b'[1, 2] {"id":2}')


def test_oversized_message_is_an_error() -> None:
    framer = JsonStreamFramer(max_message=100)
    with pytest.raises(FramingError, match="longer than 100 bytes"):
        framer.feed(b'{"a":"' + b"x" * 200)
