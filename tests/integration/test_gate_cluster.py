"""The northd gate in front of a 3-member RAFT SB: restarts and failover never expose our rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import topology as topologies
from tests.conftest import start_sandbox
from tests.integration.hookrows import (
    insert_hook_row,
    northd_deletes_foreign_row,
    row_exists,
    vm1_reaches_vm3,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clustered(sandbox_root: Path) -> Iterator[Sandbox]:
    box = start_sandbox(sandbox_root, "gate-cluster", sb_cluster=3, gate_record=True)
    topologies.build(box, topologies.DEMO)
    yield box
    assert not box.down()


def leader(box: Sandbox) -> int:
    for member in range(1, box.sb_members + 1):
        ctl = box.layout.central / f"ovnsb_db{member}.ctl"
        status = box.appctl("hv1", "cluster/status", "OVN_Southbound", target=str(ctl))
        if "Role: leader" in status:
            return member
    raise AssertionError("the SB cluster has no leader")


def test_hook_rows_survive_gate_restart_and_leader_failover(clustered: Sandbox) -> None:
    box = clustered
    hook = insert_hook_row(box)
    control = insert_hook_row(box, marked=False, priority=1001)
    assert northd_deletes_foreign_row(box, control), "northd did not delete an unmarked row (the control)"
    box.nbctl("--wait=hv", "sync", timeout=20)
    assert not vm1_reaches_vm3(box)

    # A fresh gate must learn the hidden rows from a full snapshot although
    # northd asks a clustered SB only for the changes since its last txn.
    box.restart_gate()
    box.nbctl("--wait=hv", "sync", timeout=20)
    box.sbctl("set", "logical_flow", hook, "priority=1003")  # a modify without external_ids
    box.northd_appctl("inc-engine/recompute")
    box.nbctl("--wait=hv", "sync", timeout=20)
    assert row_exists(box, hook)
    assert not vm1_reaches_vm3(box)

    old_leader = leader(box)
    box.restart_sb(member=old_leader)
    box.nbctl("--wait=hv", "sync", timeout=30)
    for n in range(10):
        box.nbctl("lsp-add", "ls-b", f"churn{n}")
    box.nbctl("--wait=hv", "sync", timeout=30)
    assert row_exists(box, hook)
    assert not vm1_reaches_vm3(box)

    # Referential integrity needs the references learnt by the restarted gate.
    box.nbctl("--wait=sb", "ls-del", "ls-a", timeout=10)
    assert not row_exists(box, hook)
    record = box.gate_record.read_bytes()
    assert hook.encode() not in record, "a hidden row reached northd"
    assert b"referential integrity" not in (box.layout.central / "ovn-northd.log").read_bytes()
    gate_log = (box.layout.central / "sbgate.log").read_text()
    assert "session 2: northd connected" in gate_log
