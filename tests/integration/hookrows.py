"""Test helper: write hook rows into SB Logical_Flow by hand, as the compiler will.

A hook row sits in the table of a northd stage (found through northd's own
``external_ids:stage-name``), above northd's priorities there, and carries
the ``ovn-inject`` mark that makes the northd gate hide it from ovn-northd.
"""

from __future__ import annotations

import json
import time

from ovn_inject.constants import OWNER_KEY
from ovn_inject.sandbox import Sandbox, release
from ovn_inject.sandbox import packets as pk
from ovn_inject.sandbox.probe import send_and_capture
from ovn_inject.sandbox.topology import DEMO

HOOK_PRIORITY = 1000


def datapath_of(sandbox: Sandbox, switch: str) -> str:
    uuid = sandbox.sbctl(
        "--bare", "--columns=_uuid", "find", "datapath_binding", f"external_ids:name={switch}"
    )
    if not uuid.strip():
        raise AssertionError(f"no Datapath_Binding for {switch}")
    return uuid.strip()


def stage_table(sandbox: Sandbox, stage: str) -> int:
    tables = set(
        sandbox.sbctl(
            "--bare", "--columns=table_id", "find", "logical_flow", f"external_ids:stage-name={stage}"
        ).split()
    )
    assert len(tables) == 1, f"stage {stage} found in tables {tables}"
    return int(tables.pop())


def northd_max_priority(sandbox: Sandbox, pipeline: str, table: int) -> int:
    rows = json.loads(
        sandbox.sbctl(
            "--format=json",
            "--columns=priority",
            "find",
            "logical_flow",
            f"pipeline={pipeline}",
            f"table_id={table}",
        )
    )["data"]
    return max(row[0] for row in rows)


def insert_hook_row(
    sandbox: Sandbox,
    switch: str = "ls-a",
    match: str = 'inport == "vm1"',
    actions: str = "drop;",
    host_stage: str = "ls_in_pre_acl",
    marked: bool = True,
    priority: int = HOOK_PRIORITY,
) -> str:
    """Insert one lflow on ``switch`` in ``host_stage``'s table; return its uuid."""
    table = stage_table(sandbox, host_stage)
    pipeline = "ingress" if "_in_" in host_stage else "egress"
    external_ids = ["external_ids:stage-name=ls_in_hook_port"]
    if marked:
        external_ids.append(f"external_ids:{OWNER_KEY}=test")
    return sandbox.sbctl(
        "create",
        "logical_flow",
        f"logical_datapath={datapath_of(sandbox, switch)}",
        f"pipeline={pipeline}",
        f"table_id={table}",
        f"priority={priority}",
        f"match={json.dumps(match)}",
        f"actions={json.dumps(actions)}",
        *external_ids,
    ).strip()


def row_exists(sandbox: Sandbox, uuid: str) -> bool:
    return bool(sandbox.sbctl("--if-exists", "get", "logical_flow", uuid, "priority").strip())


def wait_gone(sandbox: Sandbox, uuid: str, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not row_exists(sandbox, uuid):
            return True
        time.sleep(0.05)
    return False


def northd_deletes_foreign_row(sandbox: Sandbox, uuid: str) -> bool:
    """Whether northd deletes the Logical_Flow row ``uuid`` it did not create (a gate's control row).

    23.03's northd reconciles the whole table on every change, so the row goes at once; from 23.09 it
    deletes foreign rows only on a full recompute (26.03 even syncs by row uuid), so one is forced there.
    """
    if release.installed() >= release.LAZY_FOREIGN_DELETE:
        # Once northd has answered a sync, its SB replica holds the row (SB sends updates in order),
        # so the recompute cannot run before the row reached northd.
        sandbox.nbctl("--wait=sb", "sync")
        sandbox.northd_appctl("inc-engine/recompute")
    return wait_gone(sandbox, uuid)


def vm1_reaches_vm3(sandbox: Sandbox) -> bool:
    """Send one ICMP echo from vm1 to vm3 (same switch, same chassis) and see if it arrives."""
    vm1, vm3 = DEMO.vm("vm1"), DEMO.vm("vm3")
    frame = pk.icmp_echo(vm1.mac, vm3.mac, vm1.ip, vm3.ip)
    got = send_and_capture(sandbox, "vm1", frame, watch=["vm3"], expect="vm3", timeout=1.5, settle=0.1)
    return len(got["vm3"]) > 0


def vm3_reaches_vm1(sandbox: Sandbox) -> bool:
    vm1, vm3 = DEMO.vm("vm1"), DEMO.vm("vm3")
    frame = pk.icmp_echo(vm3.mac, vm1.mac, vm3.ip, vm1.ip)
    got = send_and_capture(sandbox, "vm3", frame, watch=["vm1"], expect="vm1", timeout=1.5, settle=0.1)
    return len(got["vm1"]) > 0
