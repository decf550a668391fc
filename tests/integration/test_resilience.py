"""Daemons that outlive their databases and stop on SIGTERM, on real OVN processes.

Under a steady write load through the gateway, SB (standalone, then the
leader of a 3-member cluster) and NB with OVN_Inject (one ovsdb-server in the
sandbox) are restarted or killed: no daemon exits, every acknowledged flow
ends up in SB exactly once, and a quarantine still drops packets. Then each
daemon gets SIGTERM and must be gone, pidfile and all, with a standby
compiler taking over. The figures (catch-up, exit, takeover) are printed;
run with ``-s`` to see them.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ovn_inject.gateway.flows import MAX_FLOWS_PER_REQUEST
from ovn_inject.sandbox import Sandbox, processes
from ovn_inject.sandbox import packets as pk
from ovn_inject.sandbox import topology as topologies
from ovn_inject.sandbox.probe import send_and_capture
from ovn_inject.sandbox.topology import DEMO
from tests.conftest import start_sandbox
from tests.integration.gatewayutil import client, inject_api, make_service, wait_hooks_ready
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

vm1, vm2, vm3 = (DEMO.vm(f"vm{n}") for n in range(1, 4))
LS_A = [("ls", "ls-a", "ls-in-port")]
FLOW_ID = re.compile(r'ovn-inject-flow="?([0-9a-f-]{36})')
#: Upper bound of the load: the writer ends by itself even if the test forgets to stop it.
WRITER_LIMIT = 10_000
#: What an outage may answer; the writer goes on past these.
OUTAGE_STATUSES = frozenset({500, 502, 503, 504})
#: The writer's service may hold all the writer's flows: a flow on ls-a costs ovn-controller about a
#: dozen OpenFlow flows, and the default budget (20,000) ended a fast writer at about 1,600 flows.
WRITER_BUDGET = 100 * WRITER_LIMIT
DAEMONS = ("inject-northd", "sbgate", "gateway")


def report(what: str, seconds: float) -> None:
    print(f"\n[resilience] {what}: {seconds:.2f} s")


def sb_rows_per_flow(box: Sandbox) -> Counter[str]:
    """How many of our SB Logical_Flow rows each flow (its OVN_Inject uuid) has."""
    out = box.sbctl("--bare", "--columns=external_ids", "find", "Logical_Flow", 'external_ids:ovn-inject="1"')
    return Counter(FLOW_ID.findall(out))


class Writer(threading.Thread):
    """Adds one flow per request through the gateway until stopped; remembers what was acknowledged.

    An outage may refuse a request (a 503, a dropped connection) and the
    writer goes on; any other refusal ends it, and the next wait for its
    acknowledgements fails saying why (its service over a quota would
    otherwise look like a gateway that stopped answering).
    """

    def __init__(self, box: Sandbox, token: str) -> None:
        super().__init__(daemon=True)
        self.box, self.token = box, token
        self.acked: list[str] = []
        self.failures: Counter[str] = Counter()
        self.ended: str | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            self._write()
        except BaseException as exc:
            self.ended = f"the writer failed: {exc!r}"
            raise

    def _write(self) -> None:
        with client(self.box, self.token) as http:
            for n in range(WRITER_LIMIT):
                if self.stop.is_set():
                    return
                body = {"priority": 1, "match": f"udp.dst == {1000 + n}", "actions": "next;"}
                try:
                    response = http.post("/v1/flows", json=body)
                except httpx.HTTPError as exc:
                    self.failures[type(exc).__name__] += 1
                    continue
                if response.status_code == 201:
                    self.acked.extend(flow["id"] for flow in response.json()["flows"])
                elif response.status_code in OUTAGE_STATUSES:
                    self.failures[str(response.status_code)] += 1
                else:
                    self.ended = f"the gateway refused a write with {response.status_code}: {response.text}"
                    return
        self.ended = f"the writer made its {WRITER_LIMIT} requests"

    def acks_after(self, count: int, more: int = 30) -> Callable[[], bool]:
        def check() -> bool:
            if len(self.acked) >= count + more:
                return True
            assert self.ended is None, (
                f"{self.ended} (acknowledged: {len(self.acked)}, {dict(self.failures)})"
            )
            return False

        return check


def in_sb_once(box: Sandbox, flows: list[str]) -> Callable[[], bool]:
    def check() -> bool:
        rows = sb_rows_per_flow(box)
        assert all(n == 1 for n in rows.values()), f"flows with several SB rows: {rows.most_common(3)}"
        return all(rows[flow] == 1 for flow in flows)

    return check


def alive(box: Sandbox, names: tuple[str, ...] = DAEMONS) -> None:
    for name in names:
        pid = box.state.pids[name]
        assert processes.is_alive(pid), f"{name} exited; see {box.layout.central / (name + '.log')}"


def delivered(box: Sandbox, src: str, frame: bytes, dst: str) -> list[bytes]:
    return send_and_capture(box, src, frame, watch=[dst], expect=dst, timeout=1.0, settle=0.1)[dst]


def quarantine_acts(box: Sandbox) -> None:
    box.nbctl("--wait=hv", "sync")
    assert not delivered(box, "vm1", pk.icmp_echo(vm1.mac, vm2.mac, vm1.ip, vm2.ip), "vm2")
    assert delivered(box, "vm3", pk.icmp_echo(vm3.mac, vm2.mac, vm3.ip, vm2.ip), "vm2")


def quarantined(box: Sandbox) -> str:
    """A service that drops everything vm1 sends, installed; returns its token."""
    topologies.clear(box)
    topologies.build(box, DEMO)
    wait_hooks_ready(box)
    token = make_service(box, "ips", "tenant-a", LS_A, max_openflow_flows=WRITER_BUDGET)
    with client(box, token) as http:
        body = {"priority": 10, "match": 'inport == "vm1"', "actions": "drop;"}
        response = http.post("/v1/flows", params={"wait": "sb"}, json=body)
        assert response.status_code == 201, response.text
    quarantine_acts(box)
    return token


Outage = tuple[str, Callable[[], None]]  # what, how


def survive(box: Sandbox, token: str, outages: list[Outage], daemons: tuple[str, ...] = DAEMONS) -> None:
    """Run each outage under the write load; then every acknowledged flow is in SB exactly once."""
    writer = Writer(box, token)
    writer.start()
    try:
        wait_until(writer.acks_after(0), "the writer gets its first flows acknowledged")
        for what, outage in outages:
            outage()
            restarted = time.monotonic()
            acked = list(writer.acked)
            wait_until(in_sb_once(box, acked), f"flows acknowledged before {what} reach SB")
            report(
                f"{what}: SB has the {len(acked)} flows acknowledged before it", time.monotonic() - restarted
            )
            wait_until(writer.acks_after(len(writer.acked)), f"the gateway acknowledges flows after {what}")
            alive(box, daemons)
    finally:
        writer.stop.set()
        writer.join()
    caught_up = time.monotonic()
    wait_until(in_sb_once(box, writer.acked), "every acknowledged flow is in SB exactly once")
    report(f"catch-up of all {len(writer.acked)} flows after the load stopped", time.monotonic() - caught_up)
    print(f"[resilience] requests refused during the outages: {dict(writer.failures)}")
    alive(box, daemons)
    quarantine_acts(box)


# ---- a standalone SB --------------------------------------------------------------------------


def test_sb_and_nb_restarts_under_load_lose_nothing(sandbox: Sandbox) -> None:
    """With a standby compiler daemon: an outage must not end either instance."""
    box = sandbox
    token = quarantined(box)
    box.start_inject_northd(name="inject-northd-2")
    try:
        outages = [("SB restart", box.restart_sb), ("NB and OVN_Inject restart", box.restart_nb)]
        survive(box, token, outages, (*DAEMONS, "inject-northd-2"))
    finally:
        box.stop("inject-northd-2")


# ---- SIGTERM ----------------------------------------------------------------------------------


def terminate(box: Sandbox, name: str) -> float:
    """SIGTERM one daemon; wait until it is gone; return when the signal was sent."""
    pid = box.state.pids.pop(name)
    box.save()
    pidfile = box.layout.central / f"{name}.pid"
    log = box.layout.central / f"{name}.log"
    assert pidfile.exists()
    log_size = log.stat().st_size
    started = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not processes.is_alive(pid), f"{name} exits on SIGTERM")
    took = time.monotonic() - started
    report(f"{name} gone after SIGTERM", took)
    assert not pidfile.exists(), f"{name} left its pidfile"
    assert b"Traceback" not in log.read_bytes()[log_size:], f"{name} did not stop cleanly; see {log}"
    return started


def role(box: Sandbox, name: str) -> str:
    return box.inject_appctl("status", name=name).splitlines()[0]


def test_sigterm_stops_each_daemon_and_a_standby_takes_over(sandbox: Sandbox) -> None:
    box = sandbox
    box.start_inject_northd(name="inject-northd-2")
    wait_until(lambda: role(box, "inject-northd-2") == "Status: standby", "the second daemon is standby")
    signalled = terminate(box, "inject-northd")
    wait_until(lambda: role(box, "inject-northd-2") == "Status: active", "the standby takes the SB lock")
    report("standby active after the active one's SIGTERM (from the signal)", time.monotonic() - signalled)
    assert not (box.layout.central / "inject-northd.ctl").exists(), "the control socket stays behind"
    box.start_inject_northd()
    terminate(box, "inject-northd-2")
    wait_until(lambda: role(box, "inject-northd") == "Status: active", "the restarted daemon is active")

    pid = box.state.pids.pop("inject-northd")
    box.save()
    box.inject_appctl("exit")
    wait_until(lambda: not processes.is_alive(pid), "the compiler daemon exits on 'ovn-appctl exit'")
    assert not (box.layout.central / "inject-northd.pid").exists()
    box.start_inject_northd()

    terminate(box, "sbgate")
    assert not box.layout.sbgate_socket.exists(), "the gate left its socket"
    box.start_gate()

    terminate(box, "gateway")
    box.start_gateway()
    alive(box)


# ---- the token race ---------------------------------------------------------------------------

CLIENTS = 8
REQUESTS = 20_000
BACKGROUND_FLOWS = 200


def test_a_valid_token_is_never_refused_under_concurrency(sandbox: Sandbox) -> None:
    """8 clients, 20,000 requests, each adding or deleting one flow of a service that has 200.

    Every request changes the service's row (its set of flows), which the
    gateway's IDL takes out of its table for as long as it applies the change:
    the longer the set, the longer a lock-free lookup could miss the service.
    """
    box = sandbox
    topologies.clear(box)
    topologies.build(box, DEMO)
    token = make_service(box, "busy", "tenant-a", LS_A)
    with client(box, token) as http:
        for first in range(0, BACKGROUND_FLOWS, MAX_FLOWS_PER_REQUEST):
            batch = [
                {"priority": 2, "match": f"tcp.dst == {n}", "actions": "next;"}
                for n in range(first, min(first + MAX_FLOWS_PER_REQUEST, BACKGROUND_FLOWS))
            ]
            assert http.post("/v1/flows", json=batch).status_code == 201
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def work(index: int) -> None:
        seen: Counter[int] = Counter()
        with client(box, token) as http:
            for n in range(REQUESTS // CLIENTS // 2):
                match = f"udp.dst == {index * REQUESTS // CLIENTS + n}"
                added = http.post("/v1/flows", json={"priority": 1, "match": match, "actions": "next;"})
                seen[added.status_code] += 1
                if added.status_code == 201:
                    seen[http.delete(f"/v1/flows/{added.json()['flows'][0]['id']}").status_code] += 1
                else:
                    seen[http.get("/v1/service").status_code] += 1
        with lock:
            statuses.update(seen)

    started = time.monotonic()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report(f"{sum(statuses.values())} requests from {CLIENTS} clients", time.monotonic() - started)
    with inject_api(box) as api:
        api.commit(api.service_del("busy"))  # type: ignore[attr-defined]
    assert sum(statuses.values()) == REQUESTS
    assert statuses[401] == 0, f"a valid token was refused: {dict(statuses)}"
    assert set(statuses) <= {200, 201}, dict(statuses)


# ---- a 3-member RAFT SB -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def clustered(sandbox_root: Path) -> Iterator[Sandbox]:
    box = start_sandbox(sandbox_root, "resilience-cluster", sb_cluster=3)
    yield box
    assert not box.down()


def leader(box: Sandbox) -> int | None:
    for member in range(1, box.sb_members + 1):
        if f"sb{member}" not in box.state.pids:
            continue
        ctl = box.layout.central / f"ovnsb_db{member}.ctl"
        if "Role: leader" in box.appctl("hv1", "cluster/status", "OVN_Southbound", target=str(ctl)):
            return member
    return None  # an election is under way


def member_serving(box: Sandbox, name: str) -> int | None:
    """The SB member a daemon is connected to (from the kernel's table of unix sockets)."""
    table = subprocess.run(["ss", "-xpn"], capture_output=True, text=True, check=True).stdout.splitlines()
    rows = [line.split() for line in table[1:]]
    ours = {fields[5] for fields in rows if f"pid={box.state.pids[name]}," in fields[-1]}
    for fields in rows:
        for member in range(1, box.sb_members + 1):
            if fields[4] == str(box.layout.sb_member_socket(member)) and fields[7] in ours:
                return member
    return None


@pytest.mark.skipif(
    os.environ.get("OVN_INJECT_SANDBOX_SSL", "") not in ("", "0"),
    reason="finds the member the compiler uses through its unix socket (ss -x); over SSL it is TCP",
)
def test_sb_leader_killed_under_load_loses_nothing(clustered: Sandbox) -> None:
    box = clustered
    token = quarantined(box)
    killed: list[int] = []

    def kill(member: Callable[[], int | None]) -> Callable[[], None]:
        def outage() -> None:
            old = wait_until(member, "the member to kill is known")
            killed.append(old)
            box.kill(f"sb{old}")
            wait_until(lambda: leader(box) not in (None, old), "the remaining members have a leader")

        return outage

    survive(
        box,
        token,
        [
            ("SB leader killed", kill(lambda: leader(box))),
            ("the killed member's return", lambda: box.restart_sb(member=killed[-1])),
            ("the compiler's SB member killed", kill(lambda: member_serving(box, "inject-northd"))),
            ("the killed member's return", lambda: box.restart_sb(member=killed[-1])),
            ("NB and OVN_Inject restart", box.restart_nb),
        ],
    )
