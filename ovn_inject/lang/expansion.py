"""An upper bound on the OpenFlow flows ovn-controller installs for a match (pure, no I/O).

ovn-controller turns a Logical_Flow match into OpenFlow flows in four steps
(lib/expr.c): *annotate* (expand subfields to their field, predicates to their
definition, AND each comparison with its field's prerequisites: ``tcp.dst``
brings ``ip.proto == 6 && (eth.type == 0x800 || eth.type == 0x86dd)``),
*simplify* (every comparison becomes ``==`` on masked values: ``x != c`` turns
into one alternative per bit of ``c``'s mask, ``x < c`` into masked prefixes),
*normalize* (a disjunction of conjunctions whose items are one comparison or
an OR of comparisons on a single field, the "clauses"; comparisons on the same
field are intersected, "crushed", and ORs over several fields are distributed)
and *expr_to_matches*: a conjunction with no clause is one flow, with one
clause one flow per alternative, and with n >= 2 clauses OVS's conjunctive
match: one ``conjunction(id, k/n)`` flow per alternative of every clause plus
one flow on ``conj_id``. ORs on eth.type, ip.proto, icmp6.type and icmp6.code
are always distributed ("must_crossproduct" fields), never made clauses.

This module follows the same steps on our tree. Per field it keeps the actual
masked values (:mod:`ovn_inject.lang.alternatives`; so ``1 <= tcp.dst <= 6`` or
``ip4 && tcp`` crush as in OVN),
across fields it only counts (:mod:`ovn_inject.lang.conjunctions`): a
conjunction is summarised as "how many terms like this" times "how many
alternatives per field", so the cost of a cross product is a multiplication,
not a list. Work is bounded: a crush that would
compare too many pairs, or a set that grows too large, degrades to the product
of the sizes (still an upper bound), and every figure saturates at :data:`CAP`.

Releases differ (see :class:`Release`): up to 25.x ``x != c`` becomes w
overlapping single-bit mismatches, so ``ip4.src != {a, b}`` crushes to 587
flows on 23.03 (3 addresses: 6,506; the growth is exponential, as measured on
ovn-controller 23.03.1). From 23.06 a crushed OR drops alternatives contained
in another (32 flows for the same match), and 26.03 uses w disjoint prefixes
instead of single bits. The default is 23.03, the most expensive.

API (core/bound.py prices flows with it for validation, core/contract.py for the daemon)::

    cost = estimate(parse_match(text, ctx))        # Cost(flows, conjunctions, worst_term, capped)
    cost = compiled_cost(tree, scope_ports=["p1", "p2"], cursor=cursor_tree)
    costs = scope_costs(tree, [(1, "inport"), (3, "outport")])  # one lowering, several scopes
    if cost.flows > limit: refuse with cost.message(limit)

Figures are per logical datapath: ovn-controller installs the flows once per
datapath the lflow applies to that is local to the chassis. Address sets and
port groups count as ``set_sizes[name]`` alternatives (1 when unknown).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from ovn_inject.lang import exact, symbols
from ovn_inject.lang.alternatives import (
    CAP,
    Term,
    Terms,
    and_terms,
    or_terms,
    saturate,
    simplify,
)
from ovn_inject.lang.ast import (
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
from ovn_inject.lang.conjunctions import (
    FALSE,
    TRUE,
    Dnf,
    and_dnf,
    count,
    crushed_dnf,
    field_bits,
    or_dnf,
    single,
)
from ovn_inject.lang.match_parser import parse_match_tree
from ovn_inject.lang.printer import format_match
from ovn_inject.records import record

#: Total pairs one estimate (worst term included) may compare before every crush multiplies.
MAX_WORK = 1 << 18

_INVERT = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
# isinstance with a tuple made once: ``A | B`` in the call makes a union at every call (hot paths).
_COMPARISONS = (Comparison, Test)
_CHAINS = (And, Or)


@record(frozen=True, slots=True)
class Release:
    """How one ovn-controller release normalises (the parts that change the count)."""

    name: str
    ne_prefixes: bool  # x != c as disjoint prefixes (26.03+) instead of single-bit mismatches
    drop_supersets: bool  # crush_or_supersets (23.06+)


RELEASES = {
    "23.03": Release("23.03", ne_prefixes=False, drop_supersets=False),
    "24.03": Release("24.03", ne_prefixes=False, drop_supersets=True),
    "25.03": Release("25.03", ne_prefixes=False, drop_supersets=True),
    "26.03": Release("26.03", ne_prefixes=True, drop_supersets=True),
}
DEFAULT_RELEASE = "23.03"


@record(frozen=True, slots=True)
class Cost:
    """OpenFlow flows (conjunction and conj_id flows included) and conjunctive matches of one lflow."""

    flows: int
    conjunctions: int
    worst_term: str = ""
    capped: bool = False  # True when a figure reached CAP (the real one is at least as high)

    def message(self, limit: int) -> str:
        more = "at least " if self.capped else ""
        text = f"the match would install {more}{self.flows:,} OpenFlow flows per datapath (limit {limit:,})"
        return text + (f": the costly term is `{self.worst_term}`" if self.worst_term else "")


# ---- per-field sets of alternatives: ovn_inject.lang.alternatives, within this budget ---------


class _Budget:
    def __init__(self) -> None:
        self.pairs = 0
        self.exhausted = False  # a crush was not done for want of budget: the result depends on it

    def exceeded_by(self, pairs: int) -> bool:
        if self.pairs + pairs > MAX_WORK:
            self.exhausted = True
            return True
        return False


# ---- annotate + simplify, on our tree ---------------------------------------------


class _Lowering:
    """annotate + simplify of one tree, within one work budget."""

    __slots__ = ("budget", "facts", "release", "set_sizes")

    def __init__(self, release: Release, set_sizes: Mapping[str, int], budget: _Budget | None = None) -> None:
        self.release = release
        self.set_sizes = set_sizes
        self.budget = _Budget() if budget is None else budget
        self.facts = _release_facts(release)

    def expr(self, e: Expr, neg: bool, prereqs: bool) -> Dnf:
        if isinstance(e, _COMPARISONS):
            return self.comparison(e, neg, prereqs)
        if isinstance(e, Not):
            return self.expr(e.operand, not neg, prereqs)
        if isinstance(e, Bool):
            return TRUE if e.value != neg else FALSE
        if isinstance(e, ChassisResident):
            return TRUE  # resolved per chassis; count the side that installs flows
        if isinstance(e, _CHAINS):
            # A tree over one field gets its prerequisites once (expr_annotate__).
            name = _unique_name(e)
            inner = prereqs and name is None
            conj = isinstance(e, And) != neg
            result: Dnf | None = None
            for item in e.items:
                sub = self.expr(item, neg, inner)
                if result is None:
                    result = sub
                elif conj:
                    result = and_dnf(result, sub, self.release, self.budget)
                else:
                    result = or_dnf(result, sub, self.release)
            assert result is not None
            if prereqs and name is not None:
                result = self.with_prereqs(result, name)
            return result
        raise TypeError(f"not a match expression node: {e!r}")

    def top(self, e: Expr) -> Dnf:
        """``expr(e, False, True)``, with each term of a top-level conjunction lowered once per process.

        The daemon's rows read ``CURSOR && SCOPE && (APP)``: the rows of a
        chain share their first terms, many services share the last one.
        A shared term counts the budget it took; it is lowered again here
        when that result depended on the budget or would not fit what is left.
        """
        if not isinstance(e, And) or self.set_sizes or _unique_name(e) is not None:
            return self.expr(e, False, True)
        result: Dnf | None = None
        for item in e.items:
            sub, pairs, exhausted = _lowered(item, self.release)
            if exhausted or self.budget.pairs + pairs > MAX_WORK:
                sub = self.expr(item, False, True)
            else:
                self.budget.pairs += pairs
            result = sub if result is None else self.and_(result, sub)
        assert result is not None
        return result

    def and_(self, a: Dnf, b: Dnf) -> Dnf:
        return and_dnf(a, b, self.release, self.budget)

    def prereqs(self, name: str) -> Dnf | None:
        """The prerequisites of field ``name``, lowered (None: it has none)."""
        prereqs = self.facts.get(name, _UNKNOWN)
        if prereqs is _UNKNOWN:
            source = symbols.SYMBOLS[name].prereqs
            prereqs = self.facts[name] = None if source is None else self.text(source, False)
        return prereqs

    def with_prereqs(self, dnf: Dnf, name: str) -> Dnf:
        prereqs = self.facts.get(name, _UNKNOWN)
        if prereqs is _UNKNOWN:
            prereqs = self.prereqs(name)
        if prereqs is None or not dnf:
            return dnf
        return and_dnf(dnf, prereqs, self.release, self.budget)

    def text(self, source: str, neg: bool) -> Dnf:
        key = (source, neg)
        found = self.facts.get(key)
        if found is None:
            found = self.facts[key] = _text_dnf(source, neg, self.release)
        return found

    def comparison(self, e: Comparison | Test, neg: bool, prereqs: bool) -> Dnf:
        ref = e.field
        symbol = symbols.SYMBOLS[ref.name]
        values: Sequence[object]
        if isinstance(e, Test):
            op, values = "!=", (Integer(0),)  # a bare field means "!= 0"
        else:
            op, values = e.op, e.values
        if neg:
            op = _INVERT[op]
        if symbol.predicate is not None:
            result: Dnf = FALSE if op == "==" else TRUE
            for value in values:
                positive = bool(value.value & 1 if isinstance(value, Integer) else 1) != (op == "!=")
                one = self.text(symbol.predicate, not positive)
                result = or_dnf(result, one, self.release) if op == "==" else self.and_(result, one)
        else:
            result = self.plain(ref, symbol, op, values)
        return self.with_prereqs(result, ref.name) if prereqs else result

    def plain(self, ref: FieldRef, symbol: symbols.Symbol, op: str, values: Sequence[object]) -> Dnf:
        if symbol.is_string:
            return single(ref.name, self.strings(values))  # nominal: only == after negations
        root, low, width, span, ordinal, root_width = field_bits(ref.name, ref.low, ref.high)
        combined: Terms | None = None
        for value in values:
            if isinstance(value, Integer):
                mask = ((1 << width) - 1 if value.mask is None else value.mask) << low & span
                terms = simplify(op, (value.value << low) & mask, mask, root_width, self.release)
            else:
                size = max(0, self.set_sizes.get(getattr(value, "name", ""), 1))
                per = span.bit_count() if op == "!=" else 1
                terms = Terms(saturate(per * size)) if op != "!=" or size <= 1 else self.opaque_ne(per, size)
            if combined is None:
                combined = terms
            elif op == "!=":
                combined = and_terms(combined, terms, self.release, ordinal, self.budget)
            else:
                combined = or_terms(combined, terms, self.release, ordinal)
        assert combined is not None
        return single(root, combined)

    def opaque_ne(self, bits: int, size: int) -> Terms:
        """``x != $set``: without the addresses, the worst case of the release's crush."""
        if self.release.ne_prefixes:
            return Terms(saturate(bits * size))
        return Terms(CAP if size * bits.bit_length() > 20 * 2 else saturate(bits**size))

    def strings(self, values: Sequence[object]) -> Terms:
        names: set[Term] = set()
        opaque = 0
        for value in values:
            if isinstance(value, String):
                names.add(value.value)
            elif isinstance(value, PortGroupRef):
                opaque += max(0, self.set_sizes.get(value.name, 1))
        if opaque:
            return Terms(saturate(len(names) + opaque))
        return Terms.of(names)


#: A field's prerequisites not looked up yet (None: it has none).
_UNKNOWN: Dnf = ((-1, ()),)
#: Per release: field name -> its prerequisites lowered (None: none), (text, negated) -> lowered text.
_FACTS: dict[Release, dict[object, Dnf | None]] = {}


def _release_facts(release: Release) -> dict[object, Dnf | None]:
    """The symbol table's prerequisites and predicates lowered for ``release``, filled as they are met."""
    facts = _FACTS.get(release)
    if facts is None:
        facts = _FACTS[release] = {}
    return facts


def _unique_name(e: Expr) -> str | None:
    """The one field a tree compares (expr_get_unique_symbol before annotation), else None."""
    if isinstance(e, _COMPARISONS):
        return e.field.name
    if isinstance(e, Not):
        return _unique_name(e.operand)
    if isinstance(e, _CHAINS) and e.items:
        first = _unique_name(e.items[0])  # None, or the name every other item must compare too
        if first is None:
            return None
        for item in e.items[1:]:
            if _unique_name(item) != first:
                return None
        return first
    return None


@functools.lru_cache(maxsize=8192)
def _lowered(item: Expr, release: Release) -> tuple[Dnf, int, bool]:
    """A term of a top-level conjunction, lowered with its prerequisites: (dnf, pairs, exhausted)."""
    lowering = _Lowering(release, {})
    dnf = lowering.expr(item, False, True)
    return dnf, lowering.budget.pairs, lowering.budget.exhausted


@functools.lru_cache(maxsize=1024)
def _text_dnf(source: str, neg: bool, release: Release) -> Dnf:
    """A predicate or prerequisite (symbol table text, no set references), lowered once."""
    return _Lowering(release, {}).expr(parse_match_tree(source), neg, True)


#: Scopes lowered: (scope, release) -> (scope, dnf, pairs, exhausted); an Expr scope by identity.
_SCOPES: dict[tuple[object, Release], tuple[object, Dnf, int, bool]] = {}
#: Scopes kept lowered (as many as core/bound.py keeps parsed); past it the table starts again.
MAX_SCOPES = 4096


def _scope_expr(scope: tuple[int, str] | Expr) -> Expr:
    """A scope as a match: ``(ports, field)`` is ``field == {ports}`` (placeholder names)."""
    if not isinstance(scope, tuple):
        return scope
    ports, field_name = scope
    names = tuple(String(f"\0scope{i}") for i in range(ports))
    return Comparison(FieldRef(field_name), "==", names, in_set=True)


def _scope_dnf(scope: tuple[int, str] | Expr, lowering: _Lowering) -> Dnf:
    """``lowering.expr(_scope_expr(scope), False, True)`` for a fresh ``lowering``, each scope lowered
    (and its fields crushed, :func:`crushed_dnf`) once.

    Every flow at an attachment is ANDed with the same few scopes (the gateway
    keeps each compiled scope parsed once, core/bound.py). ``lowering`` is left
    with the work budget the scope's own lowering took, as if it had done it.
    A compiled scope is looked up by identity (its hash would walk the tree):
    the entry holds it, so no other tree gets its id while the entry lives.
    """
    if lowering.set_sizes:
        return crushed_dnf(lowering.expr(_scope_expr(scope), False, True), lowering.release)
    key = (scope if isinstance(scope, tuple) else id(scope), lowering.release)
    found = _SCOPES.get(key)
    if found is None:
        fresh = _Lowering(lowering.release, {})
        dnf = crushed_dnf(fresh.expr(_scope_expr(scope), False, True), lowering.release)
        if len(_SCOPES) >= MAX_SCOPES:
            _SCOPES.clear()
        found = _SCOPES[key] = (scope, dnf, fresh.budget.pairs, fresh.budget.exhausted)
    _, dnf, lowering.budget.pairs, lowering.budget.exhausted = found
    return dnf


# ---- the API -----------------------------------------------------------------------


def _release(release: str | Release) -> Release:
    if isinstance(release, Release):
        return release
    try:
        return RELEASES[release]
    except KeyError:
        raise ValueError(f"unknown OVN release {release!r}; known: {', '.join(RELEASES)}") from None


def _flows(tree: Expr, lowering: _Lowering) -> tuple[int, int, bool]:
    flows, conjunctions = count(lowering.top(tree))
    return flows, conjunctions, flows >= CAP or conjunctions >= CAP


def _worst(tree: Expr, flows: int, lowering: _Lowering) -> str:
    """The smallest sub-expression that alone costs at least half of the whole.

    Comparisons of one field are named together (``1 <= tcp.dst <= 6``: each
    half alone costs more than the range), as is a negated tree.
    """
    node = tree
    while True:
        inner = node.operand if isinstance(node, Not) else node
        if not isinstance(inner, And | Or) or _unique_name(inner) is not None:
            break
        best, best_flows = None, -1
        for item in inner.items:
            item_flows = _flows(item, lowering)[0]
            if item_flows > best_flows:
                best, best_flows = item, item_flows
        if best is None or 2 * best_flows < flows or isinstance(node, Not):
            break
        node = best
    return format_match(node)


def estimate(
    tree: Expr,
    release: str | Release = DEFAULT_RELEASE,
    set_sizes: Mapping[str, int] | None = None,
    name_worst: bool = True,
) -> Cost:
    """Upper bound on the OpenFlow flows of one lflow with match ``tree``, per datapath.

    ``tree`` must be parsed and type-checked (ovn_inject.lang.parse_match);
    ``set_sizes`` gives the number of addresses/ports of ``$name``/``@name``.
    ``name_worst=False`` leaves the costly term unnamed (naming it costs more than counting).
    """
    lowering = _Lowering(_release(release), set_sizes or {})
    flows, conjunctions, capped = _flows(tree, lowering)
    return Cost(flows, conjunctions, _worst(tree, flows, lowering) if name_worst else "", capped)


def compiled_match(
    app: Expr, scope_ports: Sequence[str], scope_field: str = "inport", cursor: Expr | None = None
) -> Expr:
    """``cursor && scope && (app)`` as the daemon compiles it (scope: ``inport == {ports}``)."""
    scope = Comparison(FieldRef(scope_field), "==", tuple(String(p) for p in scope_ports), in_set=True)
    return And(((cursor,) if cursor is not None else ()) + (scope, app))


def compiled_cost(
    app: Expr,
    scope_ports: Sequence[str] | int,
    scope_field: str = "inport",
    cursor: Expr | None = None,
    release: str | Release = DEFAULT_RELEASE,
    set_sizes: Mapping[str, int] | None = None,
    name_worst: bool = True,
) -> Cost:
    """The cost of the compiled lflow ``cursor && scope && (app)`` with ``scope_ports`` ports in scope.

    ``name_worst=False`` skips naming the costly term (which costs more than
    the count itself): for callers that only need it once over a limit.

    How the ports multiply: the scope is one more clause on inport (or outport).
    With one port it is a plain match and costs nothing. With n ports, a
    conjunction of the app that has no clause of its own becomes n flows (one
    per port); one that already has clauses (``ip4.src == {a, b, c}``) is turned
    into a conjunctive match by the extra clause, so the ports *add* n flows
    (plus the conj_id flow) instead of multiplying: 3 + n + 1, not 3 x n. The
    ports therefore cost at most ``n + 1`` flows per conjunction of the app,
    except where the app's own OR over several fields or its ``!=`` already
    distributed it into many conjunctions (each pays the n again). An app that
    compares the scope field itself is intersected with the scope. The cursor
    (a register equality) is one more exact match: no extra flows.
    """
    ports = [f"\0scope{i}" for i in range(scope_ports)] if isinstance(scope_ports, int) else list(scope_ports)
    if not ports:
        return Cost(0, 0, "", False)
    lowering = _Lowering(_release(release), set_sizes or {})
    flows, conjunctions, capped = _flows(compiled_match(app, ports, scope_field, cursor), lowering)
    if not name_worst:
        return Cost(flows, conjunctions, "", capped)
    app_flows = _flows(app, lowering)[0]
    return Cost(flows, conjunctions, _worst(app, app_flows, lowering), capped)


def scope_costs(
    app: Expr,
    scopes: Sequence[tuple[int, str] | Expr],
    release: str | Release = DEFAULT_RELEASE,
    set_sizes: Mapping[str, int] | None = None,
) -> list[Cost]:
    """:func:`compiled_cost` (flows and conjunctions, no costly term) at several scopes at once.

    A scope is ``(ports in scope, scope field)`` (``field == {ports}``) or the
    scope's own parsed match (a compiled scope may tie a shared port to
    addresses). The app is lowered once and ANDed with each scope, as the
    normaliser does with ``scope && (app)``: for a flow at several
    attachments that is one lowering instead of one per attachment.
    """
    rel = _release(release)
    sizes = set_sizes or {}
    app_dnf: Dnf | None = None
    on_ports = _unique_name(app) in ("inport", "outport")  # the app's port terms crush with the scope's
    out: list[Cost] = []
    for scope in scopes:
        if isinstance(scope, tuple) and scope[0] <= 0:
            out.append(Cost(0, 0))
            continue
        lowering = _Lowering(rel, sizes)
        if on_ports:
            dnf = lowering.expr(And((_scope_expr(scope), app)), False, True)
        else:
            if app_dnf is None:
                app_lowering = _Lowering(rel, sizes)
                app_dnf = None if sizes else exact.lowered(app, app_lowering)
                if app_dnf is None:
                    app_dnf = app_lowering.expr(app, False, True)
            dnf = and_dnf(_scope_dnf(scope, lowering), app_dnf, rel, lowering.budget, crushed_a=True)
        flows, conjunctions = count(dnf)
        out.append(Cost(flows, conjunctions, "", flows >= CAP or conjunctions >= CAP))
    return out
