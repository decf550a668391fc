"""The compiler daemon's incremental writes and hard timeouts, on a 2-chassis sandbox."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator

import pytest

from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import packets as pk
from tests.integration.gatewayutil import inject_api
from tests.integration.test_northd import cli, delivered, flows, icmp, vm1, vm2, vm3, vm4, vm5
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def sb_ops(box: Sandbox) -> int:
    found = re.search(r"^sb_ops: (\d+)$", box.inject_appctl("status"), re.MULTILINE)
    assert found, "the daemon's status has no sb_ops"
    return int(found.group(1))


def rows_of(box: Sandbox, service: str) -> set[str]:
    out = box.sbctl(
        "--bare", "--columns=_uuid", "find", "Logical_Flow", f'external_ids:ovn-inject-service="{service}"'
    )
    return set(out.split())


def add_flow(box: Sandbox, service: str, priority: int, match: str, *extra: str) -> str:
    return cli(
        box, "--wait=sb", "flow-add", service, "--priority", str(priority), "--match", match,
        "--actions", "drop;", *extra,
    ).stdout.strip()  # fmt: skip


@pytest.fixture
def stack(demo: Sandbox) -> Iterator[Sandbox]:
    for row in json.loads(cli(demo, "service-list", "--format", "json").stdout):
        cli(demo, "service-del", str(row["name"]))
    cli(demo, "--wait=sb", "sync", check=False)
    yield demo


def test_a_change_to_one_service_touches_only_its_rows(stack: Sandbox) -> None:
    box = stack
    for service, tenant, port in (("fw-a", "tenant-a", "vm1"), ("fw-b", "tenant-b", "vm4")):
        cli(box, "service-add", service, "--tenant", tenant)
        cli(box, "attach-add", service, f"lsp:{port}", "--hook", "ls-in-port")
    for n in range(3):
        add_flow(box, "fw-a", 10 + n, f"tcp.dst == {1000 + n}")
        add_flow(box, "fw-b", 10 + n, f"tcp.dst == {2000 + n}")
    a_before, b_before = rows_of(box, "fw-a"), rows_of(box, "fw-b")
    assert len(a_before) == len(b_before) == 4, "one continuation and three flows per service"

    ops = sb_ops(box)
    added = add_flow(box, "fw-a", 20, "udp.dst == 53")
    assert sb_ops(box) - ops == 1, "adding one flow inserts exactly one row"
    a_after = rows_of(box, "fw-a")
    assert a_before < a_after and len(a_after - a_before) == 1
    assert rows_of(box, "fw-b") == b_before, "the other service's rows keep their uuids"

    ops = sb_ops(box)
    cli(box, "--wait=sb", "flow-del", "fw-a", added)
    assert sb_ops(box) - ops == 1, "deleting one flow deletes exactly one row"
    assert rows_of(box, "fw-a") == a_before
    assert rows_of(box, "fw-b") == b_before

    ops = sb_ops(box)
    cli(box, "--wait=sb", "sync")
    assert sb_ops(box) == ops, "a pass with nothing changed writes nothing"


def test_hard_timeout_removes_the_flow_and_its_row(stack: Sandbox) -> None:
    box = stack
    cli(box, "service-add", "ips", "--tenant", "tenant-a")
    cli(box, "attach-add", "ips", "lsp:vm1", "--hook", "ls-in-port")
    cli(box, "--wait=hv", "flow-add", "ips", "--priority", "5", "--match", "icmp4", "--actions", "drop;")
    permanent = rows_of(box, "ips")
    cli(
        box, "--wait=hv", "flow-add", "ips", "--priority", "10", "--match", f"ip4.dst == {vm2.ip}",
        "--actions", "drop;", "--hard-timeout", "3600",
    )  # fmt: skip
    timed = rows_of(box, "ips") - permanent
    assert len(timed) == 1
    udp = pk.udp_datagram(vm1.mac, vm2.mac, vm1.ip, vm2.ip, 5000, 6000)
    assert not delivered(box, "vm1", udp, "vm2"), "the timed flow drops while it lives"

    # Let an hour pass for this flow alone: move its creation time back (created is in ms).
    (timed_flow,) = [f for f in flows(box, "ips") if f["match"] != "icmp4"]
    with inject_api(box) as api:
        row = api.tables["Service_Flow"].rows[uuid.UUID(str(timed_flow["_uuid"]))]  # type: ignore[attr-defined]
        created = int(row.created) - 3600 * 1000
        api.db_set("Service_Flow", row.uuid, ("created", created)).execute(check_error=True)  # type: ignore[attr-defined]
    wait_until(lambda: rows_of(box, "ips") == permanent, "the expired flow's row leaves SB")
    wait_until(
        lambda: [f["match"] for f in flows(box, "ips")] == ["icmp4"], "the expired flow leaves OVN_Inject"
    )
    cli(box, "--wait=hv", "sync")
    assert delivered(box, "vm1", udp, "vm2"), "after expiry the packet passes again"
    assert not delivered(box, "vm1", icmp(vm1, vm3), "vm3"), "the permanent flow still drops"
    assert delivered(box, "vm4", icmp(vm4, vm5), "vm5")
