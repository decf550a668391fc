"""The alternatives of one field, as ovn-controller's normaliser keeps them (pure, no I/O).

:mod:`ovn_inject.lang.expansion` counts conjunctions across fields; within one
field it keeps the actual masked values, here: what a comparison becomes
(``simplify``: expr_simplify's == alternatives), an OR of two sets, an AND
(``and_terms``: crush_and_numeric/crush_and_string) and 23.06's dropping of
contained alternatives. A set too large to intersect is only counted.
"""

from __future__ import annotations

from collections.abc import Iterable

from ovn_inject.records import record

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from ovn_inject.lang.expansion import Release
    from ovn_inject.lang.expansion import _Budget as Budget

#: Every figure saturates here: beyond it the exact number does not matter.
CAP = 1_000_000
#: Per-field sets larger than this are only counted, no longer intersected.
MAX_TERMS = 4096
#: Largest crush (pairs of alternatives compared) done exactly; larger ones multiply.
MAX_PAIRS = 1 << 15
#: Superset elimination (23.06+) is quadratic: given up after this many comparisons (overestimates).
MAX_SUPERSET_WORK = 1 << 17


Term = tuple[int, int] | str  # (value, mask) over the root field, or a port name


@record(frozen=True, slots=True)
class Terms:
    """The alternatives of one field: exact (``items``) or only counted (``items`` None)."""

    count: int
    items: frozenset[Term] | None = None

    @staticmethod
    def of(items: Iterable[Term]) -> Terms:
        found = frozenset(items)
        return Terms(len(found), found)


#: No alternative: a contradiction.
_NONE = Terms(0, frozenset())


def saturate(n: int) -> int:
    """``n``, or CAP beyond it."""
    return n if n < CAP else CAP


def drop_supersets(items: frozenset[Term]) -> frozenset[Term]:
    """crush_or_supersets: an alternative that another, wider one contains adds no packet.

    Quadratic in the worst case: past MAX_SUPERSET_WORK comparisons the set is kept whole
    (an overestimate).
    """
    ints = sorted((t for t in items if not isinstance(t, str)), key=lambda t: t[1].bit_count())
    kept: list[tuple[int, int]] = []
    work = 0
    for value, mask in ints:
        work += len(kept)
        if work > MAX_SUPERSET_WORK:
            return items
        if not any(m & mask == m and (v ^ value) & m == 0 for v, m in kept):
            kept.append((value, mask))
    return frozenset(kept)


def or_terms(a: Terms, b: Terms, release: Release, ordinal: bool) -> Terms:
    if a.items is None or b.items is None:
        return Terms(saturate(a.count + b.count))
    merged = a.items | b.items  # dedup only: an OR is crushed (supersets dropped) inside an AND
    return Terms.of(merged) if len(merged) <= MAX_TERMS else Terms(len(merged))


def and_terms(a: Terms, b: Terms, release: Release, ordinal: bool, budget: Budget) -> Terms:
    """crush_and_numeric/crush_and_string: every non-empty intersection of one of each."""
    if a.count == 1 and b.count == 1 and a.items is not None and b.items is not None:
        return _and_one(a, b, budget)
    pairs = a.count * b.count
    if a.items is None or b.items is None or pairs > MAX_PAIRS or budget.exceeded_by(pairs):
        if a.items is not None and a.count <= 1 and b.items is None:
            return b  # one exact value narrows an opaque set: never more alternatives
        if b.items is not None and b.count <= 1 and a.items is None:
            return a
        return Terms(saturate(pairs))
    budget.pairs += pairs
    found: set[Term] = set()
    add = found.add
    # The intersection of every pair, inline (a large crush spends its time here): two port names
    # meet if equal, a name never meets a masked value, two masked values if they agree on both masks.
    for x in a.items:
        if isinstance(x, str):
            for y in b.items:
                if x == y:
                    add(x)
            continue
        vx, mx = x
        for y in b.items:
            if not isinstance(y, str):
                vy, my = y
                if not (vx ^ vy) & mx & my:
                    add((vx | vy, mx | my))
    result = frozenset(found)
    if release.drop_supersets and ordinal:
        result = drop_supersets(result)
    return Terms.of(result) if len(result) <= MAX_TERMS else Terms(len(result))


def _and_one(a: Terms, b: Terms, budget: Budget) -> Terms:
    """:func:`and_terms` of two single alternatives (the usual case: an exact value and its
    prerequisite's, or the same port): one pair, nothing to drop."""
    if budget.exceeded_by(1):
        return Terms(1)  # as and_terms without the budget for its pair
    budget.pairs += 1
    assert a.items is not None and b.items is not None
    (x,) = a.items
    (y,) = b.items
    if x == y:
        return a
    if isinstance(x, str) or isinstance(y, str):
        return _NONE
    vx, mx = x
    vy, my = y
    if (vx ^ vy) & mx & my:
        return _NONE
    return Terms(1, frozenset(((vx | vy, mx | my),)))


def simplify(op: str, value: int, mask: int, width: int, release: Release) -> Terms:
    """expr_simplify for one integer comparison: the == alternatives it becomes."""
    if op == "==":
        return Terms.of([(value, mask)])
    if op == "!=":
        return _simplify_ne(value, mask, release)
    return _simplify_relational(op, value, mask, release)


def _bits(mask: int) -> Iterable[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _simplify_ne(value: int, mask: int, release: Release) -> Terms:
    if not mask:
        return Terms.of([])  # "x != 0/0" is false
    out: list[Term] = []
    for i in _bits(mask):
        bit = 1 << i
        if release.ne_prefixes:
            upper = mask & ~(bit - 1)
            out.append(((value ^ bit) & upper, upper))
        else:
            out.append(((value ^ bit) & bit, bit))
    return Terms.of(out)


def _simplify_relational(op: str, value: int, mask: int, release: Release) -> Terms:
    start = (mask & -mask).bit_length() - 1
    lt = op in ("<", "<=")
    eq = op in ("<=", ">=")
    region = value & mask
    if region == (mask if lt else 0):  # x <= max, x >= 0: true; x < max, x > 0: !=
        return Terms.of([(0, 0)]) if eq else _simplify_ne(value, mask, release)
    out: list[Term] = [(value, mask)] if eq else []
    wanted = region if lt else mask & ~region
    for z in _bits(wanted):
        below = ((1 << z) - 1) & ~((1 << start) - 1)
        out.append(((value ^ (1 << z)) & ~below, mask & ~below))
    return Terms.of(out)
