"""The stream parser must split and decode exactly as python-ovs's own parser does."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ovn_inject.ovs_json import DECODE_LIMIT, SKIP_DEPTH, MessageStream, StreamParser

_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.sampled_from('ab"\\{}[] \n\u00e9')),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)


def _parse_stream(stream: str, cuts: list[int]) -> list[Any]:
    """Feed ``stream`` in pieces cut at ``cuts``, as ovs.jsonrpc does; return every decoded message."""
    pieces, last = [], 0
    for cut in sorted(set(c % (len(stream) + 1) for c in cuts)):
        pieces.append(stream[last:cut])
        last = cut
    pieces.append(stream[last:])
    out, parser, pending = [], StreamParser(), ""
    for piece in pieces:
        pending += piece
        while pending:
            pending = pending[parser.feed(pending) :]
            if not parser.is_done():
                break
            out.append(parser.finish())
            parser = StreamParser()
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.dictionaries(st.text(max_size=5), _values, max_size=4), min_size=1, max_size=4),
    st.lists(st.integers(0, 10_000), max_size=8),
)
def test_messages_split_anywhere_decode_as_sent(messages: list[dict[str, Any]], cuts: list[int]) -> None:
    stream = "\n".join(json.dumps(m, ensure_ascii=False) for m in messages)
    assert _parse_stream(stream, cuts) == messages


def test_escaped_quote_and_backslash_across_reads() -> None:
    stream = json.dumps({"a": 'x\\"}', "b": ["\\", '"']})
    for cut in range(len(stream) + 1):
        assert _parse_stream(stream, [cut]) == [json.loads(stream)]


def test_garbage_is_an_error_string() -> None:
    parser = StreamParser()
    parser.feed("{nope}")
    assert isinstance(parser.finish(), str)


def test_a_message_stream_splits_anywhere_even_inside_a_character() -> None:
    messages = [{"id": 1, "result": [{"rows": [{"name": "é€😀"}]}]}, {"id": "echo", "method": "echo"}, [1]]
    data = b" ".join(json.dumps(m, ensure_ascii=False).encode() for m in messages) + b"{"
    for cut in range(1, len(data)):
        stream = MessageStream()
        got = stream.feed(data[:cut]) + stream.feed(data[cut:])
        assert got == messages, cut  # the trailing "{" is a value still on its way


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.dictionaries(st.text(max_size=5), _values, max_size=4), min_size=1, max_size=4),
    st.lists(st.integers(0, 10_000), max_size=4),
)
def test_whole_and_split_messages_decode_as_sent(messages: list[dict[str, Any]], cuts: list[int]) -> None:
    """Whole values are decoded at once, the others scanned: the same values either way."""
    data = "\n".join(json.dumps(m, ensure_ascii=False) for m in messages).encode()
    stream, got, last = MessageStream(), [], 0
    for cut in sorted({c % (len(data) + 1) for c in cuts}):
        got += stream.feed(data[last:cut])
        last = cut
    assert got + stream.feed(data[last:]) == messages


def test_a_whole_message_that_is_no_json_is_an_error_string() -> None:
    assert [isinstance(v, str) for v in MessageStream().feed(b'{nope} {"id": 1}')] == [True, False]


def test_values_nested_deeper_than_one_regex_step_split_anywhere() -> None:
    deep: Any = {"x": 'a"}\\'}
    for depth in range(SKIP_DEPTH * 2 + 3):
        deep = [deep, {"k": deep}] if depth % 5 == 0 else ([deep] if depth % 2 else {"d": deep})
    messages = [{"id": 1, "result": deep}, {"id": 2, "result": [[]]}]
    stream = "".join(json.dumps(m) for m in messages)
    for cut in range(0, len(stream) + 1, 7):
        assert _parse_stream(stream, [cut, cut + 3]) == messages, cut


def test_a_read_that_ends_with_a_strings_backslash() -> None:
    stream = json.dumps({"a": ["\\\\\\", '\\"'], "b": "\\u00e9"})
    for cut in range(len(stream) + 1):
        for second in range(cut, len(stream) + 1, 3):
            assert _parse_stream(stream, [cut, second]) == [json.loads(stream)]


def test_bad_json_cut_anywhere_is_an_error_and_the_next_message_decodes() -> None:
    stream = '{nope} {"id": 1} [tru] [2]'
    for cut in range(len(stream) + 1):
        got = _parse_stream(stream, [cut])
        assert [isinstance(v, str) for v in got] == [True, False, True, False], cut
        assert got[1::2] == [{"id": 1}, [2]], cut


def test_a_value_longer_than_is_decoded_again_is_scanned_in_reads_as_python_ovs_makes_them() -> None:
    big = {"id": 1, "result": [{"rows": [{"name": f'row {i} \\"é', "n": i} for i in range(3_000)]}]}
    stream = json.dumps(big, ensure_ascii=False) + json.dumps({"id": 2})
    assert len(stream) > DECODE_LIMIT
    assert _parse_stream(stream, list(range(4096, len(stream), 4096))) == [big, {"id": 2}]
    assert _parse_stream(stream, list(range(5, len(stream), 1000))) == [big, {"id": 2}]
