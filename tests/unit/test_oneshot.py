"""The cheap modules' constants agree with the modules they spare importing (no OVN needed)."""

from __future__ import annotations

from ovn_inject.core.status import FlowState
from ovn_inject.db import flowrow


def test_a_new_flow_is_pending() -> None:
    assert FlowState.PENDING.value == flowrow.PENDING
