"""FlowCache keeps memory bounded while flows come and go (the daemon under churn)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ovn_inject.core.appflows import FlowCache, ServiceFlow


@dataclass
class FakeRow:
    """The Service_Flow columns FlowCache reads."""

    match: str
    actions: str = "drop;"
    priority: int = 10
    hard_timeout: int = 0
    created: int = 0
    service: list[uuid.UUID] = field(default_factory=lambda: [uuid.UUID(int=1)])
    attachment: list[object] = field(default_factory=list)
    uuid: uuid.UUID = field(default_factory=uuid.uuid4)


def test_checks_of_flows_gone_are_forgotten() -> None:
    cache = FlowCache()
    rows: dict[uuid.UUID, FakeRow] = {}
    for round_ in range(30):
        gone = list(rows)
        rows.clear()
        new = [FakeRow(f"tcp.dst == {round_ * 100 + i}") for i in range(100)]
        rows.update({row.uuid: row for row in new})
        flows, errors, _ = cache.load(rows, 0.0, [*gone, *rows])
        assert len(flows) == 100 and not errors
        assert all(isinstance(f, ServiceFlow) for f in flows)
    # 3,000 distinct flows were seen; what is kept stays within twice those alive (plus a floor).
    assert len(cache._checked) <= 2 * len(rows) + 1024
    assert len(cache._row_keys) == len(rows)


def test_a_check_in_use_is_kept() -> None:
    cache = FlowCache()
    kept = FakeRow("tcp.dst == 1")
    rows = {kept.uuid: kept}
    cache.load(rows, 0.0)
    checked = cache._checked[("tcp.dst == 1", "drop;")]
    for n in range(3000):
        other = FakeRow(f"tcp.dst == {n + 2}")
        rows[other.uuid] = other
        cache.load(rows, 0.0, [other.uuid])
        del rows[other.uuid]
        cache.load(rows, 0.0, [other.uuid])
    assert cache._checked[("tcp.dst == 1", "drop;")] is checked
    assert len(cache._checked) <= 1024 + 2 * len(rows)
