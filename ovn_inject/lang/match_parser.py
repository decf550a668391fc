"""Recursive-descent parser of match expressions (after expr_parse__ in lib/expr.c).

Binary operators come from :data:`BINARY_OPERATORS`: OVN gives ``&&`` and
``||`` the same precedence and refuses to mix them without parentheses, so a
chain is one operator repeated; ``!`` binds tighter and takes only an atomic
operand (a parenthesised expression, a bare field, ``0``/``1``).
"""

from __future__ import annotations

from collections.abc import Iterable

from ovn_inject.lang import releases
from ovn_inject.lang.ast import (
    AddressSetRef,
    And,
    Bool,
    ChassisResident,
    Comparison,
    Constant,
    Expr,
    FieldRef,
    Integer,
    Not,
    Or,
    PortGroupRef,
    String,
    Test,
)
from ovn_inject.lang.errors import ParseError
from ovn_inject.lang.lexer import Token, tokenize
from ovn_inject.lang.releases import Release

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from typing import NoReturn

#: operator -> (precedence, node class); equal precedences may not be mixed unparenthesised.
BINARY_OPERATORS: dict[str, tuple[int, type[And] | type[Or]]] = {"&&": (1, And), "||": (1, Or)}
RELATIONAL_OPERATORS = frozenset(("==", "!=", "<", "<=", ">", ">="))
_TURN = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
MAX_PAREN_DEPTH = 100
_FUNCTIONS = ("is_chassis_resident",)
_CONSTANT_KINDS = frozenset(("int", "str", "as", "pg"))


def _describe(token: Token) -> str:
    kind, value, _ = token
    if kind == "end":
        return "end of input"
    if kind == "id":
        return f"'{value}'"
    if kind == "str":
        return "a quoted string"
    if kind == "int":
        return "a number"
    if kind in ("as", "pg"):
        return f"'{'$' if kind == 'as' else '@'}{value}'"
    return f"'{kind}'"


class TokenStream:
    """Tokens of one text plus the helpers both parsers share (fields, errors)."""

    def __init__(self, text: str, release: Release | str | None = None) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.release = releases.get(release)

    def fail(self, reason: str, token: Token | None = None, hint: str = "") -> NoReturn:
        column = (token or self.tokens[self.i])[2]
        raise ParseError(reason, self.text, column, hint)

    def expected(self, what: str) -> NoReturn:
        token = self.tokens[self.i]
        self.fail(f"expected {what}, found {_describe(token)}")

    def expect(self, kind: str, what: str | None = None) -> Token:
        token = self.tokens[self.i]
        if token[0] != kind:
            self.expected(what or f"'{kind}'")
        self.i += 1
        return token

    def parse_field(self) -> FieldRef:
        token = self.tokens[self.i]
        if token[0] != "id":
            self.expected("a field name")
        name = token[1]
        table = self.release.symbols
        symbol = table.get(name)
        if symbol is None:
            known = releases.where_known("field", name)
            if name in self.release.moved:
                close = [self.release.moved[name]]
            else:  # a name of another release is no typo
                close = [] if known else _close_matches(name, table)
            hints = [known, f"did you mean '{close[0]}'?" if close else ""]
            self.fail(
                f"unknown field '{name}' in OVN {self.release.name}", token, "; ".join(h for h in hints if h)
            )
        self.i += 1
        if self.tokens[self.i][0] != "[":
            return FieldRef(name, pos=token[2])
        if symbol.is_string:
            self.fail(f"cannot select a subfield of string field {name}")
        self.i += 1
        low = self.small_int("a bit index")
        high = low
        if self.tokens[self.i][0] == "..":
            self.i += 1
            high = self.small_int("a bit index")
        self.expect("]")
        if low > high:
            self.fail(f"invalid bit range {low} to {high}", token)
        if high >= symbol.width:
            self.fail(f"cannot select bits {low} to {high} of {symbol.width}-bit field {name}", token)
        if low == 0 and high == symbol.width - 1:
            return FieldRef(name, pos=token[2])
        if symbol.level == "nominal":
            self.fail(f"cannot select a subfield of nominal field {name}", token)
        return FieldRef(name, low, high, pos=token[2])

    def small_int(self, what: str) -> int:
        token = self.tokens[self.i]
        value = token[1]
        if token[0] != "int" or value.mask is not None or value.fmt != "dec":
            self.expected(f"{what} (a decimal number)")
        if value.value > 0x7FFFFFFF:
            self.fail(f"{what} must be less than 2**31", token)
        self.i += 1
        return int(value.value)


class MatchParser(TokenStream):
    def __init__(self, text: str, release: Release | str | None = None) -> None:
        super().__init__(text, release)
        self.depth = 0

    def parse(self) -> Expr:
        flat = self.conjunction()
        if flat is not None:
            return flat
        expr = self.expression()
        if self.tokens[self.i][0] != "end":
            self.expected("'&&', '||' or end of input")
        return expr

    def conjunction(self) -> Expr | None:
        """The whole text when it is ``field OP constant`` or an AND of those, else None (nothing read).

        A flow's usual match (``inport == "vm1" && tcp.dst == 80``), built as :meth:`expression`
        builds it, in one loop over the tokens; anything else (a set, a subfield, a ``!``, an
        unknown field...) is left to :meth:`expression`, which also says what is wrong.
        """
        tokens = self.tokens
        symbols = self.release.symbols
        items: list[Expr] = []
        i = 0
        while True:
            name = tokens[i]
            if name[0] != "id":  # not the end: two tokens follow
                return None
            op, value = tokens[i + 1], tokens[i + 2]
            if op[0] not in RELATIONAL_OPERATORS or name[1] not in symbols:
                return None
            kind = value[0]
            if kind == "int":
                constant: Constant = value[1]
            elif kind == "str":
                constant = String(value[1])
            elif kind == "as":
                constant = AddressSetRef(value[1])
            elif kind == "pg":
                constant = PortGroupRef(value[1])
            else:
                return None
            column = name[2]
            field = FieldRef(name[1], pos=column)
            items.append(Comparison(field, op[0], (constant,), False, column, (value[2],)))
            after = tokens[i + 3][0]
            if after == "end":
                break
            if after != "&&":
                return None
            i += 4
        self.i = i + 3
        if len(items) == 1:
            return items[0]
        return And(tuple(items), pos=tokens[0][2])

    def expression(self) -> Expr:
        first = self.tokens[self.i]
        expr = self.unary()
        op = self.tokens[self.i][0]
        entry = BINARY_OPERATORS.get(op)
        if entry is None:
            return expr
        precedence, node = entry
        items = [expr]
        while self.tokens[self.i][0] == op:
            self.i += 1
            items.append(self.unary())
        nxt = self.tokens[self.i]
        other = BINARY_OPERATORS.get(nxt[0])
        if other is not None and other[0] == precedence:
            self.fail("'&&' and '||' must be parenthesized when used together", nxt)
        return node(tuple(items), pos=first[2])

    def unary(self) -> Expr:
        token = self.tokens[self.i]
        if token[0] != "!":
            return self.primary()[0]
        self.i += 1
        operand, atomic = self.primary()
        if not atomic:
            self.fail("missing parentheses around the operand of '!'", token)
        return Not(operand, pos=token[2])

    def primary(self) -> tuple[Expr, bool]:
        token = self.tokens[self.i]
        kind = token[0]
        if kind == "(":
            if self.depth >= MAX_PAREN_DEPTH:
                self.fail("parentheses nested too deeply")
            self.i += 1
            self.depth += 1
            expr = self.expression()
            self.depth -= 1
            self.expect(")", "')' or an operator")
            return expr, True
        if kind == "id":
            if self.tokens[self.i + 1][0] == "(":
                return self.function(token), True
            field = self.parse_field()
            op = self.tokens[self.i][0]
            if op in RELATIONAL_OPERATORS:
                self.i += 1
                at = self.i
                values, in_set = self.constant_set()
                return Comparison(field, op, values, in_set, token[2], self.columns(at)), False
            if op == "=":
                self.fail("expected a relational operator ('==' compares, '=' assigns)")
            return Test(field, pos=token[2]), True
        if kind not in ("int", "str", "as", "pg", "{"):
            self.expected("a field, a constant, '!' or '('")
        at = self.i
        values, in_set = self.constant_set()
        columns = self.columns(at)
        op = self.tokens[self.i][0]
        if op not in RELATIONAL_OPERATORS:
            if len(values) == 1 and not in_set:
                c = values[0]
                if isinstance(c, Integer) and c.fmt == "dec" and c.mask is None and c.value <= 1:
                    return Bool(c.value == 1, pos=token[2]), True
            self.expected("a relational operator")
        self.i += 1
        field = self.parse_field()
        op2 = self.tokens[self.i][0]
        if op2 not in RELATIONAL_OPERATORS:
            return Comparison(field, _TURN[op], values, in_set, token[2], columns), False
        if not ((op in ("<", "<=") and op2 in ("<", "<=")) or (op in (">", ">=") and op2 in (">", ">="))):
            self.fail("range expressions must have the form 'x < field < y' or 'x > field > y'", token)
        self.i += 1
        at = self.i
        values2, in_set2 = self.constant_set()
        return (
            And(
                (
                    Comparison(field, _TURN[op], values, in_set, token[2], columns),
                    Comparison(field, op2, values2, in_set2, token[2], self.columns(at)),
                ),
                pos=token[2],
            ),
            False,
        )

    def columns(self, start: int) -> tuple[int, ...]:
        """Columns of the constants among tokens[start:self.i] (a constant or a {set})."""
        if self.i == start + 1:  # one constant, not a set
            token = self.tokens[start]
            return (token[2],) if token[0] in _CONSTANT_KINDS else ()
        return tuple(t[2] for t in self.tokens[start : self.i] if t[0] in _CONSTANT_KINDS)

    def function(self, token: Token) -> Expr:
        name = token[1]
        if name not in _FUNCTIONS:
            self.fail(f"unknown function '{name}'", token, "the only function is is_chassis_resident()")
        self.i += 2
        port = self.expect("str", "a quoted port name")
        self.expect(")")
        return ChassisResident(port[1], pos=token[2])

    def constant_set(self) -> tuple[tuple[Constant, ...], bool]:
        if self.tokens[self.i][0] != "{":
            return (self.constant(None),), False
        self.i += 1
        values: list[Constant] = []
        string: bool | None = None
        while True:  # at least one constant: OVN refuses "{}"
            value = self.constant(string)
            if string is None:
                string = isinstance(value, String | PortGroupRef)
            values.append(value)
            if self.tokens[self.i][0] == ",":
                self.i += 1
            if self.tokens[self.i][0] == "}":
                self.i += 1
                return tuple(values), True

    def constant(self, string: bool | None) -> Constant:
        token = self.tokens[self.i]
        kind = token[0]
        value: Constant
        if kind == "int":
            value = token[1]
        elif kind == "str":
            value = String(token[1])
        elif kind == "as":
            value = AddressSetRef(token[1])
        elif kind == "pg":
            value = PortGroupRef(token[1])
        else:
            self.expected("a constant")
        if string is not None and string != isinstance(value, String | PortGroupRef):
            self.expected("a string" if string else "an integer")
        self.i += 1
        return value


def parse_match_tree(text: str, release: Release | str | None = None) -> Expr:
    """Syntax only (fields must exist); :mod:`typecheck` does the rest."""
    return MatchParser(text, release).parse()


def _close_matches(name: str, table: Iterable[str]) -> list[str]:
    """The known name closest to a misspelt one, if any (difflib is imported for an error alone)."""
    import difflib

    return difflib.get_close_matches(name, table, n=1)
