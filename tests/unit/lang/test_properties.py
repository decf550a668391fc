"""Properties: well-typed trees print and re-parse equal; no input makes the parser raise anything else."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovn_inject.lang import LanguageError, format_actions, format_match, parse_actions, parse_match
from ovn_inject.lang import ast as A

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _masked(value: int, fmt: A.IntFormat, mask: int | None) -> A.Integer:
    return A.Integer(value if mask is None else value & mask, fmt, mask)


def _prefix(width: int) -> st.SearchStrategy[int | None]:
    return st.one_of(
        st.none(),
        st.integers(0, width).map(lambda n: ((1 << n) - 1) << (width - n)),
        st.integers(0, (1 << width) - 1),
    )


ipv4 = st.builds(_masked, st.integers(0, 2**32 - 1), st.just("ipv4"), _prefix(32))
ipv6 = st.builds(_masked, st.integers(0, 2**128 - 1), st.just("ipv6"), _prefix(128))
mac = st.builds(_masked, st.integers(0, 2**48 - 1), st.just("mac"), st.none() | st.integers(0, 2**48 - 1))


def number(bits: int) -> st.SearchStrategy[A.Integer]:
    plain = st.builds(A.Integer, st.integers(0, 2**bits - 1), st.sampled_from(["dec", "hex"]))
    masked = st.builds(_masked, st.integers(0, 2**bits - 1), st.just("hex"), st.integers(0, 2**bits - 1))
    return plain | masked


names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)

# (field strategy, constant strategy) pairs: ordinal fields only, so that any
# nesting under '!' stays well typed.
_fields = st.sampled_from(
    [
        (A.FieldRef("ip4.src"), ipv4),
        (A.FieldRef("ip6.dst"), ipv6),
        (A.FieldRef("eth.src"), mac),
        (A.FieldRef("tcp.dst"), number(16)),
        (A.FieldRef("reg9", 0, 3), number(4)),
        (A.FieldRef("xxreg0", 64, 127), number(64)),
        (A.FieldRef("ct_label.label"), number(32)),
    ]
)


@st.composite
def comparisons(draw: st.DrawFn) -> A.Expr:
    field, constants = draw(_fields)
    values = draw(st.lists(constants, min_size=1, max_size=3))
    in_set = len(values) > 1 or draw(st.booleans())
    plain = not in_set and values[0].mask is None
    op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="] if plain else ["==", "!="]))
    return A.Comparison(field, op, tuple(values), in_set)


ports = st.builds(lambda n: A.Comparison(A.FieldRef("inport"), "==", (A.String(n),)), names)
tests = st.sampled_from(["ct.est", "ct.trk", "eth.bcast", "eth.mcast", "ip.is_frag"]).map(
    lambda n: A.Test(A.FieldRef(n))
)
leaves = comparisons() | tests | st.builds(A.Bool, st.booleans()) | st.builds(A.ChassisResident, names)


def _extend(children: st.SearchStrategy[A.Expr]) -> st.SearchStrategy[A.Expr]:
    many = st.lists(children, min_size=2, max_size=4).map(tuple)
    return st.builds(A.And, many) | st.builds(A.Or, many) | st.builds(A.Not, children)


matches = st.recursive(leaves, _extend, max_leaves=12) | ports


@SETTINGS
@given(matches)
def test_match_round_trip(tree: A.Expr) -> None:
    text = format_match(tree)
    assert parse_match(text) == tree, text


loads = st.one_of(
    st.builds(lambda c: A.Load(A.FieldRef("ip4.dst"), c), ipv4.filter(lambda c: c.mask is None)),
    st.builds(lambda c: A.Load(A.FieldRef("reg9", 0, 3), c), number(4).filter(lambda c: c.mask is None)),
    st.builds(lambda n: A.Load(A.FieldRef("outport"), A.String(n)), names),
    st.builds(lambda c: A.Load(A.FieldRef("eth.src"), c), mac.filter(lambda c: c.mask is None)),
)
simple_actions = st.one_of(
    loads,
    st.just(A.Output()),
    st.just(A.DecTtl()),
    st.builds(A.Next, st.none() | st.integers(0, 28), st.none() | st.sampled_from(["ingress", "egress"])),
    st.just(A.Move(A.FieldRef("eth.dst"), A.FieldRef("eth.src"))),
    st.just(A.Exchange(A.FieldRef("ip4.src"), A.FieldRef("ip4.dst"))),
    st.just(A.Generic("ct_commit", None, A.Actions((A.Load(A.FieldRef("ct_mark.blocked"), A.Integer(1)),)))),
    st.just(A.Generic("ct_dnat", ("10.0.0.5",))),
    st.just(A.Generic("check_in_port_sec", (), None, A.FieldRef("reg0", 0, 0))),
)


def _nest(children: st.SearchStrategy[A.Actions]) -> st.SearchStrategy[A.Actions]:
    return st.builds(
        lambda items, body: A.Actions((*items, A.Clone(body))), st.lists(simple_actions, max_size=3), children
    )


action_lists = st.recursive(
    st.lists(simple_actions, max_size=5).map(lambda items: A.Actions(tuple(items)))
    | st.just(A.Actions((A.Drop(),))),
    _nest,
    max_leaves=6,
)


@SETTINGS
@given(action_lists)
def test_actions_round_trip(tree: A.Actions) -> None:
    text = format_actions(tree)
    assert parse_actions(text) == tree, text


# ---- never crash -------------------------------------------------------------

_SEEDS = [
    line.partition(" => ")[0]
    for name in ("match.txt", "actions.txt")
    for line in (Path(__file__).parent / "golden" / name).read_text().splitlines()
    if line and not line.startswith("#")
]
_ALPHABET = st.sampled_from([*'abcdefxipt0123456789.:/[]{}()!=<>&|-,;"\\$@ *^', "reg0", "tcp", "next"])


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(_SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(_ALPHABET)
        if action == "insert":
            text = text[:at] + piece + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + piece + text[at + 1 :]
    return text


inputs = mutated() | st.text(max_size=60) | st.lists(_ALPHABET, max_size=30).map("".join)


@settings(max_examples=1500, deadline=None)
@given(inputs)
def test_never_crashes(text: str) -> None:
    for parse, fmt in ((parse_match, format_match), (parse_actions, format_actions)):
        try:
            tree = parse(text)
        except LanguageError:
            continue
        printed = fmt(tree)  # type: ignore[arg-type]
        assert parse(printed) == tree, (text, printed)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    for text in ("(" * 5000 + "tcp" + ")" * 5000, "clone { " * 100 + "next;" + " };" * 100):
        try:
            parse_match(text) if text.startswith("(") else parse_actions(text)
        except LanguageError as exc:
            assert "deep" in str(exc)
