"""``find``'s conditions with OVSDB's relational operators, as ovn-nbctl/ovs-vsctl read them (pure).

``COLUMN[:KEY]OP VALUE`` where OP is one of ``= != < > <= >=`` (a scalar, or a
whole set for ``=``/``!=``) or ``{=} {!=} {<} {>} {<=} {>=}`` (set equality,
proper/improper subset and superset; VALUE a comma-separated set).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ovn_inject.cli.output import format_value
from ovn_inject.errors import OvnInjectError

_OPERATORS = ("{!=}", "{<=}", "{>=}", "{=}", "{<}", "{>}", "!=", "<=", ">=", "=", "<", ">")
_CONDITION = re.compile(
    r"^(?P<column>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<key>[^=!<>{}]+))?(?P<op>"
    + "|".join(re.escape(o) for o in _OPERATORS)
    + r")(?P<value>.*)$",
    re.DOTALL,
)


class ConditionError(OvnInjectError):
    """A condition ``find`` cannot read."""


@dataclass(frozen=True)
class Condition:
    column: str
    key: str | None
    op: str
    value: str

    def matches(self, record: Mapping[str, Any]) -> bool:
        if self.column not in record:
            raise ConditionError(f"unknown column '{self.column}'; columns: {', '.join(record)}")
        actual = record[self.column]
        if self.key is not None:
            actual = actual.get(self.key) if isinstance(actual, dict) else None
        have = _as_set(actual)
        if self.op.startswith("{"):
            want = {_typed(v.strip(), have) for v in _split(self.value)}
            return _set_compare(self.op.strip("{}"), frozenset(have), frozenset(want))
        if self.op in ("=", "!="):
            if isinstance(actual, list | dict) or actual is None:
                equal = format_value(actual) == self.value or _text_set(actual) == _split(self.value)
            else:
                equal = actual == _typed(self.value, have) or format_value(actual) == self.value
            return equal == (self.op == "=")
        if len(have) != 1:
            return False
        [value] = have
        other = _typed(self.value, have)
        try:
            return bool(
                {"<": value < other, ">": value > other, "<=": value <= other, ">=": value >= other}[self.op]
            )
        except TypeError:
            raise ConditionError(
                f"'{self.column}{self.op}{self.value}': cannot compare "
                f"{format_value(value)} with {self.value}"
            ) from None


def parse_condition(text: str) -> Condition:
    found = _CONDITION.match(text)
    if found is None:
        raise ConditionError(
            f"bad condition '{text}': expected COLUMN[:KEY]OPERATOR VALUE with an operator of "
            f"{' '.join(_OPERATORS[::-1])}"
        )
    return Condition(found["column"], found["key"], found["op"], found["value"])


def _split(value: str) -> list[str]:
    inner = value.strip()
    if inner[:1] in "[{" and inner[-1:] in "]}":
        inner = inner[1:-1]
    return sorted(_unquote(v.strip()) for v in inner.split(",") if v.strip())


def _text_set(actual: Any) -> list[str]:
    return sorted(str(v) for v in _as_set(actual))


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError:
            return text
        return loaded if isinstance(loaded, str) else text
    return text


def _as_set(actual: Any) -> set[Any]:
    if actual is None:
        return set()
    if isinstance(actual, dict):
        return {f"{k}={v}" for k, v in actual.items()}
    if isinstance(actual, list | tuple):
        return set(actual)
    return {actual}


def _typed(text: str, like: set[Any]) -> Any:
    """``text`` as the type of the column's values (a number compares as a number)."""
    text = _unquote(text.strip())
    sample = next(iter(like), None)
    if isinstance(sample, bool):
        return text == "true"
    if isinstance(sample, int):
        try:
            return int(text, 0)
        except ValueError:
            raise ConditionError(f"'{text}' is not an integer") from None
    if isinstance(sample, float):
        return float(text)
    if sample is None and re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def _set_compare(op: str, have: frozenset[Any], want: frozenset[Any]) -> bool:
    return {
        "=": have == want,
        "!=": have != want,
        "<": have < want,
        ">": have > want,
        "<=": have <= want,
        ">=": have >= want,
    }[op]
