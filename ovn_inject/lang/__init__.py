"""OVN's logical-flow language: parse, type-check and print matches and actions (pure, no I/O).

tree = parse_match('inport == "vm1" && tcp.dst == 80', Context(ports={"vm1"}))
format_match(tree)  # canonical text, accepted by ovn-controller 23.03
"""

from __future__ import annotations

from ovn_inject.lang.actions import ActionParser
from ovn_inject.lang.ast import Actions, Expr
from ovn_inject.lang.errors import LanguageError, ParseError, TypeCheckError
from ovn_inject.lang.expansion import Cost, compiled_cost, estimate  # noqa: F401 (re-exported)
from ovn_inject.lang.match_parser import MatchParser
from ovn_inject.lang.printer import format_actions, format_match
from ovn_inject.lang.typecheck import Checker, Context, check_match
from ovn_inject.lang.walk import (
    action_kinds,
    fields_read,
    fields_written,
    port_names,
    register_bits,
)


def parse_match(text: str, context: Context | None = None) -> Expr:
    """Parse and type-check a Logical_Flow match; raise ParseError/TypeCheckError with the column."""
    tree = MatchParser(text).parse()
    Checker(context, text).expr(tree)
    return tree


def parse_actions(text: str, context: Context | None = None) -> Actions:
    """Parse and type-check Logical_Flow actions; raise ParseError/TypeCheckError with the column."""
    return ActionParser(text, context).parse()


def check_actions(tree: Actions, context: Context | None = None) -> None:
    """Type-check actions built in code (parse_actions checks as it parses)."""
    from ovn_inject.lang.walk import check_actions_tree

    check_actions_tree(tree, Checker(context))


__all__ = [
    "Actions",
    "Context",
    "Expr",
    "LanguageError",
    "ParseError",
    "TypeCheckError",
    "action_kinds",
    "check_actions",
    "check_match",
    "fields_read",
    "fields_written",
    "format_actions",
    "format_match",
    "parse_actions",
    "parse_match",
    "port_names",
    "register_bits",
]
