"""OVN's logical-flow language: parse, type-check and print matches and actions (pure, no I/O).

tree = parse_match('inport == "vm1" && tcp.dst == 80', Context(ports={"vm1"}))
format_match(tree)  # canonical text, accepted by ovn-controller 23.03

Each OVN release has its own language (:mod:`releases`): pass it in the
context, ``Context(release="26.03")``; without one, 23.03's applies.
"""

from __future__ import annotations

from ovn_inject.lang.actions import ActionParser
from ovn_inject.lang.ast import Actions, Expr
from ovn_inject.lang.errors import LanguageError, ParseError, ReleaseError, TypeCheckError
from ovn_inject.lang.expansion import Cost, compiled_cost, estimate
from ovn_inject.lang.match_parser import MatchParser
from ovn_inject.lang.printer import format_actions, format_match
from ovn_inject.lang.releases import RELEASES, Detected, Release, from_schema, parse_release
from ovn_inject.lang.typecheck import Checker, Context, check_match

TYPE_CHECKING = False  # typing's own import costs more than the walks this module defers
if TYPE_CHECKING:
    from ovn_inject.lang.walk import (
        action_kinds,
        fields_read,
        fields_written,
        port_names,
        register_bits,
    )

#: :mod:`ovn_inject.lang.walk`'s functions, imported when first asked for: a flow's check
#: (``flow-add``) walks no tree with them.
_WALKS = frozenset({"action_kinds", "fields_read", "fields_written", "port_names", "register_bits"})


def __getattr__(name: str) -> object:
    if name in _WALKS:
        from ovn_inject.lang import walk

        return getattr(walk, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse_match(text: str, context: Context | None = None) -> Expr:
    """Parse and type-check a Logical_Flow match; raise ParseError/TypeCheckError with the column."""
    checker = Checker(context, text)
    tree = MatchParser(text, checker.release).parse()
    checker.expr(tree)
    return tree


def parse_actions(text: str, context: Context | None = None) -> Actions:
    """Parse and type-check Logical_Flow actions; raise ParseError/TypeCheckError with the column."""
    return ActionParser(text, context).parse()


def check_actions(tree: Actions, context: Context | None = None) -> None:
    """Type-check actions built in code (parse_actions checks as it parses)."""
    from ovn_inject.lang.walk import check_actions_tree

    check_actions_tree(tree, Checker(context))


__all__ = [
    "RELEASES",
    "Actions",
    "Context",
    "Cost",
    "Detected",
    "Expr",
    "LanguageError",
    "ParseError",
    "Release",
    "ReleaseError",
    "TypeCheckError",
    "action_kinds",
    "check_actions",
    "check_match",
    "compiled_cost",
    "estimate",
    "fields_read",
    "fields_written",
    "format_actions",
    "format_match",
    "from_schema",
    "parse_actions",
    "parse_match",
    "parse_release",
    "port_names",
    "register_bits",
]
