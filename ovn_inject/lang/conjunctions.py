"""A match normalised to a disjunction of conjunctions, counted rather than listed (pure, no I/O).

:mod:`ovn_inject.lang.expansion` lowers a tree to this form as ovn-controller's
normaliser does (lib/expr.c); here are the form and its operations: a
conjunction is summarised as "how many terms like this" times the alternatives
of each field (:mod:`ovn_inject.lang.alternatives`), so the cost of a cross
product is a multiplication, not a list; AND and OR of two disjunctions, and
what expr_to_matches emits for one (:func:`count`).
"""

from __future__ import annotations

import functools

from ovn_inject.lang import symbols
from ovn_inject.lang.alternatives import CAP, Terms, and_terms, drop_supersets, or_terms, saturate

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from ovn_inject.lang.expansion import Release
    from ovn_inject.lang.expansion import _Budget as Budget

#: Distinct conjunctions kept apart before they are merged into one worst case.
MAX_GROUPS = 256
#: Fields whose ORs OVN always distributes (must_crossproduct in lib/logical-fields.c).
CROSSPRODUCT_FIELDS = frozenset(("eth.type", "ip.proto", "icmp6.type", "icmp6.code"))

Group = tuple[int, tuple[tuple[str, Terms], ...]]  # (how many alike, sorted (field, alternatives))
Dnf = tuple[Group, ...]  # a disjunction; () is false, ((1, ()),) is true

TRUE: Dnf = ((1, ()),)
FALSE: Dnf = ()


@functools.cache
def ordinal(root: str) -> bool:
    symbol = symbols.SYMBOLS.get(root)
    return symbol is not None and symbol.level == "ordinal" and not symbol.is_string


@functools.lru_cache(maxsize=4096)
def field_bits(name: str, low: int | None, high: int | None) -> tuple[str, int, int, int, bool, int]:
    """What lowering a comparison of ``name[low..high]`` needs of the symbol table, worked out once:
    (root field, lowest bit in it, width, mask of the bits in the root, ordinal, root's width)."""
    symbol = symbols.SYMBOLS[name]
    first = 0 if low is None else low
    last = symbol.width - 1 if high is None else high
    root, first, last = symbols.resolve(name, first, last)
    width = last - first + 1
    return root.name, first, width, ((1 << width) - 1) << first, ordinal(root.name), root.width


def single(root: str, terms: Terms) -> Dnf:
    if terms.count == 0:
        return FALSE
    if terms.items is not None and (0, 0) in terms.items:
        return TRUE  # "x == 0/0" matches everything
    return ((1, ((root, terms),)),)


def merge_groups(groups: list[Group]) -> Dnf:
    if len(groups) == 1:  # the usual AND of two conjunctions: nothing to merge, no fields to hash
        mult, fields = groups[0]
        return ((mult if mult < CAP else CAP, fields),)
    if not groups:
        return FALSE
    alike: dict[tuple[tuple[str, Terms], ...], int] = {}
    for mult, fields in groups:
        alike[fields] = saturate(alike.get(fields, 0) + mult)
    if len(alike) <= MAX_GROUPS:
        return tuple((mult, fields) for fields, mult in alike.items())
    # Too many different conjunctions: one worst case that stands for all of them.
    total = saturate(sum(alike.values()))
    widest: dict[str, int] = {}
    for fields in alike:
        for name, terms in fields:
            widest[name] = max(widest.get(name, 0), terms.count)
    return ((total, tuple(sorted((n, Terms(c)) for n, c in widest.items()))),)


def crushed(terms: Terms, release: Release, ordinal: bool) -> Terms:
    """expr_sort crushes every one-field OR of a conjunction (23.06+: without contained alternatives)."""
    if not release.drop_supersets or not ordinal or terms.items is None or terms.count < 2:
        return terms
    return Terms.of(drop_supersets(terms.items))


def crushed_dnf(dnf: Dnf, release: Release) -> Dnf:
    """``dnf`` with every field crushed as :func:`and_dnf` crushes its operands' (a crush of a crushed
    field gives it back): for an operand ANDed many times, with ``crushed_a``."""
    if not release.drop_supersets:
        return dnf
    return tuple(
        (mult, tuple((n, crushed(t, release, ordinal(n)) if t.count > 1 else t) for n, t in fields))
        for mult, fields in dnf
    )


def and_dnf(a: Dnf, b: Dnf, release: Release, budget: Budget, crushed_a: bool = False) -> Dnf:
    """``a AND b``; ``crushed_a``: ``a`` is :func:`crushed_dnf`'s (its fields are not crushed again)."""
    crush = release.drop_supersets  # before 23.06 nothing is crushed: the fields are taken as they are
    if len(a) == 1 and len(b) == 1:
        return _and_one(a[0], b[0], crush, crush and not crushed_a, release, budget)
    out: list[Group] = []
    crush_a = crush and not crushed_a
    for ma, fa in a:
        first = {name: crushed(terms, release, ordinal(name)) for name, terms in fa} if crush_a else fa
        for mb, fb in b:
            fields = dict(first)
            for name, terms in fb:
                have = fields.get(name)
                if have is None:
                    merged = crushed(terms, release, ordinal(name)) if crush else terms
                else:
                    merged = and_terms(have, terms, release, ordinal(name), budget)
                if merged.count == 0:
                    break  # a contradiction: no conjunction
                fields[name] = merged
            else:
                mult = ma * mb
                out.append((mult if mult < CAP else CAP, tuple(sorted(fields.items()))))
    return merge_groups(out)


def _and_one(a: Group, b: Group, crush: bool, crush_a: bool, release: Release, budget: Budget) -> Dnf:
    """:func:`and_dnf` of two conjunctions (most ANDs: a comparison and its prerequisites, a flow
    and its scope), without the loops over groups, and a field crushed only if it has an OR."""
    ma, fa = a
    mb, fb = b
    if crush_a:
        fields = {
            name: crushed(terms, release, ordinal(name)) if terms.count > 1 else terms for name, terms in fa
        }
    else:
        fields = dict(fa)
    added = False  # no field of b's new to a: the fields keep a's order, sorted already
    for name, terms in fb:
        have = fields.get(name)
        if have is None:
            merged = crushed(terms, release, ordinal(name)) if crush and terms.count > 1 else terms
            added = True
        else:
            merged = and_terms(have, terms, release, ordinal(name), budget)
        if merged.count == 0:
            return FALSE  # a contradiction: no conjunction
        fields[name] = merged
    mult = ma * mb
    return ((mult if mult < CAP else CAP, tuple(sorted(fields.items())) if added else tuple(fields.items())),)


def or_dnf(a: Dnf, b: Dnf, release: Release) -> Dnf:
    if a == TRUE or b == TRUE:
        return TRUE
    if len(a) == 1 and len(b) == 1 and a[0][0] == 1 and b[0][0] == 1:
        fields_a, fields_b = a[0][1], b[0][1]
        if len(fields_a) == 1 and len(fields_b) == 1 and fields_a[0][0] == fields_b[0][0]:
            name = fields_a[0][0]
            return single(name, or_terms(fields_a[0][1], fields_b[0][1], release, ordinal(name)))
    return merge_groups([*a, *b])


def count(dnf: Dnf) -> tuple[int, int]:
    """(flows, conjunctions) that expr_to_matches emits for a normalised disjunction."""
    flows = conjunctions = 0
    for mult, fields in dnf:
        copies = mult
        clauses = []
        for name, terms in fields:
            if name in CROSSPRODUCT_FIELDS:
                copies = saturate(copies * terms.count)
            elif terms.count > 1:
                clauses.append(terms.count)
        if len(clauses) >= 2:
            per = sum(clauses) + 1
            conjunctions = saturate(conjunctions + copies)
        else:
            per = clauses[0] if clauses else 1
        flows = saturate(flows + copies * per)
    return flows, conjunctions
