"""The scanner gives what the regex it replaced gave: the same tokens, or the same error and column."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ovn_inject.lang.errors import ParseError
from ovn_inject.lang.lexer import _BAD_CHAR, Token, _unescape, parse_integer, tokenize

# The lexer's regex before it became a scanner (the first alternative that matches wins).
_EXTENT = r"[0-9A-Za-z:]*(?:\.(?!\.)[0-9A-Za-z]*)*"
_TOKEN_RE = re.compile(
    rf"""
    (?P<ws>[ \t\n\r\v\f]+|//[^\n]*|/\*(?:(?!\*/)[^\n])*\*/)
  | (?P<int>(?:[0-9]|::|[A-Fa-f][0-9A-Fa-f]*:){_EXTENT}(?:/{_EXTENT})?)
  | (?P<id>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<ref>[$@][A-Za-z_.][A-Za-z0-9_.]*)
  | (?P<op><->|==|!=|<=|>=|&&|\|\||--|\.\.|[(){{}}\[\]=!<>,;:-])
  | (?P<bad>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def _by_regex(text: str) -> list[Token]:
    """The regex lexer's tokenize, as it was."""
    if "\x00" in text:
        raise ParseError("invalid byte 0x00", text, text.index("\x00") + 1)
    tokens: list[Token] = []
    for m in _TOKEN_RE.finditer(text):
        group = m.lastgroup
        column = m.start() + 1
        if group == "ws":
            continue
        if group == "id":
            tokens.append(("id", m.group(), column))
        elif group == "op":
            tokens.append((m.group(), m.group(), column))
        elif group == "int":
            tokens.append(("int", parse_integer(m.group(), text, column), column))
        elif group == "str":
            tokens.append(("str", _unescape(m.group()[1:-1], text, column), column))
        elif group == "ref":
            word = m.group()
            tokens.append(("as" if word[0] == "$" else "pg", word[1:], column))
        else:
            char = m.group()
            if char == "/" and text.startswith("/*", m.start()):
                raise ParseError("'/*' without a matching '*/' on the same line", text, column)
            reason = _BAD_CHAR.get(char) or (
                f"invalid character {char!r}" if char.isprintable() else f"invalid byte {ord(char):#04x}"
            )
            raise ParseError(reason, text, column)
    end = ("end", None, len(text) + 1)
    return [*tokens, end, end]


def _outcome(lex: object, text: str) -> object:
    try:
        return lex(text)  # type: ignore[operator]
    except ParseError as exc:
        return ("error", str(exc))


def _same(text: str) -> None:
    assert _outcome(tokenize, text) == _outcome(_by_regex, text), text


# Pieces that meet at every boundary the regex decides on: numbers (IPv4, IPv6, MACs, masks),
# words, strings with escapes, references, comments, operators, and characters it refuses.
_PIECES = [
    *'0123456789abcdefABCDEFxXgzZ_.:/-<>=!&|()[]{},;$@"\\*\n\t \r\v\f^#%é\x01',
    "::", "..", "<->", "//", "/*", "*/", "0x", "fe80:", "10.0.0.1", "ip4.dst", "eth.src",
    '"a\\"b"', "\\u00e9",
]  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=14).map("".join))
def test_pieces_lex_as_by_the_regex(text: str) -> None:
    _same(text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=30))
def test_any_text_lexes_as_by_the_regex(text: str) -> None:
    _same(text)


def test_corpus_lexes_as_by_the_regex() -> None:
    """Every match and action text of OVN's own tests (tests/unit/lang/corpus)."""
    texts = 0
    for path in sorted((Path(__file__).parent / "corpus").glob("*.txt")):
        for line in path.read_text().splitlines():
            if line[:2] in ("M ", "A "):
                _same(line[2:])
                texts += 1
    assert texts > 1000


def test_edges() -> None:
    for text in [
        "",
        "a /* b */ c",
        "a /* b \n */ c",
        "a /* b",
        "1//x\n2",
        '"\\',
        '"abc\\"',
        '"a\\\\" b',
        "::1/64",
        "fe80::1 && aa:bb:cc:dd:ee:ff/ff:ff:ff:00:00:00",
        "10.0.0.0/8..",
        "1.2..3",
        "ab:cd",
        "$.x @_y $ @",
        "a<->b <-> <- <= --",
        "reg0[0..3] == 0x1/0xf",
    ]:
        _same(text)


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=8).map(" ".join))
def test_spaced_words_lex_as_by_the_regex(text: str) -> None:
    """Words between spaces, as a flow's usual match is written: tokenize reads those a word at a time."""
    _same(text)
