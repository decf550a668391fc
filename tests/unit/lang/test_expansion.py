"""The OpenFlow expansion bound: golden figures, release differences, the compiled form, properties."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovn_inject.lang import LanguageError, check_match, parse_match
from ovn_inject.lang import ast as A
from ovn_inject.lang.expansion import CAP, Cost, compiled_cost, estimate

GOLDEN = Path(__file__).parent / "golden" / "expansion.txt"


def golden_cases() -> list[tuple[str, int, int]]:
    """``match => flows conjunctions`` lines (shared with tests/integration/test_expansion_ovn.py)."""
    cases = []
    for line in GOLDEN.read_text().split("\n"):
        if not line or line.startswith("#"):
            continue
        text, _, expected = line.partition(" => ")
        flows, conjunctions = expected.split()
        cases.append((text, int(flows), int(conjunctions)))
    return cases


@pytest.mark.parametrize(("text", "flows", "conjunctions"), golden_cases())
def test_golden(text: str, flows: int, conjunctions: int) -> None:
    cost = estimate(parse_match(text))
    assert (cost.flows, cost.conjunctions) == (flows, conjunctions)


def test_golden_corpus_is_large_and_varied() -> None:
    cases = golden_cases()
    assert len(cases) >= 100
    assert sum(c > 0 for _, _, c in cases) >= 10  # conjunctive matches
    assert sum(f > 100 for _, f, _ in cases) >= 10  # expensive shapes


# Releases: 26.03 turns x != c into disjoint prefixes; 23.06+ drops contained alternatives.
RELEASE_CASES = [
    ("ip4.src != 10.0.0.1", "23.03", 32),
    ("ip4.src != 10.0.0.1", "26.03", 32),
    ("ip4.src != {10.9.0.1, 10.9.0.2}", "23.03", 587),
    ("ip4.src != {10.9.0.1, 10.9.0.2}", "24.03", 32),
    ("tcp.dst != {1, 2}", "24.03", 2 * 16),
    ("ip4.src != {10.9.0.1, 10.9.0.2}", "26.03", 32),
    ("ip4.src != {10.9.0.1, 10.9.0.2, 10.9.0.3}", "26.03", 31),
    ("ip4.src == {10.0.0.0/8, 10.1.0.0/16}", "23.03", 2),
    ("ip4.src == {10.0.0.0/8, 10.1.0.0/16}", "24.03", 1),
    ("tcp.dst >= 1 && tcp.dst <= 6", "26.03", 8),
]


@pytest.mark.parametrize(("text", "release", "flows"), RELEASE_CASES)
def test_release_differences(text: str, release: str, flows: int) -> None:
    assert estimate(parse_match(text), release).flows == flows


def test_unknown_release_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown OVN release"):
        estimate(parse_match("1"), "22.03")


def test_explosion_is_capped_and_named() -> None:
    text = "tcp.dst == 80 && ip4.src != {" + ", ".join(f"10.9.0.{i}" for i in range(1, 9)) + "}"
    cost = estimate(parse_match(text))
    assert cost.capped and cost.flows == CAP
    assert cost.worst_term.startswith("ip4.src != {10.9.0.1,")
    assert "at least 1,000,000 OpenFlow flows per datapath (limit 1,000)" in cost.message(1000)
    assert cost.message(1000).endswith(f"the costly term is `{cost.worst_term}`")


@pytest.mark.parametrize(
    ("text", "worst"),
    [
        ("ip4.src != {10.9.0.1, 10.9.0.2} && tcp.dst == 80", "ip4.src != {10.9.0.1, 10.9.0.2}"),
        ("tcp.dst >= 1 && tcp.dst <= 6", "tcp.dst >= 1 && tcp.dst <= 6"),
        ("ip4 && (tcp.dst != 80 || udp.dst == 53)", "tcp.dst != 80"),
        ("!(ip4.src == {10.0.0.1, 10.0.0.2})", "!(ip4.src == {10.0.0.1, 10.0.0.2})"),
    ],
)
def test_worst_term(text: str, worst: str) -> None:
    assert estimate(parse_match(text)).worst_term == worst


APPS = [
    "1",
    "tcp.dst == 80",
    "ip4.src == {10.0.0.1, 10.0.0.2} && tcp.dst == {80, 443}",
    "tcp.dst == 80 || udp.dst == 53 || icmp4",
    "ip4.src != {10.9.0.1, 10.9.0.2}",
    'inport == "vm1" && ip4',
]


@pytest.mark.parametrize("app", APPS)
@pytest.mark.parametrize("ports", [["vm1"], ["vm1", "vm3"], ["vm1", "vm2", "vm3"]])
def test_compiled_cost_equals_the_compiled_text(app: str, ports: list[str]) -> None:
    cursor = parse_match("reg9[0..3] == 2")
    scope = ", ".join(f'"{p}"' for p in ports)
    text = f"reg9[0..3] == 2 && inport == {{{scope}}} && ({app})"
    got = compiled_cost(parse_match(app), ports, cursor=cursor)
    want = estimate(parse_match(text))
    assert (got.flows, got.conjunctions) == (want.flows, want.conjunctions)


def test_scope_ports_add_instead_of_multiplying_a_clause() -> None:
    app = parse_match("ip4.src == {10.0.0.1, 10.0.0.2, 10.0.0.3}")
    assert compiled_cost(app, 1).flows == 3
    assert compiled_cost(app, 10) == Cost(3 + 10 + 1, 1, "ip4.src == {10.0.0.1, 10.0.0.2, 10.0.0.3}")
    plain = parse_match("tcp.dst == 80")
    assert compiled_cost(plain, 10).flows == 2 * 10  # no clause of its own: one flow per port
    assert compiled_cost(plain, 0).flows == 0


def test_set_sizes_count_address_sets_and_port_groups() -> None:
    tree = parse_match("ip4.src == $as1 && inport == @pg1")
    assert estimate(tree).flows == 1
    assert estimate(tree, set_sizes={"as1": 10, "pg1": 4}) == Cost(10 + 4 + 1, 1, "ip4.src == $as1")
    assert estimate(parse_match("ip4.src != $as1"), set_sizes={"as1": 3}).flows >= 32**3 // 8


# ---- properties ---------------------------------------------------------------------

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

leaf = st.sampled_from(
    [
        "tcp.dst == 80",
        "tcp.dst != 80",
        "udp.dst == {53, 123}",
        "ip4.src == 10.0.0.0/8",
        "ip4.src != 10.0.0.1",
        "ip6.dst == fe80::/10",
        "1 <= tcp.src <= 1023",
        "reg0[0..3] > 5",
        "ct.est",
        "eth.mcast",
        'inport == {"vm1", "vm2"}',
        "icmp4",
        "arp.op == 1",
        "ip4.src == $as1",
    ]
).map(parse_match)


def _tree(depth: int) -> st.SearchStrategy[A.Expr]:
    if depth == 0:
        return leaf
    sub = _tree(depth - 1)
    return st.one_of(
        leaf,
        st.builds(lambda items: A.And(tuple(items)), st.lists(sub, min_size=2, max_size=3)),
        st.builds(lambda items: A.Or(tuple(items)), st.lists(sub, min_size=2, max_size=3)),
        st.builds(A.Not, sub),
    )


def _well_typed(tree: A.Expr) -> bool:
    try:
        check_match(tree)
    except LanguageError:
        return False
    return True


trees = _tree(3).filter(_well_typed)


@SETTINGS
@given(trees, st.sampled_from(["23.03", "24.03", "26.03"]))
def test_never_crashes_and_stays_in_range(tree: A.Expr, release: str) -> None:
    cost = estimate(tree, release)
    assert 0 <= cost.conjunctions <= cost.flows <= CAP
    assert cost.capped == (cost.flows >= CAP or cost.conjunctions >= CAP)
    assert cost.worst_term == "" or parse_match(cost.worst_term) is not None


@SETTINGS
@given(trees, trees)
def test_or_costs_at_most_the_sum(a: A.Expr, b: A.Expr) -> None:
    """OVN emits the flows of each side of an OR (some merged): never more than both together."""
    assert estimate(A.Or((a, b))).flows <= min(CAP, estimate(a).flows + estimate(b).flows)


@SETTINGS
@given(trees, st.integers(1, 6), st.integers(0, 6))
def test_more_scope_ports_never_cost_less(app: A.Expr, ports: int, more: int) -> None:
    assert compiled_cost(app, ports).flows <= compiled_cost(app, ports + more).flows


@SETTINGS
@given(st.lists(st.integers(0, 2**16 - 1), min_size=1, max_size=4, unique=True), st.integers(0, 2**16 - 1))
def test_excluding_one_more_value_never_costs_less(values: list[int], extra: int) -> None:
    """On 23.03 each excluded value multiplies: a longer != set costs at least as much."""
    if extra in values:
        return
    fewer = parse_match(f"tcp.dst != {{{', '.join(map(str, values))}}}")
    more = parse_match(f"tcp.dst != {{{', '.join(map(str, [*values, extra]))}}}")
    assert estimate(fewer).flows <= estimate(more).flows


def _uncached(tree: A.Expr, release: str) -> tuple[int, int]:
    """The count without the shared lowering of top-level terms (expansion._Lowering.top)."""
    from ovn_inject.lang import expansion as ex

    return ex.count(ex._Lowering(ex.RELEASES[release], {}).expr(tree, False, True))


@pytest.mark.parametrize("release", ["23.03", "24.03", "26.03"])
def test_shared_terms_count_as_lowered_afresh(release: str) -> None:
    """Every golden match, alone and behind terms that spend the work budget, twice (the second cached)."""
    costly = parse_match("ip4.src != {10.0.0.1, 10.0.0.2, 10.0.0.3} && ip4.dst != {10.0.1.1, 10.0.1.2}")
    for text, _, _ in golden_cases():
        tree = parse_match(text)
        for whole in (tree, A.And((costly, tree)), A.And((tree, costly, tree))):
            for _ in range(2):
                cost = estimate(whole, release, name_worst=False)
                assert (cost.flows, cost.conjunctions) == _uncached(whole, release), text


@SETTINGS
@given(st.lists(trees, min_size=2, max_size=4), st.sampled_from(["23.03", "24.03", "26.03"]))
def test_shared_terms_count_as_lowered_afresh_on_any_conjunction(items: list[A.Expr], release: str) -> None:
    whole = A.And(tuple(items))
    cost = estimate(whole, release, name_worst=False)
    assert (cost.flows, cost.conjunctions) == _uncached(whole, release)


_SCOPE = 'inport == {"vm1", "vm2"} || (inport == "lr" && eth.dst == {02:00:00:00:00:01, 02:00:00:00:00:02})'


def _scope_costs_afresh(app: A.Expr, scopes: list[tuple[int, str] | A.Expr], release: str) -> list[Cost]:
    """scope_costs with every scope lowered in the flow's lowering (set sizes bypass the table)."""
    from ovn_inject.lang import expansion as ex

    return ex.scope_costs(app, scopes, release, {"\0no set": 1})


@pytest.mark.parametrize("release", ["23.03", "24.03", "26.03"])
def test_scopes_count_as_lowered_afresh(release: str) -> None:
    """Every golden match at a compiled scope and at port scopes: a scope from the table costs as afresh."""
    from ovn_inject.lang import expansion as ex

    costly = parse_match("ip4.src != {10.0.0.1, 10.0.0.2, 10.0.0.3} && ip4.dst != {10.0.1.1, 10.0.1.2}")
    scopes: list[tuple[int, str] | A.Expr] = [parse_match(_SCOPE), (3, "outport"), (1, "inport"), costly]
    for text, _, _ in golden_cases():
        app = parse_match(text)
        want = _scope_costs_afresh(app, scopes, release)
        for _ in range(2):
            assert ex.scope_costs(app, scopes, release) == want, text


@pytest.mark.parametrize("work", [5_000, 19_000, 30_000, 50_000])
def test_scopes_count_as_lowered_afresh_when_the_work_budget_runs_out(
    work: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scope that spends (or runs out of) the work budget leaves the flow's lowering what it would."""
    from ovn_inject.lang import expansion as ex

    monkeypatch.setattr(ex, "MAX_WORK", work)
    scopes: list[tuple[int, str] | A.Expr] = [
        parse_match("ip4.src != {10.0.0.1, 10.0.0.2, 10.0.0.3} && tcp"),  # 19,808 pairs on 23.03
        parse_match(_SCOPE),
        # 1,024 pairs, then 18,785 with the app's ip4.src != 10.0.0.9: within 19,000 only alone
        parse_match("ip4.src != {10.0.0.1, 10.0.0.2}"),
    ]
    for text in ("ip4.dst != {10.0.1.1, 10.0.1.2, 10.0.1.3}", "tcp.dst != {1, 2, 3} && ip4.src != 10.0.0.9"):
        app = parse_match(text)
        want = _scope_costs_afresh(app, scopes, "23.03")
        ex._SCOPES.clear()
        for _ in range(2):
            assert ex.scope_costs(app, scopes, "23.03") == want, text
    ex._SCOPES.clear()


@pytest.mark.parametrize("work", [5_000, 30_000, 50_000])
def test_shared_terms_count_as_lowered_afresh_when_the_work_budget_runs_out(
    work: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A term that alone, or after the others, passes the budget is lowered again with what is left."""
    from ovn_inject.lang import expansion as ex

    monkeypatch.setattr(ex, "MAX_WORK", work)
    ex._lowered.cache_clear()
    terms = [
        "ip4.src != {10.0.0.1, 10.0.0.2, 10.0.0.3}",  # 19,808 pairs on 23.03
        "ip4.dst != {10.0.1.1, 10.0.1.2, 10.0.1.3}",
        "tcp.dst != {1, 2, 3}",
        'inport == {"a", "b"}',
    ]
    trees = [parse_match(t) for t in terms]
    for whole in (A.And(tuple(trees)), A.And(tuple(reversed(trees))), A.And((trees[3], trees[0]))):
        for _ in range(2):
            cost = estimate(whole, "23.03", name_worst=False)
            assert (cost.flows, cost.conjunctions) == _uncached(whole, "23.03")
    ex._lowered.cache_clear()


# A flow's usual match (lang/exact.py): exact comparisons, prerequisites that meet or contradict,
# subfields, masks, a field twice, one field only, and trees it leaves to the general walk.
_EXACT_CASES = [
    ('inport == "vm1" && ip4.src == 10.0.0.7 && tcp.dst == 8080', True),
    ("ip4.src == 10.0.0.0/24 && ip4.dst == 10.0.1.1 && udp.src == 53", True),
    ("ip6.dst == fe80::1 && tcp.src == 22 && eth.src == 02:00:00:00:00:01", True),
    ("eth.type == 0x86dd && ip4.src == 10.0.0.1", True),  # its prerequisite contradicts it
    ("ip.proto == 17 && tcp.dst == 80", True),
    ("tcp.dst == 80 && udp.dst == 53", True),
    ("reg0[0..7] == 3 && reg0[8..15] == 4 && ip.ttl == 9", True),
    ("vlan.tci == 0x100/0xf00 && eth.dst == 00:00:00:00:00:00/01:00:00:00:00:00", True),
    ("ip4.src == 10.0.0.1 && ip4.src == 10.0.0.1 && tcp.dst == 1", True),  # a field again
    ("ip4.src == 10.0.0.1 && ip4.src == 10.0.0.2 && tcp.dst == 1", True),
    ("ip4.src == 10.0.0.1 && tcp.dst == 1 && ip4.src == 10.0.0.0/8", True),
    ("tcp.dst == 80", True),
    ('outport == "vm2" && icmp4.type == 8', True),
    ("tcp.dst == 80 && tcp.dst == 0x50", False),  # one field: its prerequisites once
    ("tcp.dst == 80 && tcp.dst == 81", True),  # but a contradiction is false all the same
    ("ct.est == 1 && ip4.src == 10.0.0.1", False),  # ct.trk, its prerequisite, is of its own field
    ("ip4.src == 0.0.0.0/0 && tcp.dst == 1", False),  # true: its own case
    ("ip4.src == {10.0.0.1, 10.0.0.2} && tcp.dst == 1", False),
    ("ip4.src != 10.0.0.1 && tcp.dst == 1", False),
    ("ip4 && tcp.dst == 1", False),
    ("tcp.dst == 1 && (ip4.src == 10.0.0.1 || ip4.dst == 10.0.0.1)", False),
]


@pytest.mark.parametrize("release", ["23.03", "24.03", "26.03"])
def test_exact_conjunctions_lower_as_the_general_walk(release: str) -> None:
    """lang/exact.py takes the usual matches and gives the general walk's result; the rest it leaves."""
    from ovn_inject.lang import exact
    from ovn_inject.lang import expansion as ex

    cases = [(text, None) for text, _, _ in golden_cases()] + list(_EXACT_CASES)
    for text, taken in cases:
        tree = parse_match(text)
        for _ in range(2):  # the second with the field's lowering known
            lowering = ex._Lowering(ex.RELEASES[release], {})
            got = exact.lowered(tree, lowering)
            if taken is not None:
                assert (got is not None) == taken, text
            if got is not None:
                want = ex._Lowering(ex.RELEASES[release], {})
                assert got == want.expr(tree, False, True), text
                # The work it did, as the walk (which, once false, goes on to the end for nothing).
                assert not got or (lowering.budget.pairs, lowering.budget.exhausted) == (
                    want.budget.pairs,
                    want.budget.exhausted,
                ), text


def test_an_empty_conjunction_is_left_to_the_general_walk() -> None:
    from ovn_inject.lang import exact
    from ovn_inject.lang import expansion as ex

    assert exact.lowered(A.And(()), ex._Lowering(ex.RELEASES["23.03"], {})) is None


@SETTINGS
@given(st.lists(trees, min_size=1, max_size=4), st.sampled_from(["23.03", "24.03", "26.03"]))
def test_exact_conjunctions_lower_as_the_general_walk_on_any_conjunction(
    items: list[A.Expr], release: str
) -> None:
    from ovn_inject.lang import exact
    from ovn_inject.lang import expansion as ex

    whole = A.And(tuple(items)) if len(items) > 1 else items[0]
    got = exact.lowered(whole, ex._Lowering(ex.RELEASES[release], {}))
    if got is not None:
        assert got == ex._Lowering(ex.RELEASES[release], {}).expr(whole, False, True)
