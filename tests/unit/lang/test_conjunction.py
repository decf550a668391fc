"""MatchParser.conjunction (a flow's usual match in one loop) builds what the recursive descent builds."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ovn_inject.lang.errors import LanguageError
from ovn_inject.lang.match_parser import MatchParser


def _outcome(text: str, flat: bool) -> object:
    try:
        parser = MatchParser(text)
        if not flat:
            parser.conjunction = lambda: None  # type: ignore[method-assign]
        tree = parser.parse()
    except LanguageError as exc:
        return ("error", str(exc), exc.column)
    return repr(tree), parser.i  # repr shows the positions, which == leaves out


def _same(text: str) -> None:
    assert _outcome(text, True) == _outcome(text, False), text


_FIELDS = ["inport", "ip4.src", "tcp.dst", "eth.src", "reg0", "ct.est", "tcp", "nosuch.field", "ip.ttl"]
_OPS = ["==", "!=", "<", ">=", "=", "&&", "||"]
_VALUES = ['"vm1"', "10.0.0.1", "10.0.0.0/8", "80", "$as", "@pg", "{1, 2}", "[0]", "(", ")", "!", "0x1f"]


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(_FIELDS + _OPS + _VALUES), max_size=12).map(" ".join))
def test_words_parse_as_by_the_descent(text: str) -> None:
    _same(text)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(_FIELDS), st.sampled_from(_OPS[:4]), st.sampled_from(_VALUES[:7])),
        min_size=1,
        max_size=4,
    ).map(lambda items: " && ".join(" ".join(item) for item in items))
)
def test_conjunctions_parse_as_by_the_descent(text: str) -> None:
    _same(text)


def test_corpus_parses_as_by_the_descent() -> None:
    """Every match text of OVN's own tests (tests/unit/lang/corpus)."""
    texts = 0
    for path in sorted((Path(__file__).parent / "corpus").glob("*.txt")):
        for line in path.read_text().splitlines():
            if line.startswith("M "):
                _same(line[2:])
                texts += 1
    assert texts > 500
