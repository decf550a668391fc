"""A record behaves as the dataclass of the same fields and options (ovn_inject.records)."""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable
from typing import Any

import pytest

from ovn_inject import records
from ovn_inject.lang import ast as n

OPTIONS = [
    {"frozen": True, "slots": True},
    {"frozen": True},
    {},
    {"frozen": True, "eq": False},
    {"eq": False},
]


def _pair(options: dict[str, bool]) -> tuple[Any, Any]:
    """The same class twice, as a dataclass and as a record (module-level names: picklable)."""

    def body(field: Callable[..., Any]) -> dict[str, Any]:
        return {
            "__annotations__": {
                "a": "int",
                "b": "str",
                "c": "tuple[int, ...]",
                "pos": "int",
                "seen": "list[int]",
            },
            "b": "x",
            "c": (),
            "pos": field(default=0, compare=False),
            "seen": field(default_factory=list, compare=False),
            "__module__": __name__,
        }

    made = []
    for name, decorate, field in (
        ("AsDataclass", dataclasses.dataclass(**options), dataclasses.field),
        ("AsRecord", records.record(**options), records.field),
    ):
        cls = decorate(type(name, (), {**body(field), "__qualname__": name}))
        globals()[name] = cls
        made.append(cls)
    return made[0], made[1]


def _compiled(cls: Any) -> bool:
    return cls.__dict__["__init__"].__qualname__.endswith(f"{cls.__qualname__}.__init__")


def _compile_init(cls: Any) -> None:
    """Make the class compile its own __init__ (after COMPILE_AFTER instances)."""
    for _ in range(records.COMPILE_AFTER + 1):
        cls(1)
    assert _compiled(cls)


@pytest.mark.parametrize("init", ["shared", "compiled"])
@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_a_record_is_the_dataclass_of_its_fields(options: dict[str, bool], init: str) -> None:
    dc, rec = _pair(options)
    if init == "compiled":
        _compile_init(rec)
    for args, kwargs in (((1,), {}), ((1, "y", (2, 3)), {"pos": 7}), ((), {"a": 4, "seen": [1]})):
        d, r = dc(*args, **kwargs), rec(*args, **kwargs)
        assert repr(d).replace("AsDataclass", "X") == repr(r).replace("AsRecord", "X")
        assert dataclasses.asdict(d) == dataclasses.asdict(r)
        assert dataclasses.astuple(d) == dataclasses.astuple(r)
        assert (d == dc(*args, **kwargs)) == (r == rec(*args, **kwargs))
        assert (d == dc(*args, **{**kwargs, "pos": 99})) == (r == rec(*args, **{**kwargs, "pos": 99}))
        assert ((r == d) is False and r.__eq__(d) is NotImplemented) or not options.get("eq", True)
        if dc.__hash__ is None:
            assert rec.__hash__ is None
        elif options.get("eq", True):
            assert hash(d) == hash(r)  # the same hash: sets of them iterate alike
        assert dc.__match_args__ == rec.__match_args__
        assert [f.name for f in dataclasses.fields(d)] == [f.name for f in dataclasses.fields(r)]
        assert dataclasses.is_dataclass(r) and dataclasses.is_dataclass(rec)
        assert dataclasses.replace(r, b="z") == records.replace(r, b="z") != r or not options.get("eq", True)
        assert records.replace(r, b="z").b == "z" and records.replace(r).seen is r.seen
        if options.get("frozen"):
            with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'a'"):
                r.a = 5
            with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'b'"):
                del r.b
        else:
            r.a = 5
            assert r.a == 5
        assert pickle.loads(pickle.dumps(r)) == r or not options.get("eq", True)
    assert rec(1).seen is not rec(1).seen  # a default_factory is called for each instance
    assert hasattr(dc(1), "__dict__") == hasattr(rec(1), "__dict__")  # slots or not
    assert _compiled(rec) == (init == "compiled")


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), ((1, "y", (), 0, [], 9), {}), ((1,), {"a": 2}), ((1,), {"z": 2}), ((), {"b": "y"})],
)
def test_a_call_it_refuses_is_refused_as_a_dataclass_refuses_it(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    """The shared __init__ leaves a call it cannot bind to the compiled one: the same TypeError."""
    dc, rec = _pair({"frozen": True})
    with pytest.raises(TypeError) as theirs:
        dc(*args, **kwargs)
    with pytest.raises(TypeError) as ours:
        rec(*args, **kwargs)
    assert str(ours.value).replace("AsRecord", "X") == str(theirs.value).replace("AsDataclass", "X")


def test_its_methods_are_named_for_its_class() -> None:
    for _ in range(records.COMPILE_AFTER + 1):
        n.Integer(1)
    assert n.Integer.__init__.__qualname__ == "Integer.__init__"
    assert n.Integer.__init__.__module__ == "ovn_inject.lang.ast"
    assert repr(n.FieldRef("reg0", 1, 2)) == "FieldRef(name='reg0', low=1, high=2, pos=0)"


@pytest.mark.parametrize("first", ["init", "eq", "hash"])
def test_its_methods_are_compiled_once_used_often(first: str) -> None:
    """A class little used costs no compilation: __init__ is compiled once the class has made
    COMPILE_AFTER instances, __eq__ and __hash__ together after COMPILE_AFTER uses of either."""

    @records.record(frozen=True)
    class Lazy:
        a: int
        b: int = records.field(default=0, compare=False)

    first_ones = {name: Lazy.__dict__[name] for name in ("__init__", "__eq__", "__hash__")}

    def compiled() -> set[str]:
        return {name for name, first in first_ones.items() if Lazy.__dict__[name] is not first}

    one = object.__new__(Lazy)
    object.__setattr__(one, "a", 1)
    object.__setattr__(one, "b", 2)
    for i in range(records.COMPILE_AFTER):
        if first == "init":
            assert Lazy(1, 2).b == 2
        elif first == "eq":
            assert one.__eq__(one) is True if i % 2 else one.__eq__(1) is NotImplemented
        else:
            assert hash(one) == hash((1,))
    assert compiled() == set()
    if first == "init":
        assert Lazy(1, 2).b == 2 and compiled() == {"__init__"}
    elif first == "eq":
        assert one.__eq__(one) is True and compiled() == {"__eq__", "__hash__"}
    else:
        assert hash(one) == hash((1,)) and compiled() == {"__eq__", "__hash__"}
    _compile_init(Lazy)
    for _ in range(records.COMPILE_AFTER + 1):
        assert one == Lazy(1, 3) and hash(Lazy(4)) == hash((4,))
    assert compiled() == set(first_ones)
    assert Lazy.__init__.__qualname__.endswith("Lazy.__init__")
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'a'"):
        Lazy()  # type: ignore[call-arg]


def test_what_a_record_does_not_do_is_refused() -> None:
    with pytest.raises(ValueError, match="mutable default"):

        @records.record
        class Mutable:
            items: list[int] = []

    with pytest.raises(TypeError, match="ClassVar"):

        @records.record
        class WithClassVar:
            shared: ClassVar[int] = 0  # type: ignore[name-defined]  # noqa: F821


def test_a_method_of_its_own_is_kept() -> None:
    @records.record(frozen=True)
    class Named:
        name: str

        def __repr__(self) -> str:
            return f"<{self.name}>"

    assert repr(Named("x")) == "<x>" and Named("x") == Named("x") and hash(Named("x")) == hash(("x",))
