"""Walkers over parsed trees: what a match reads, what actions write, which ports and registers they touch.

The policy layer refuses flows by these answers (a field, a port, an action
kind); the compiler uses :func:`register_bits` to find the register bits that
northd's own flows use.
"""

from __future__ import annotations

from collections.abc import Iterator

from ovn_inject.lang import releases, symbols
from ovn_inject.lang.ast import (
    Action,
    Actions,
    And,
    ChassisResident,
    Clone,
    Comparison,
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
    String,
    Test,
)
from ovn_inject.lang.errors import TypeCheckError
from ovn_inject.lang.releases import Release
from ovn_inject.lang.typecheck import Checker, unknown

Tree = Expr | Actions

#: Names :func:`action_kinds` gives the fully modelled actions.
KIND_NAMES = {
    Drop: "drop",
    Next: "next",
    Output: "output",
    DecTtl: "dec_ttl",
    Load: "load",
    Move: "move",
    Exchange: "exchange",
    Clone: "clone",
}
_PORT_FIELDS = ("inport", "outport")

#: Registers an action writes without naming them, in 23.03 (per release: Release.implicit_writes).
IMPLICIT_WRITES = releases.BASE_IMPLICIT_WRITES
ReleaseArg = Release | str | None


def _expr_nodes(e: Expr) -> Iterator[Expr]:
    yield e
    if isinstance(e, And | Or):
        for item in e.items:
            yield from _expr_nodes(item)
    elif isinstance(e, Not):
        yield from _expr_nodes(e.operand)


def iter_actions(actions: Actions) -> Iterator[Action]:
    """Every action, nested blocks (clone, ct_commit, icmp4 ...) included, outermost first."""
    for action in actions.items:
        yield action
        body = getattr(action, "body", None)
        if body is not None:
            yield from iter_actions(body)


def _fields_in_words(words: tuple[str, ...] | None, release: Release) -> Iterator[FieldRef]:
    """Fields named among a generic action's arguments (``put_arp(inport, arp.spa, arp.sha)``)."""
    if not words:
        return
    for i, word in enumerate(words):
        if word not in release.symbols:
            continue
        if i + 4 < len(words) and words[i + 1] == "[" and words[i + 3] in ("..", "]"):
            try:
                low = int(words[i + 2], 0)
                high = int(words[i + 4], 0) if words[i + 3] == ".." else low
            except ValueError:
                yield FieldRef(word)
                continue
            yield FieldRef(word, low, high)
        else:
            yield FieldRef(word)


def _match_fields(e: Expr) -> Iterator[FieldRef]:
    for node in _expr_nodes(e):
        if isinstance(node, Comparison | Test):
            yield node.field


def _action_refs(
    actions: Actions, release: Release, ignore_clears: bool = False
) -> Iterator[tuple[FieldRef, bool]]:
    """(field, written?) for every field the actions touch (``field = 0;`` left out if asked)."""
    for a in iter_actions(actions):
        if isinstance(a, Load):
            if ignore_clears and isinstance(a.value, Integer) and a.value.value == 0 and a.value.mask is None:
                continue
            yield a.dst, True
        elif isinstance(a, Move):
            yield a.dst, True
            yield a.src, False
        elif isinstance(a, Exchange):
            yield a.a, True
            yield a.b, True
            yield a.a, False
            yield a.b, False
        elif isinstance(a, DecTtl):
            yield FieldRef("ip.ttl"), True
            yield FieldRef("ip.ttl"), False
        elif isinstance(a, Generic):
            if a.result is not None:
                yield a.result, True
            for ref in release.implicit_writes.get(a.name, ()):
                yield ref, True
            for ref in _fields_in_words(a.args, release):
                yield ref, False


def fields_read(tree: Tree, release: ReleaseArg = None) -> frozenset[str]:
    """Names of the fields (and predicates) a match tests or actions read."""
    if isinstance(tree, Actions):
        refs = _action_refs(tree, releases.get(release))
        return frozenset(ref.name for ref, written in refs if not written)
    return frozenset(ref.name for ref in _match_fields(tree))


def fields_written(actions: Actions, release: ReleaseArg = None) -> frozenset[str]:
    return frozenset(ref.name for ref, written in _action_refs(actions, releases.get(release)) if written)


def port_names(tree: Tree) -> frozenset[str]:
    """Port names compared to or assigned to inport/outport, and named in is_chassis_resident()."""
    found: set[str] = set()
    if isinstance(tree, Actions):
        for a in iter_actions(tree):
            if isinstance(a, Load) and a.dst.name in _PORT_FIELDS and isinstance(a.value, String):
                found.add(a.value.value)
        return frozenset(found)
    for node in _expr_nodes(tree):
        if isinstance(node, Comparison) and node.field.name in _PORT_FIELDS:
            found.update(v.value for v in node.values if isinstance(v, String))
        elif isinstance(node, ChassisResident):
            found.add(node.port)
    return frozenset(found)


def action_kinds(actions: Actions) -> frozenset[str]:
    """Kinds of action used, nested ones included: "drop", "next", "load", "ct_commit", "log" ..."""
    kinds = set()
    for a in iter_actions(actions):
        kinds.add(a.name if isinstance(a, Generic) else KIND_NAMES[type(a)])
    return frozenset(kinds)


def register_bits(
    tree: Tree, release: ReleaseArg = None, ignore_clears: bool = False
) -> dict[str, frozenset[int]]:
    """Bits of the 32-bit registers reg0..reg9 that a match or actions read or write.

    ``ignore_clears`` leaves out ``field = 0;``: a flow that only zeroes bits
    cannot disturb a cursor that must be zero when its hook starts and is read
    by nobody after it (discovery's use; docs/design.md, "Discovery").

    Overlays are resolved as OVN lays them out (the same from 23.03 to 26.03):
    xxreg0 is reg0..reg3 with reg0 in its most significant word, xreg0 is reg0
    (high) + reg1 (low), xreg4 is reg8 (high) + reg9 (low). Registers past reg9
    are not logical registers (reg10 holds flags, reg14/reg15 inport/outport).
    A string field stored in a logical register (25.09's remote_outport in
    reg1) counts as all 32 bits of it; so do the registers an action of the
    release writes without naming them (``chk_lb_aff``, ``ct_state_save`` ...).
    """
    rel = releases.get(release)
    table = rel.symbols
    refs = (
        [ref for ref, _ in _action_refs(tree, rel, ignore_clears)]
        if isinstance(tree, Actions)
        else list(_match_fields(tree))
    )
    bits: dict[str, set[int]] = {}
    for ref in refs:
        symbol = table.get(ref.name)
        if symbol is None:
            continue
        if symbol.register is not None:
            bits.setdefault(f"reg{symbol.register}", set()).update(range(32))
            continue
        if symbol.width == 0:
            continue
        low = 0 if ref.low is None else ref.low
        high = symbol.width - 1 if ref.high is None else ref.high
        root, low, high = symbols.resolve(ref.name, low, high, table)
        for bit in range(low, high + 1):
            where = symbols.register_of(root.name, bit)
            if where is not None:
                bits.setdefault(f"reg{where[0]}", set()).add(where[1])
    return {name: frozenset(b) for name, b in sorted(bits.items(), key=lambda kv: int(kv[0][3:]))}


def check_actions_tree(actions: Actions, checker: Checker, scope: str = "default") -> None:
    """Type-check actions built in code, with the rules parse_actions applies while parsing."""
    release = checker.release
    items = actions.items
    if any(isinstance(a, Drop) for a in items) and len(items) > 1:
        raise TypeCheckError("'drop;' cannot be combined with other actions")
    for a in items:
        if isinstance(a, Load):
            checker.load(a.dst, a.value, scope, a.pos)
        elif isinstance(a, Move):
            checker.move(a.dst, a.src, False, scope, a.pos)
        elif isinstance(a, Exchange):
            checker.move(a.a, a.b, True, scope, a.pos)
        elif isinstance(a, Next):
            limit = release.tables(a.pipeline or checker.context.pipeline)
            if a.table is not None and not 0 <= a.table < limit:
                raise TypeCheckError(f"'next' table must be 0 to {limit - 1} in OVN {release.name}")
            if a.pipeline not in (None, "ingress", "egress"):
                raise TypeCheckError("'next' pipeline must be 'ingress' or 'egress'")
        elif isinstance(a, Clone):
            check_actions_tree(a.body, checker, "default")
        elif isinstance(a, Generic):
            if a.result is not None:
                if a.name not in release.functions:
                    raise TypeCheckError(unknown("function", a.name, release))
                checker.writable(a.result, checker.symbol(a.result), scope)
            elif a.name not in release.actions:
                raise TypeCheckError(unknown("action", a.name, release))
            if a.body is not None:
                inner = release.actions.get(a.name, ("", None, "inherit"))[2]
                check_actions_tree(a.body, checker, scope if inner == "inherit" else inner)
