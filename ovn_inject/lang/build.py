"""Build trees in code, for the compiler: ``match_and(eq(field("reg9", 0, 3), 2), eq("inport", "vm1"))``.

Plain Python values become constants: int -> decimal, str -> quoted string;
:func:`address` parses OVN notation ("10.0.0.0/8", "02:00:00:00:00:01", "fe80::1").
Check the result with ``check_match``/``check_actions`` before printing it.
"""

from __future__ import annotations

from typing import Literal

from ovn_inject.lang.ast import (
    Action,
    Actions,
    And,
    Constant,
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
    String,
    Test,
)
from ovn_inject.lang.ast import Comparison as _Comparison
from ovn_inject.lang.lexer import parse_integer

Value = int | str | Constant


def field(name: str, low: int | None = None, high: int | None = None) -> FieldRef:
    """``name``, ``name[low]`` (high None) or ``name[low..high]``."""
    if low is not None and high is None:
        high = low
    return FieldRef(name, low, high)


def address(text: str) -> Integer:
    """An integer constant in OVN notation (IPv4/IPv6/MAC/hex, with optional mask or prefix)."""
    return parse_integer(text, text, 1)


def constant(value: Value) -> Constant:
    if isinstance(value, bool):
        return Integer(int(value))
    if isinstance(value, int):
        return Integer(value)
    if isinstance(value, str):
        return String(value)
    return value


def _ref(f: FieldRef | str) -> FieldRef:
    return FieldRef(f) if isinstance(f, str) else f


def compare(f: FieldRef | str, op: str, *values: Value) -> _Comparison:
    """``f op value`` or, with several values, ``f op {v1, v2}``."""
    return _Comparison(_ref(f), op, tuple(constant(v) for v in values), len(values) != 1)


def eq(f: FieldRef | str, *values: Value) -> _Comparison:
    return compare(f, "==", *values)


def test(f: FieldRef | str) -> Test:
    return Test(_ref(f))


def match_and(*items: Expr) -> Expr:
    return items[0] if len(items) == 1 else And(tuple(items))


def match_or(*items: Expr) -> Expr:
    return items[0] if len(items) == 1 else Or(tuple(items))


def match_not(item: Expr) -> Not:
    return Not(item)


def load(dst: FieldRef | str, value: int | str | Integer | String) -> Load:
    c = constant(value)
    assert isinstance(c, Integer | String)
    return Load(_ref(dst), c)


def move(dst: FieldRef | str, src: FieldRef | str) -> Move:
    return Move(_ref(dst), _ref(src))


def next_table(table: int | None = None, pipeline: Literal["ingress", "egress"] | None = None) -> Next:
    return Next(table, pipeline)


def output() -> Output:
    return Output()


def generic(name: str, *args: str, body: Actions | None = None) -> Generic:
    return Generic(name, tuple(args) if args else None, body)


def actions(*items: Action) -> Actions:
    return Actions(tuple(items))
