"""The canonical printer: one spelling per tree, accepted by ovn-controller, re-parsed to an equal tree."""

from __future__ import annotations

import _socket  # inet_ntop without the socket module's import (see lexer)

from ovn_inject.lang.ast import (
    Action,
    Actions,
    AddressSetRef,
    And,
    Bool,
    ChassisResident,
    Clone,
    Comparison,
    Constant,
    DecTtl,
    Drop,
    Exchange,
    Expr,
    FieldRef,
    Generic,
    Integer,
    Load,
    Move,
    Next,
    Not,
    Or,
    Output,
    PortGroupRef,
    String,
    Test,
)

_CHAINS = (And, Or)  # for isinstance: ``And | Or`` in the call makes a union at every call
_ESCAPE = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def format_string(value: str) -> str:
    if value.isprintable() and '"' not in value and "\\" not in value:
        return '"' + value + '"'  # nothing to escape (a control character is never printable)
    out = []
    for char in value:
        if char in _ESCAPE:
            out.append(_ESCAPE[char])
        elif ord(char) < 0x20:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _prefix_length(mask: int, width: int) -> int | None:
    inverted = ~mask & ((1 << width) - 1)
    if inverted & (inverted + 1):
        return None
    return width - inverted.bit_length()


def _plain(value: int, fmt: str) -> str:
    if fmt == "dec":
        return str(value)
    if fmt == "hex":
        return f"{value:#x}"
    if fmt == "ipv4":
        return _socket.inet_ntop(_socket.AF_INET, value.to_bytes(4, "big"))
    if fmt == "ipv6":
        return _socket.inet_ntop(_socket.AF_INET6, value.to_bytes(16, "big"))
    raw = f"{value:012x}"
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2))


def format_integer(c: Integer) -> str:
    text = _plain(c.value, c.fmt)
    if c.mask is None:
        return text
    if c.fmt in ("ipv4", "ipv6"):
        length = _prefix_length(c.mask, 32 if c.fmt == "ipv4" else 128)
        if length is not None:
            return f"{text}/{length}"
    return f"{text}/{_plain(c.mask, c.fmt)}"


def format_constant(c: Constant) -> str:
    if type(c) is Integer:  # the usual ones by exact type: the tree's classes have no subclasses
        return format_integer(c)
    if type(c) is String:
        return format_string(c.value)
    if isinstance(c, Integer):
        return format_integer(c)
    if isinstance(c, String):
        return format_string(c.value)
    if isinstance(c, AddressSetRef):
        return "$" + c.name
    if isinstance(c, PortGroupRef):
        return "@" + c.name
    raise TypeError(f"not a constant: {c!r}")


def format_field(f: FieldRef) -> str:
    if f.low is None:
        return f.name
    if f.low == f.high:
        return f"{f.name}[{f.low}]"
    return f"{f.name}[{f.low}..{f.high}]"


def format_match(e: Expr) -> str:
    if type(e) is And:  # the usual tree: an AND of comparisons (the classes have no subclasses)
        parts = []
        for item in e.items:
            # A comparison of a whole field with one value: printed as below, without a call.
            if (
                type(item) is Comparison
                and len(item.values) == 1
                and not item.in_set
                and item.field.low is None
            ):
                parts.append(f"{item.field.name} {item.op} {format_constant(item.values[0])}")
                continue
            text = format_match(item)
            parts.append(f"({text})" if type(item) is And or type(item) is Or else text)
        return " && ".join(parts)
    if isinstance(e, Comparison):
        if len(e.values) == 1:
            values = format_constant(e.values[0])
        else:
            values = ", ".join(format_constant(v) for v in e.values)
        if e.in_set:
            values = "{" + values + "}"
        field = e.field
        return f"{field.name if field.low is None else format_field(field)} {e.op} {values}"
    if isinstance(e, _CHAINS):
        joiner = " && " if isinstance(e, And) else " || "
        parts = []
        for item in e.items:
            text = format_match(item)
            parts.append(f"({text})" if type(item) is And or type(item) is Or else text)
        return joiner.join(parts)
    if isinstance(e, Test):
        return format_field(e.field)
    if isinstance(e, Not):
        operand = e.operand
        text = format_match(operand)
        if type(operand) in (Test, Bool, ChassisResident):
            return "!" + text
        return f"!({text})"
    if isinstance(e, Bool):
        return "1" if e.value else "0"
    if isinstance(e, ChassisResident):
        return f"is_chassis_resident({format_string(e.port)})"
    raise TypeError(f"not a match expression node: {e!r}")


def _join_words(words: tuple[str, ...]) -> str:
    out: list[str] = []
    prev_wordy = False
    for word in words:
        wordy = word[0].isalnum() or word[0] in '"_$@' or word.startswith("::")
        if out and (word == "," or word == ";"):
            out.append(word + " ")
            prev_wordy = False
            continue
        if prev_wordy and wordy:
            out.append(" ")
        out.append(word)
        prev_wordy = wordy
    return "".join(out).strip()


def format_action(a: Action) -> str:
    if isinstance(a, Load):
        return f"{format_field(a.dst)} = {format_constant(a.value)};"
    if isinstance(a, Next):
        if a.pipeline is not None:
            table = "" if a.table is None else f", table={a.table}"
            return f"next(pipeline={a.pipeline}{table});"
        return "next;" if a.table is None else f"next({a.table});"
    if isinstance(a, Output):
        return "output;"
    if isinstance(a, Drop):
        return "drop;"
    if isinstance(a, DecTtl):
        return "ip.ttl--;"
    if isinstance(a, Move):
        return f"{format_field(a.dst)} = {format_field(a.src)};"
    if isinstance(a, Exchange):
        return f"{format_field(a.a)} <-> {format_field(a.b)};"
    if isinstance(a, Clone):
        inner = format_actions(a.body)
        return f"clone {{ {inner} }};" if inner else "clone { };"
    if isinstance(a, Generic):
        text = a.name
        if a.args is not None:
            text += f"({_join_words(a.args)})"
        if a.result is not None:
            text = f"{format_field(a.result)} = {text}"
        if a.body is not None:
            inner = format_actions(a.body)
            text += f" {{ {inner} }}" if inner else " { }"
        return text + ";"
    raise TypeError(f"not an action node: {a!r}")


def format_actions(actions: Actions) -> str:
    return " ".join(format_action(a) for a in actions.items)
