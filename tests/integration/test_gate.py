"""The northd gate against real processes: northd works through it, our rows survive it."""

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
    northd_max_priority,
    row_exists,
    stage_table,
    vm1_reaches_vm3,
    vm3_reaches_vm1,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gated(sandbox_root: Path) -> Iterator[Sandbox]:
    """A 2-chassis OVN whose northd talks to SB through a recording gate."""
    box = start_sandbox(sandbox_root, "gate", gate_record=True)
    yield box
    assert not box.down()


@pytest.fixture
def demo(gated: Sandbox) -> Iterator[Sandbox]:
    topologies.clear(gated)
    topologies.build(gated, topologies.DEMO)
    yield gated


def northd_saw(box: Sandbox, uuid: str) -> bool:
    return uuid.encode() in box.gate_record.read_bytes()


def settle(box: Sandbox) -> None:
    """Wait until northd (through the gate) and every chassis caught up with NB."""
    box.nbctl("--wait=hv", "sync", timeout=20)


def test_northd_works_through_the_gate(demo: Sandbox) -> None:
    assert demo.gated and demo.northd_sb_remote not in demo.sb_daemon_remote.split(",")
    names = {name for name, _, alive in demo.status() if alive}
    assert {"sbgate", "northd", "sb"} <= names
    assert "Status: active" in demo.northd_appctl("status")
    demo.nbctl("--wait=hv", "ls-add", "ls-gate-test", "--", "lsp-add", "ls-gate-test", "p1")
    flows = demo.sbctl(
        "--bare", "--columns=_uuid", "find", "datapath_binding", "external_ids:name=ls-gate-test"
    )
    assert flows.strip(), "northd created no datapath for the new switch"
    assert "ls_in_pre_acl" in demo.sbctl("lflow-list", "ls-gate-test")
    assert demo.nbctl("get", "logical_switch_port", "vm1", "up").strip() == "true"
    wait_until(lambda: vm1_reaches_vm3(demo), "vm1's packets reach vm3")


def test_hook_row_survives_and_drops(demo: Sandbox) -> None:
    table = stage_table(demo, "ls_in_pre_acl")
    assert northd_max_priority(demo, "ingress", table) < 1000
    wait_until(lambda: vm1_reaches_vm3(demo), "vm1's packets reach vm3")
    hook = insert_hook_row(demo)
    control = insert_hook_row(demo, marked=False, priority=1001)
    assert northd_deletes_foreign_row(demo, control), "northd did not delete an unmarked row (the control)"
    settle(demo)
    assert row_exists(demo, hook)
    assert not vm1_reaches_vm3(demo), "the hook row does not drop vm1's packets"
    wait_until(lambda: vm3_reaches_vm1(demo), "vm3's packets reach vm1 (the hook row drops vm1's only)")

    def still_hidden_and_dropping(after: str) -> None:
        settle(demo)
        assert row_exists(demo, hook), f"hook row deleted after {after}"
        assert not vm1_reaches_vm3(demo), f"vm1's packets pass after {after}"
        assert not northd_saw(demo, hook), f"northd saw the hook row after {after}"

    demo.northd_appctl("inc-engine/recompute")
    still_hidden_and_dropping("a forced recompute")
    for n in range(100):
        demo.nbctl("lsp-add", "ls-b", f"churn{n}")
    still_hidden_and_dropping("100 NB changes")
    demo.restart_northd()
    still_hidden_and_dropping("a northd restart")
    demo.restart_gate()
    still_hidden_and_dropping("a gate restart")
    demo.restart_sb()
    still_hidden_and_dropping("an SB restart")

    demo.sbctl("destroy", "logical_flow", hook)
    settle(demo)
    wait_until(lambda: vm1_reaches_vm3(demo), "vm1's packets pass once the hook row is gone")


def test_ls_del_removes_hook_rows(demo: Sandbox) -> None:
    hooks = [insert_hook_row(demo), insert_hook_row(demo, match='inport == "vm3"', priority=1002)]
    other = insert_hook_row(demo, switch="ls-b", match='inport == "vm4"')
    settle(demo)
    # Without the gate deleting the hidden rows in northd's transaction, northd's delete fails on
    # referential integrity and --wait=sb never returns (its own --timeout ends it).
    demo.nbctl("--wait=sb", "ls-del", "ls-a", timeout=10)
    assert not any(row_exists(demo, hook) for hook in hooks)
    assert row_exists(demo, other), "a hook row on another switch was deleted"
    assert not demo.sbctl(
        "--bare", "--columns=_uuid", "find", "datapath_binding", "external_ids:name=ls-a"
    ).strip()
    log = (demo.layout.central / "ovn-northd.log").read_text()
    assert "referential integrity" not in log
    assert not any(northd_saw(demo, uuid) for uuid in [*hooks, other])
    demo.sbctl("destroy", "logical_flow", other)
