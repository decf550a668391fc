"""The one-shot write's constants agree with the modules it spares importing (no OVN needed)."""

from __future__ import annotations

from ovn_inject.core.status import FlowState
from ovn_inject.db import oneshot


def test_a_new_flow_is_pending() -> None:
    assert FlowState.PENDING.value == oneshot.PENDING
