"""The daemon's IDL applies updates as python-ovs's own does: same rows, same values, same notices."""

from __future__ import annotations

import uuid
from typing import Any

import ovs.db.idl

from ovn_inject.northd.tracking import TrackingIdl
from tests.unit.idlreplay import replay, schema_helper

SVC, FLOW, OTHER = (str(uuid.uuid4()) for _ in range(3))


class _Plain(ovs.db.idl.Idl):
    """python-ovs's IDL, recording its notices."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notices: list[tuple[str, str, str]] = []

    def notify(self, event: Any, row: Any, updates: Any = None) -> None:
        self.notices.append((event, row._table.name, str(row.uuid)))


class _Tracking(TrackingIdl):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notices: list[tuple[str, str, str]] = []

    def notify(self, event: Any, row: Any, updates: Any = None) -> None:
        self.notices.append((event, row._table.name, str(row.uuid)))
        super().notify(event, row, updates)


def _helper() -> ovs.db.idl.SchemaHelper:
    return schema_helper(
        {
            "Service": ["name", "tenant", "enabled", "flows"],
            "Service_Flow": ["service", "priority", "match", "actions"],
        }
    )


UPDATES: list[dict[str, Any]] = [
    {
        "Service": {SVC: {"initial": {"name": "s", "tenant": "t", "flows": ["uuid", FLOW]}}},
        "Service_Flow": {
            FLOW: {"initial": {"service": ["uuid", SVC], "priority": 10, "match": "tcp", "actions": "drop;"}}
        },
    },
    {
        "Service_Flow": {
            OTHER: {"insert": {"service": ["uuid", SVC], "priority": 11, "match": "udp", "actions": "drop;"}},
            FLOW: {"modify": {"priority": 12}},
        },
        "Service": {SVC: {"modify": {"flows": ["uuid", OTHER], "enabled": False}}},
    },
    {"Service_Flow": {FLOW: {"delete": None}}, "Service": {SVC: {"modify": {"name": "s2"}}}},
    {"Service_Flow": {"not-a-uuid": {"insert": {}}}},  # an error: the update is dropped, as python-ovs does
]


def test_updates_apply_as_python_ovs_applies_them() -> None:
    plain = _Plain("unix:/nonexistent", _helper(), leader_only=False)
    tracking = _Tracking("unix:/nonexistent", _helper(), leader_only=False)
    replay(plain, tracking, UPDATES)
