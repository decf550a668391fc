"""The gc policy: freeze after each full pass, thaw once the frozen part doubled, nothing else."""

from __future__ import annotations

import gc

from ovn_inject import gcpolicy
from ovn_inject.gcpolicy import FrozenSurvivors


class _Collector:
    """gc's freeze, unfreeze and count, over a number of objects each full pass leaves behind."""

    def __init__(self) -> None:
        self.frozen = 0
        self.young = 0
        self.calls: list[str] = []

    def freeze(self) -> None:
        self.frozen += self.young
        self.young = 0
        self.calls.append("freeze")

    def unfreeze(self) -> None:
        self.young += self.frozen
        self.frozen = 0
        self.calls.append("unfreeze")

    def get_freeze_count(self) -> int:
        return self.frozen


def _full_pass(policy: FrozenSurvivors, collector: _Collector, survivors: int) -> None:
    collector.young += survivors
    policy("start", {"generation": 2})
    policy("stop", {"generation": 2, "collected": 0, "uncollectable": 0})


def test_young_passes_change_nothing() -> None:
    collector = _Collector()
    policy = FrozenSurvivors(collector=collector)
    for generation in (0, 1):
        policy("start", {"generation": generation})
        policy("stop", {"generation": generation})
    assert collector.calls == []


def test_each_full_pass_freezes_and_a_doubling_thaws_for_one_pass_over_everything() -> None:
    collector = _Collector()
    policy = FrozenSurvivors(collector=collector)
    _full_pass(policy, collector, 1000)  # scanned everything: 1000 frozen, the reference
    assert (collector.frozen, policy.base) == (1000, 1000)
    _full_pass(policy, collector, 400)  # scanned the 400 new ones only
    _full_pass(policy, collector, 400)
    assert collector.calls == ["freeze"] * 3
    _full_pass(policy, collector, 300)  # 2100 frozen >= 2 x 1000: thawed
    assert collector.calls[-2:] == ["freeze", "unfreeze"]
    assert (collector.frozen, collector.young, policy.base, policy.thawed_passes) == (0, 2100, None, 1)
    _full_pass(policy, collector, 0)  # the pass over everything: the new reference
    assert (collector.frozen, policy.base) == (2100, 2100)


def test_install_once_with_a_larger_young_generation() -> None:
    before = gc.get_threshold()
    callbacks = list(gc.callbacks)
    try:
        policy = gcpolicy.install()
        assert gcpolicy.install() is policy
        assert gc.callbacks.count(policy) == 1
        assert gc.get_threshold() == (gcpolicy.YOUNG_THRESHOLD, before[1], before[2])
    finally:
        gc.callbacks[:] = callbacks
        gc.set_threshold(*before)
        gcpolicy._INSTALLED.clear()
        gc.unfreeze()
