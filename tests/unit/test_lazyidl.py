"""db.lazyidl applies updates as python-ovs does: the same rows, values, notices and old values."""

from __future__ import annotations

import uuid
from typing import Any

import ovs.db.idl
import pytest

from ovn_inject.db import lazyidl
from tests.unit.idlreplay import replay, schema_helper

SVC, FLOW, OTHER, THIRD = (str(uuid.uuid4()) for _ in range(4))


class _Recording(ovs.db.idl.Idl):
    """Records each notice with the old values it carries."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notices: list[tuple[Any, ...]] = []

    def notify(self, event: Any, row: Any, updates: Any = None) -> None:
        old = {} if updates is None else {c: updates._data[c].to_json() for c in dict(updates._data)}
        self.notices.append((event, row._table.name, str(row.uuid), old))


class _Lazy(lazyidl.LazyRows, _Recording):
    pass


class _LazyFlows(_Lazy):
    lazy_tables = frozenset({"Service_Flow"})


def _helper() -> ovs.db.idl.SchemaHelper:
    return schema_helper(
        {
            "Service": ["name", "tenant", "enabled", "flows", "tokens", "options"],
            "Service_Flow": ["service", "priority", "match", "actions"],
            "Token": ["public_id"],
        }
    )


UPDATES: list[dict[str, Any]] = [
    # tokens and options left out: at their default (an empty set, an empty map)
    {"Service": {SVC: {"initial": {"name": "s", "tenant": "t", "flows": ["uuid", FLOW]}}}},
    {"Service_Flow": {FLOW: {"insert": {"service": ["uuid", SVC], "priority": 10, "match": "tcp"}}}},
    {
        "Service_Flow": {OTHER: {"insert": {"service": ["uuid", SVC], "priority": 11, "match": "udp"}}},
        "Service": {SVC: {"modify": {"flows": ["uuid", OTHER], "enabled": False}}},
    },
    {"Service": {SVC: {"modify": {"tokens": ["uuid", THIRD], "options": ["map", [["max_flows", "9"]]]}}}},
    {
        "Service": {
            SVC: {"modify": {"flows": ["set", [["uuid", FLOW], ["uuid", THIRD]]], "tokens": ["uuid", THIRD]}}
        }
    },
    {"Service": {SVC: {"modify": {"options": ["map", [["max_flows", "9"]]], "name": "s2"}}}},
    {"Service_Flow": {FLOW: {"delete": None}}},
]


@pytest.mark.parametrize("lazy", [_Lazy, _LazyFlows])
def test_updates_apply_as_python_ovs_applies_them(lazy: type[_Recording]) -> None:
    plain = _Recording("unix:/nonexistent", _helper(), leader_only=False)
    mine = lazy("unix:/nonexistent", _helper(), leader_only=False)
    replay(plain, mine, UPDATES)


def test_the_overrides_are_in_use_only_where_python_ovs_has_the_handlers_they_replace() -> None:
    for name in lazyidl.HANDLERS:
        assert lazyidl.can_override(ovs.db.idl.Idl, name) == (name in lazyidl.LazyRows.__dict__)

    class Changed:
        def _Idl__apply_diff(self, table: Any, row: Any, diff: Any) -> None: ...

    assert not lazyidl.can_override(Changed, "_Idl__apply_diff")
    assert not lazyidl.can_override(Changed, "_Idl__process_update2")


class _Keeping(ovs.db.idl.Idl):
    """Keeps each notice's old values (the ``updates`` row) to read them later."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kept: list[Any] = []
        self.notices: list[tuple[Any, ...]] = []  # replay() compares these: read at once

    def notify(self, event: Any, row: Any, updates: Any = None) -> None:
        if updates is not None:
            self.kept.append(updates)
            if len(self.kept) % 2:  # every other one also read at once: read twice, it stays the same
                self.notices.append({c: updates._data[c].to_json() for c in dict(updates._data)})


class _LazyKeeping(lazyidl.LazyRows, _Keeping):
    pass


def test_old_values_read_after_later_updates_are_what_python_ovs_gives() -> None:
    """A notice's old value of a set or map is rebuilt from the diff when read: right even once the
    row changed again, as python-ovs's copy is."""
    more = [
        {"Service": {SVC: {"modify": {"options": ["map", [["max_flows", "12"], ["x", "1"]]]}}}},
        {"Service": {SVC: {"modify": {"options": ["map", [["max_flows", "13"]]], "flows": ["uuid", THIRD]}}}},
        {"Service": {SVC: {"modify": {"options": ["map", [["x", "1"]]], "flows": ["uuid", OTHER]}}}},
        {"Service": {SVC: {"modify": {"flows": ["set", [["uuid", OTHER], ["uuid", THIRD]]]}}}},
    ]
    plain = _Keeping("unix:/nonexistent", _helper(), leader_only=False)
    mine = _LazyKeeping("unix:/nonexistent", _helper(), leader_only=False)
    replay(plain, mine, UPDATES + more)
    assert len(mine.kept) == len(plain.kept) > 6
    for theirs, ours in zip(plain.kept, mine.kept, strict=True):
        assert dict(ours._data) == dict(theirs._data)
        assert {c: d.to_json() for c, d in dict(ours._data).items()} == {
            c: d.to_json() for c, d in dict(theirs._data).items()
        }
    assert any(type(d) is lazyidl._Before for row in mine.kept for d in dict(row._data).values())
