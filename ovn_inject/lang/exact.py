"""A flow's usual match lowered without the general walk (pure, no I/O).

Most matches a service submits are a conjunction of exact comparisons on
different fields, ``inport == "vm1" && ip4.src == A && tcp.dst == P``, with
fresh constants for every flow. :mod:`ovn_inject.lang.expansion` lowers any
tree with a few calls per node; such a conjunction is lowered here in a few
steps per comparison, to the same result (the same tuples), or refused (None)
for the general walk to do it.
"""

from __future__ import annotations

from ovn_inject.lang import symbols
from ovn_inject.lang.alternatives import CAP, Terms, and_terms
from ovn_inject.lang.ast import And, Comparison, Expr, Integer, String
from ovn_inject.lang.conjunctions import FALSE, Dnf, crushed, field_bits, ordinal

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from ovn_inject.lang.expansion import _Lowering

#: Fields kept in the table (a field's subfields are fields of their own); past it the table starts again.
MAX_FIELDS = 4096

#: What an exact comparison of one field lowers to with its prerequisites, per (name, low, high)
#: and release: (key in the conjunction, is a string, lowest bit, width, mask of its bits, multiplicity,
#: its prerequisites' fields before the key and after it); None: not one conjunction (see lowered).
_Exact = tuple[str, bool, int, int, int, int, tuple[tuple[str, Terms], ...], tuple[tuple[str, Terms], ...]]
_EXACT: dict[tuple[str, int | None, int | None, bool, bool], _Exact | None] = {}


def _exact_field(name: str, low: int | None, high: int | None, lowering: _Lowering) -> _Exact | None:
    """How ``name[low..high] == c`` lowers, for any single exact ``c``: ``and_dnf(single, prereqs)``
    is the single field inserted among the prerequisites' fields, crushed as that AND crushes them."""
    release = lowering.release
    symbol = symbols.SYMBOLS[name]
    if symbol.predicate is not None:
        return None
    if symbol.is_string:
        key, first, width, span = name, 0, 0, 0
    else:
        key, first, width, span, _, _ = field_bits(name, low, high)
    prereqs = lowering.prereqs(name)
    if prereqs is None:
        return key, symbol.is_string, first, width, span, 1, (), ()
    if len(prereqs) != 1:
        return None
    mult, fields = prereqs[0]
    if release.drop_supersets:
        fields = tuple((n, crushed(t, release, ordinal(n)) if t.count > 1 else t) for n, t in fields)
    if any(n == key or t.count == 0 for n, t in fields):
        return None
    before = tuple(f for f in fields if f[0] < key)
    after = tuple(f for f in fields if f[0] > key)
    return key, symbol.is_string, first, width, span, mult if mult < CAP else CAP, before, after


_NOT_YET: _Exact = ("", False, 0, 0, 0, 0, (), ())


def lowered(app: Expr, lowering: _Lowering) -> Dnf | None:
    """``lowering.expr(app, False, True)`` for a fresh ``lowering`` when ``app`` is a comparison, or an AND of
    comparisons of more than one field, each ``==`` to one exact value (a flow's usual match:
    ``ip4.src == A && tcp.dst == P``); None for any other tree (false, if it finds a contradiction
    first, whatever its fields).

    Each comparison with its prerequisites is one conjunction known but for its value
    (:func:`_exact_field`), and their AND is one conjunction too: the fields merged, a field met
    again intersected as and_dnf intersects it, in the same order, within the lowering's budget.
    Every field is crushed already (each comes from a crush, a single value or an intersection),
    so the AND crushes none again. This is the general walk's result (the same tuples), with a
    few steps per comparison instead of a few calls.
    """
    items = app.items if type(app) is And else (app,)
    if not items:
        return None  # not a match: the general walk says so
    fields: dict[str, Terms] = {}
    mult = 1
    release = lowering.release
    budget = lowering.budget
    one_field: str | None = items[0].field.name if type(items[0]) is Comparison else None
    for item in items:
        if type(item) is not Comparison or item.op != "==" or len(item.values) != 1:
            return None
        ref = item.field
        value = item.values[0]
        # Keyed by what of the release lowering reads: a Release hashes in Python, these do not.
        known = (ref.name, ref.low, ref.high, release.ne_prefixes, release.drop_supersets)
        found = _EXACT.get(known, _NOT_YET)
        if found is _NOT_YET:
            if len(_EXACT) >= MAX_FIELDS:
                _EXACT.clear()
            found = _EXACT[known] = _exact_field(ref.name, ref.low, ref.high, lowering)
        if found is None:
            return None
        key, string, low, width, span, times, before, after = found
        if string:
            if type(value) is not String:
                return None
            terms = Terms(1, frozenset((value.value,)))
        else:
            if type(value) is not Integer:
                return None
            mask = ((1 << width) - 1 if value.mask is None else value.mask) << low & span
            if not mask:
                return None  # "x == 0/0" is true: its own case
            terms = Terms(1, frozenset((((value.value << low) & mask, mask),)))
        if ref.name != one_field:
            one_field = None
        mult *= times
        for name, one in (*before, (key, terms), *after):
            have = fields.get(name)
            if have is not None:
                one = and_terms(have, one, release, ordinal(name), budget)
                if one.count == 0:
                    return FALSE
            fields[name] = one
    if len(items) > 1 and one_field is not None:
        return None  # one field: its prerequisites once, for the whole AND (expr_annotate__)
    return ((mult if mult < CAP else CAP, tuple(sorted(fields.items()))),)
