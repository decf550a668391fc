"""Tokens of OVN's logical-flow language (after lib/lex.c), from one compiled regex.

A token is a plain tuple ``(kind, value, column)`` for speed: ``kind`` is
"id", "int", "str", "as" ($name), "pg" (@name), "end", or the operator text
itself ("==", "(", "<->" ...); ``value`` is the identifier/string text or an
:class:`~ovn_inject.lang.ast.Integer`; ``column`` is 1-based.
"""

from __future__ import annotations

# The socket module's C core has inet_pton; the module itself (enum conversions of its
# constants, selectors) costs a flow-add's check more than the parse.
import _socket
import re

from ovn_inject.lang.ast import Integer, IntFormat
from ovn_inject.lang.errors import ParseError

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from typing import Any

    Token = tuple[str, Any, int]
else:
    Token = tuple

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


def tokenize(text: str) -> list[Token]:
    if "\x00" in text:  # anywhere, a string or comment too: OVSDB cannot store it, OVN's lexer stops there
        raise ParseError("invalid byte 0x00", text, text.index("\x00") + 1)
    tokens: list[Token] = []
    append = tokens.append
    for m in _TOKEN_RE.finditer(text):
        group = m.lastgroup
        if group == "ws":
            continue
        column = m.start() + 1
        if group == "id":
            append(("id", m.group(), column))
        elif group == "op":
            op = m.group()
            append((op, op, column))
        elif group == "int":
            append(("int", parse_integer(m.group(), text, column), column))
        elif group == "str":
            append(("str", _unescape(m.group()[1:-1], text, column), column))
        elif group == "ref":
            word = m.group()
            append(("as" if word[0] == "$" else "pg", word[1:], column))
        else:
            char = m.group()
            if char == "/" and text.startswith("/*", m.start()):
                raise ParseError("'/*' without a matching '*/' on the same line", text, column)
            reason = _BAD_CHAR.get(char) or (
                f"invalid character {char!r}" if char.isprintable() else f"invalid byte {ord(char):#04x}"
            )
            raise ParseError(reason, text, column)
    end = ("end", None, len(text) + 1)
    append(end)
    append(end)  # a second one lets the parsers look one token ahead anywhere
    return tokens


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
