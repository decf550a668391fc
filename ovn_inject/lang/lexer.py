"""Tokens of OVN's logical-flow language (after lib/lex.c), scanned without regular expressions.

A token is a plain tuple ``(kind, value, column)`` for speed: ``kind`` is
"id", "int", "str", "as" ($name), "pg" (@name), "end", or the operator text
itself ("==", "(", "<->" ...); ``value`` is the identifier/string text or an
:class:`~ovn_inject.lang.ast.Integer`; ``column`` is 1-based.

The scanner takes at each position the first of these that matches, as the
one regex it replaces did (tests/unit/lang/test_lexer.py holds that regex and
compares the two): white space or a comment, a number, an identifier, a quoted
string, a ``$``/``@`` reference, an operator, else one bad character. Not the
``re`` module: a direct ``flow-add`` imports nothing else that needs it, and it
and compiling that regex were 2 ms of the command's CPU (issue #15).
"""

from __future__ import annotations

# The socket module's C core has inet_pton; the module itself (enum conversions of its
# constants, selectors) costs a flow-add's check more than the parse.
import _socket

from ovn_inject.lang.ast import Integer, IntFormat
from ovn_inject.lang.errors import ParseError

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from typing import Any, NoReturn

    Token = tuple[str, Any, int]
else:
    Token = tuple

_SPACE = frozenset(" \t\n\r\v\f")
_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_ALNUM = _LETTERS | _DIGITS
_ALNUM_COLON = _ALNUM | {":"}
_HEX_LETTERS = frozenset("abcdefABCDEF")
_ID_START = _LETTERS | {"_"}
_ID_REST = _ALNUM | {"_", "."}
_REF_START = _ID_START | {"."}
_NUMBER_START = _DIGITS | _HEX_LETTERS | {":"}
_PAIRS = frozenset({"==", "!=", "<=", ">=", "&&", "||", "--", ".."})
_OPERATORS = frozenset("(){}[]=!<>,;:-")
#: Where only an operator (or a bad character) can start: not ":", which may start "::1".
_OPERATOR_START = (_OPERATORS | {"&", "|", "."}) - {":"}

_BAD_CHAR = {
    "&": "'&' is only valid as part of '&&'",
    "|": "'|' is only valid as part of '||'",
    ".": "'.' is only valid as part of '..' or a number",
    "/": "'/' is only valid as part of '//' or '/*' or after a number",
    "$": "'$' must be followed by an address set name",
    "@": "'@' must be followed by a port group name",
    "^": "unexpanded template",
    '"': "input ends inside a quoted string",
}
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")
_MAX_HEX_BITS = 128


#: A word's kind when the scanner reads it whole as one operator or name: the operators, and the
#: names met so far (a flow's fields), up to :data:`_MAX_WORD_KINDS` of them.
_WORD_KINDS = {op: op for op in (*_PAIRS, *_OPERATORS, "<->")}
_MAX_WORD_KINDS = 4096


def tokenize(text: str) -> list[Token]:
    if "\x00" in text:  # anywhere, a string or comment too: OVSDB cannot store it, OVN's lexer stops there
        raise ParseError("invalid byte 0x00", text, text.index("\x00") + 1)
    if text.isascii():
        words = _by_words(text)
        if words is not None:
            return words
    return _scan(text)


def _by_words(text: str) -> list[Token] | None:
    """The tokens of a text whose words, between single spaces, are each one plain token; else None.

    A flow's usual match is such a text (``inport == "vm1" && tcp.dst == 80``): reading it a
    word at a time takes a few string methods per token, where the scanner takes a step per
    character. A word is taken only when the scanner, which would be at its first character,
    would read it whole as one token: an operator, a name, a number (its extent is the
    word's), a quoted string without escapes. Anything else (a comment, an escape, a tab, a
    string with a space, two tokens in one word) is left to the scanner, from the start.
    """
    tokens: list[Token] = []
    append = tokens.append
    column = 1
    for word in text.split(" "):
        if not word:
            column += 1
            continue
        kind = _WORD_KINDS.get(word)
        if kind is not None:
            append((kind, word, column))
            column += len(word) + 1
            continue
        first = word[0]
        if first in _ID_START and (word.isalnum() or word.replace("_", "a").replace(".", "a").isalnum()):
            append(("id", word, column))  # ASCII (the caller checked): isalnum is [0-9A-Za-z]
            if len(_WORD_KINDS) < _MAX_WORD_KINDS:
                _WORD_KINDS[word] = "id"
        elif first in _NUMBER_START and (
            word.isdigit()
            or (".." not in word and word.replace(".", "").isdigit())
            or _number_end(word, 0, first) == len(word)
        ):
            append(("int", parse_integer(word, text, column), column))
        elif (
            first == '"' and word[-1] == '"' and len(word) > 1 and '"' not in word[1:-1] and "\\" not in word
        ):
            append(("str", word[1:-1], column))
        else:
            return None
        column += len(word) + 1
    last = ("end", None, len(text) + 1)
    append(last)
    append(last)
    return tokens


def _scan(text: str) -> list[Token]:
    """The tokens of any text, a character at a time."""
    tokens: list[Token] = []
    append = tokens.append
    length = len(text)
    pos = 0
    while pos < length:
        char = text[pos]
        if char in _SPACE:
            pos += 1
            while pos < length and text[pos] in _SPACE:
                pos += 1
            continue
        if char == "/":
            comment = _comment_end(text, pos)
            if comment >= 0:
                pos = comment
                continue
        column = pos + 1
        if char in _OPERATOR_START:  # no number, name, string or reference starts so
            op = _operator(text, pos, char)
            if op is not None:
                append((op, op, column))
                pos += len(op)
                continue
            _refuse(text, pos, char)
        end = _number_end(text, pos, char) if char in _NUMBER_START else -1
        if end >= 0:
            append(("int", parse_integer(text[pos:end], text, column), column))
        elif char in _ID_START:
            end = pos + 1
            while end < length and text[end] in _ID_REST:
                end += 1
            append(("id", text[pos:end], column))
        elif char == '"' and (end := _string_end(text, pos)) >= 0:
            append(("str", _unescape(text[pos + 1 : end - 1], text, column), column))
        elif char in "$@" and pos + 1 < length and text[pos + 1] in _REF_START:
            end = _run(text, pos + 2, _ID_REST)
            append(("as" if char == "$" else "pg", text[pos + 1 : end], column))
        elif (op := _operator(text, pos, char)) is not None:
            end = pos + len(op)
            append((op, op, column))
        else:
            _refuse(text, pos, char)
        pos = end
    last = ("end", None, len(text) + 1)
    append(last)
    append(last)  # a second one lets the parsers look one token ahead anywhere
    return tokens


def _refuse(text: str, pos: int, char: str) -> NoReturn:
    """The error of a character no token starts with."""
    column = pos + 1
    if char == "/" and text.startswith("/*", pos):
        raise ParseError("'/*' without a matching '*/' on the same line", text, column)
    reason = _BAD_CHAR.get(char) or (
        f"invalid character {char!r}" if char.isprintable() else f"invalid byte {ord(char):#04x}"
    )
    raise ParseError(reason, text, column)


def _run(text: str, pos: int, chars: frozenset[str]) -> int:
    """Where the run of ``chars`` that starts at ``pos`` ends."""
    length = len(text)
    while pos < length and text[pos] in chars:
        pos += 1
    return pos


def _comment_end(text: str, pos: int) -> int:
    """After a ``//`` comment (up to the line's end) or a one-line ``/* */`` one at ``pos``; else -1."""
    if text.startswith("//", pos):
        line = text.find("\n", pos)
        return len(text) if line < 0 else line
    if text.startswith("/*", pos):
        close = text.find("*/", pos + 2)
        if close >= 0 and text.find("\n", pos + 2, close) < 0:
            return close + 2
    return -1


def _extent(text: str, pos: int) -> int:
    """After a number's characters: letters, digits and colons, then dot-separated parts (not ``..``)."""
    pos = _run(text, pos, _ALNUM_COLON)
    length = len(text)
    while pos < length and text[pos] == "." and not text.startswith("..", pos):
        pos = _run(text, pos + 1, _ALNUM)
    return pos


def _number_end(text: str, pos: int, char: str) -> int:
    """After the number at ``pos`` (its mask too), else -1.

    A number starts with a digit, ``::`` or hex digits ending in a colon (``fe80::``, a MAC);
    what follows is checked when it is read (:func:`parse_integer`).
    """
    if char in _DIGITS:
        pos += 1
    elif text.startswith("::", pos):
        pos += 2
    elif char in _HEX_LETTERS:
        pos = _run(text, pos + 1, _HEXDIGITS)
        if not text.startswith(":", pos):
            return -1
        pos += 1
    else:
        return -1
    pos = _extent(text, pos)
    if text.startswith("/", pos):
        pos = _extent(text, pos + 1)
    return pos


def _string_end(text: str, pos: int) -> int:
    """After the quoted string that opens at ``pos`` (a backslash escapes any character), else -1."""
    at = pos + 1
    while True:
        quote = text.find('"', at)
        backslash = text.find("\\", at, len(text) if quote < 0 else quote)
        if backslash < 0:
            return quote + 1 if quote >= 0 else -1
        if backslash + 1 >= len(text):
            return -1
        at = backslash + 2


def _operator(text: str, pos: int, char: str) -> str | None:
    """The operator at ``pos``: ``<->``, else one of two characters, else one of one; else None."""
    if text.startswith("<->", pos):
        return "<->"
    pair = text[pos : pos + 2]
    if pair in _PAIRS:
        return pair
    return char if char in _OPERATORS else None


def _unescape(body: str, text: str, column: int) -> str:
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "u" and len(body) >= i + 6 and all(c in _HEXDIGITS for c in body[i + 2 : i + 6]):
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        else:
            raise ParseError(f"invalid escape '\\{nxt}' in quoted string", text, column + i + 1)
    return "".join(out)


def _plain(word: str, text: str, column: int) -> tuple[int, IntFormat]:
    """Value and format of one unmasked numeric word (decimal, hex, MAC, IPv4, IPv6)."""
    if not word:
        raise ParseError("integer constant expected", text, column)
    if word.isdigit():
        if word[0] == "0" and len(word) > 1:
            raise ParseError("decimal constants must not have leading zeros", text, column)
        value = int(word)
        if value >= 1 << 64:
            raise ParseError("decimal constants must be less than 2**64", text, column)
        return value, "dec"
    if len(word) == 17 and word[2] == ":" and word.count(":") == 5:
        parts = word.split(":")
        if all(len(p) == 2 and p[0] in _HEXDIGITS and p[1] in _HEXDIGITS for p in parts):
            return int("".join(parts), 16), "mac"
    if word[0] == "0" and word[1] in "xX":
        digits = word[2:]
        if not digits:
            raise ParseError(f"hex digits expected following 0{word[1]}", text, column)
        if not all(c in _HEXDIGITS for c in digits):
            raise ParseError("invalid syntax in hexadecimal constant", text, column)
        value = int(digits, 16)
        if value >= 1 << _MAX_HEX_BITS:
            raise ParseError("hexadecimal constant requires more than 128 bits", text, column)
        return value, "hex"
    if len(word) < 46:
        try:
            return int.from_bytes(_socket.inet_pton(_socket.AF_INET, word), "big"), "ipv4"
        except OSError:
            pass
        try:
            return int.from_bytes(_socket.inet_pton(_socket.AF_INET6, word), "big"), "ipv6"
        except OSError:
            pass
    raise ParseError(f"invalid numeric constant '{word}'", text, column)


def _prefix_mask(bits: int, width: int) -> int:
    return ((1 << bits) - 1) << (width - bits)


def parse_integer(word: str, text: str = "", column: int = 0) -> Integer:
    """One integer token as OVN reads it, mask included (``10.0.0.0/8``, ``0/0x1``, ``a/b``)."""
    if "/" not in word:
        value, fmt = _plain(word, text, column)
        return Integer(value, fmt)
    value_word, mask_word = word.split("/", 1)
    value, fmt = _plain(value_word, text, column)
    mask, mask_fmt = _plain(mask_word, text, column + len(value_word) + 1)
    if fmt == mask_fmt:
        pass
    elif fmt == "ipv4" and mask_fmt == "dec" and mask <= 32:
        mask = _prefix_mask(mask, 32)
    elif fmt == "ipv6" and mask_fmt == "dec" and mask <= 128:
        mask = _prefix_mask(mask, 128)
    elif fmt == "dec" and mask_fmt == "hex" and value == 0:
        fmt = "hex"
    else:
        raise ParseError(f"value and mask have incompatible formats ({fmt} and {mask_fmt})", text, column)
    return Integer(value & mask, fmt, mask)
