"""Type checking of matches and assignments (after make_cmp/type_check in lib/expr.c).

On top of OVN's own rules we refuse what OVN silently compiles into something
other than what was written (docs/design.md, "What a flow may do"); those checks are marked
"stricter than OVN" below.
"""

from __future__ import annotations

from collections.abc import Collection

from ovn_inject.lang import releases
from ovn_inject.lang.ast import (
    AddressSetRef,
    And,
    Bool,
    ChassisResident,
    Comparison,
    Expr,
    FieldRef,
    Integer,
    Not,
    Or,
    PortGroupRef,
    String,
    Test,
)
from ovn_inject.lang.errors import TypeCheckError
from ovn_inject.lang.releases import Release
from ovn_inject.lang.symbols import Symbol
from ovn_inject.records import record

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from typing import NoReturn


@record(frozen=True)
class Context:
    """What exists where a flow will run; a None member means "do not check those references".

    ``release`` is the OVN release whose language applies (a :class:`Release`
    or its name, "26.03"); None means 23.03. ``pipeline`` ("ingress" or
    "egress"), when known, bounds ``next(table=N)`` on releases whose two
    pipelines have different lengths.
    """

    ports: Collection[str] | None = None
    address_sets: Collection[str] | None = None
    port_groups: Collection[str] | None = None
    release: Release | str | None = None
    pipeline: str | None = None


NO_CONTEXT = Context()
_FORMAT_WIDTHS = {"ipv4": 32, "ipv6": 128, "mac": 48}
_FORMAT_NAMES = {"ipv4": "an IPv4 address", "ipv6": "an IPv6 address", "mac": "an Ethernet address"}


def field_width(ref: FieldRef, symbol: Symbol) -> int:
    return symbol.width if ref.low is None else ref.high - ref.low + 1  # type: ignore[operator]


def field_text(ref: FieldRef) -> str:
    if ref.low is None:
        return ref.name
    return f"{ref.name}[{ref.low}]" if ref.low == ref.high else f"{ref.name}[{ref.low}..{ref.high}]"


def constant_width(value: Integer) -> int:
    """The minimum width OVN demands for ``value`` (expr_constant_width)."""
    if value.mask is not None:
        return value.mask.bit_length()
    if value.fmt == "ipv4":
        return 32
    if value.fmt == "ipv6":
        return 128
    if value.fmt == "mac":
        return 48
    return value.value.bit_length()


class Checker:
    def __init__(self, context: Context | None, text: str = "") -> None:
        self.context = context or NO_CONTEXT
        self.release = releases.get(self.context.release)
        self.symbols = self.release.symbols
        self.text = text

    def fail(self, reason: str, pos: int, hint: str = "") -> NoReturn:
        raise TypeCheckError(reason, self.text, pos if self.text else 0, hint)

    def symbol(self, ref: FieldRef) -> Symbol:
        symbol = self.symbols.get(ref.name)
        if symbol is None:
            self.fail(
                unknown("field", ref.name, self.release), ref.pos, releases.where_known("field", ref.name)
            )
        assert symbol is not None
        if ref.low is not None:
            if ref.high is None or not 0 <= ref.low <= ref.high < symbol.width:
                self.fail(f"invalid bit range for {symbol.width}-bit field {ref.name}", ref.pos)
            if symbol.level == "nominal":
                self.fail(f"cannot select a subfield of nominal field {ref.name}", ref.pos)
        return symbol

    # ---- matches ----------------------------------------------------------

    def expr(self, e: Expr, negated: bool = False) -> None:
        kind = type(e)
        if kind is Comparison:
            self.comparison(e, negated)  # type: ignore[arg-type]
        elif kind is And or kind is Or:
            for item in e.items:  # type: ignore[union-attr]
                if type(item) is Comparison:  # the usual item, without a dispatch of its own
                    self.comparison(item, negated)
                else:
                    self.expr(item, negated)
        elif kind is Test:
            self.test(e, negated)  # type: ignore[arg-type]
        elif kind is Not:
            self.expr(e.operand, not negated)  # type: ignore[union-attr]
        elif kind is Bool or kind is ChassisResident:
            pass
        else:
            raise TypeCheckError(f"not a match expression node: {e!r}")

    def matched_symbol(self, ref: FieldRef, pos: int) -> Symbol:
        symbol = self.symbol(ref)
        if symbol.action_only:
            # stricter than OVN: ovn-controller 23.03.1 stops processing such a flow
            self.fail(f"field {ref.name} can only be assigned by actions, not matched", pos)
        if symbol.match_dropped:
            # stricter than OVN: ovn-controller 23.03.1 leaves the match out of the OpenFlow flow
            self.fail(
                f"ovn-controller drops a match on {ref.name} (the flow would match every packet); "
                f"{ref.name} can only be assigned",
                pos,
            )
        return symbol

    def test(self, e: Test, negated: bool) -> None:
        ref = e.field
        symbol = self.matched_symbol(ref, e.pos)
        if symbol.is_string:
            self.fail(f"string field {ref.name} needs a relational operator and a quoted name", e.pos)
        if field_width(ref, symbol) > 1 and not negated:
            self.fail(
                f"testing multibit field {field_text(ref)} against 0 needs an explicit '!= 0'",
                e.pos,
            )
        if symbol.level == "nominal" and symbol.predicate is not None and negated:
            self.fail(f"nominal predicate {ref.name} may only be tested positively, not negated", e.pos)

    def comparison(self, e: Comparison, negated: bool) -> None:
        ref, op = e.field, e.op
        symbol = self.matched_symbol(ref, e.pos)
        width = symbol.width if ref.low is None else ref.high - ref.low + 1  # type: ignore[operator]
        if op not in ("==", "!="):
            if e.in_set:
                self.fail(f"only == and != may compare {ref.name} with a set of values", e.pos)
            if symbol.level != "ordinal":
                self.fail(
                    f"only == and != may be used with {symbol.level} field {ref.name}",
                    e.pos,
                )
        nominal_op = "!=" if negated else "=="
        columns = e.value_pos
        for index, value in enumerate(e.values):
            pos = columns[index] if index < len(columns) else e.pos
            if symbol.is_string:
                self.string_value(ref, value, pos)
                continue
            if type(value) is AddressSetRef:  # by exact type: the constants' classes have no subclasses
                names = self.context.address_sets
                if names is not None and value.name not in names:
                    self.fail(f"unknown address set '${value.name}'", pos)
                continue
            if type(value) is not Integer:
                self.fail(f"integer field {ref.name} is not compatible with a string constant", pos)
            assert isinstance(value, Integer)
            self.integer_value(ref, symbol, width, value, pos)
            if value.mask is not None and op not in ("==", "!="):
                self.fail(
                    "only == and != may be used with masked constants; compare a subfield instead",
                    e.pos,
                )
            if symbol.level == "nominal" and symbol.predicate is not None:
                positive = bool(value.value & 1) ^ (op == "!=") ^ negated
                if not positive:
                    self.fail(f"nominal predicate {ref.name} may only be tested positively", pos)
        if symbol.level == "nominal" and symbol.predicate is None and op != nominal_op:
            self.fail(
                f"nominal field {ref.name} may only be tested for equality"
                " (counting the enclosing '!' operators)",
                e.pos,
            )

    def string_value(self, ref: FieldRef, value: object, pos: int) -> None:
        if isinstance(value, PortGroupRef):
            groups = self.context.port_groups
            if groups is not None and value.name not in groups:
                self.fail(f"unknown port group '@{value.name}'", pos)
            return
        if not isinstance(value, String):
            self.fail(f"string field {ref.name} is not compatible with an integer constant", pos)
        assert isinstance(value, String)
        self.port_name(value.value, pos)

    def port_name(self, name: str, pos: int) -> None:
        """Stricter than OVN: a port name that does not exist matches nothing / loads 0."""
        ports = self.context.ports
        if ports is not None and name not in ports:
            self.fail(f"unknown port '{name}'", pos)

    def integer_value(self, ref: FieldRef, symbol: Symbol, width: int, value: Integer, pos: int) -> None:
        # constant_width(value), without a call
        mask = value.mask
        need = (
            mask.bit_length()
            if mask is not None
            else _FORMAT_WIDTHS.get(value.fmt) or value.value.bit_length()
        )
        if need > symbol.width:
            self.fail(f"{need}-bit constant is not compatible with {symbol.width}-bit field {ref.name}", pos)
        if need > width:  # stricter than OVN: it checks the whole field's width only
            self.fail(f"{need}-bit constant does not fit in {width}-bit subfield {field_text(ref)}", pos)
        if value.fmt in _FORMAT_NAMES and symbol.kind not in ("any", value.fmt):
            # stricter than OVN: it reinterprets the address as a plain number
            wanted = _FORMAT_NAMES.get(symbol.kind, "a number")
            self.fail(
                f"field {ref.name} takes {wanted}, not {_FORMAT_NAMES[value.fmt]}",
                pos,
            )
        if value.mask is not None and not symbol.maskable:
            # stricter than OVN: it drops the mask of a field OpenFlow cannot mask
            self.fail(f"field {ref.name} cannot be masked", pos)

    # ---- actions --------------------------------------------------------------

    def writable(self, ref: FieldRef, symbol: Symbol, scope: str) -> None:
        if symbol.predicate is not None:
            self.fail(f"predicate {ref.name} cannot be assigned", ref.pos)
        if symbol.write != scope:
            where = " outside ct_commit { }" if symbol.write == "ct_commit" else ""
            self.fail(f"field {ref.name} is not modifiable{where}", ref.pos)

    def load(self, dst: FieldRef, value: Integer | String, scope: str, pos: int) -> None:
        symbol = self.symbol(dst)
        self.writable(dst, symbol, scope)
        if symbol.is_string:
            if not isinstance(value, String):
                self.fail(f"string field {dst.name} is not compatible with an integer constant", pos)
            assert isinstance(value, String)
            self.port_name(value.value, pos)
            return
        if not isinstance(value, Integer):
            self.fail(f"integer field {dst.name} is not compatible with a string constant", pos)
        assert isinstance(value, Integer)
        if value.mask is not None:
            self.fail("a constant assigned to a field cannot be masked; assign to a subfield instead", pos)
        self.integer_value(dst, symbol, field_width(dst, symbol), value, pos)

    def move(self, dst: FieldRef, src: FieldRef, exchange: bool, scope: str, pos: int) -> None:
        dsym, ssym = self.symbol(dst), self.symbol(src)
        if dsym.is_string != ssym.is_string:
            kinds = ("string" if dsym.is_string else "integer", "string" if ssym.is_string else "integer")
            verb = "exchange" if exchange else "assign"
            self.fail(f"cannot {verb} {kinds[1]} field {src.name} and {kinds[0]} field {dst.name}", pos)
        if ssym.predicate is not None:
            self.fail(f"predicate {src.name} cannot be used as a value", src.pos)
        dw, sw = field_width(dst, dsym), field_width(src, ssym)
        if dw != sw:
            what = f"{sw}-bit {field_text(src)} and {dw}-bit {field_text(dst)}"
            verb = "exchange" if exchange else "assign"
            self.fail(f"cannot {verb} fields of different widths ({what})", pos)
        self.writable(dst, dsym, scope)
        if exchange:
            self.writable(src, ssym, scope)


def unknown(what: str, name: str, release: Release) -> str:
    """The message for a name the release does not know: it names the release."""
    return f"unknown {what} '{name}' in OVN {release.name}"


def check_match(tree: Expr, context: Context | None = None, text: str = "") -> None:
    """Raise TypeCheckError if ``tree`` is not a well-typed match."""
    Checker(context, text).expr(tree)
