"""What the compiler daemon costs: time until a flow acts, bulk compile, one change, memory.

One sandbox with one chassis (hv1). Three parts:

1. Time-to-acting: from an in-process write (our API, or ovsdbapp's NB API
   for an equivalent drop ACL, the native path) until ``ofproto/trace`` on
   hv1 says ``Datapath actions: drop``, with 1, 100 and 1,000 logical
   switches of 2 ports each; alternating repetitions, medians, and the
   median of the per-repetition ratios. Also both sides' ``--wait=hv``
   (ours: Inject_Global.hv_cfg; native: NB_Global.hv_cfg), and the
   gateway's ``POST /v1/flows?wait=hv`` (what an application waits for)
   until its answer, with the packet then checked to be dropped.
2. 1,000 services x 10 flows (each service on its own tenant's switch),
   written while the daemon is down; the daemon then starts on an SB that
   holds none of our rows: time until SB holds them all (Inject_Global.sb_cfg),
   and the daemon's own pass time. Then one changed flow among them
   (write -> sb_cfg) and the SB row operations it took (``status`` sb_ops).
3. The daemon's peak memory there (VmHWM).

Not part of ``make test``; ``make bench`` runs it. BENCH_REPS sets repetitions.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ovn_inject  # noqa: F401  before python-ovs: it keeps python-ovs's poller from importing eventlet

# isort: split
from ovsdbapp.backend.ovs_idl import connection
from ovsdbapp.schema.ovn_northbound import impl_idl as nb_impl

from ovn_inject.core import tokens
from ovn_inject.core.validate import FlowRequest, ServiceView, validate_flows
from ovn_inject.db.commands import now_ms
from ovn_inject.db.impl_idl import InjectDbApiIdlImpl, connect
from ovn_inject.sandbox import Sandbox

REPS = int(os.environ.get("BENCH_REPS", "5"))
#: BENCH_ACTING_ONLY=1: part 1 only (bench_northd_scale measures the cold start at scale).
ACTING_ONLY = os.environ.get("BENCH_ACTING_ONLY") == "1"
SCALES = (1, 100, 1000)
SERVICES = int(os.environ.get("BENCH_SERVICES", "1000"))
FLOWS_PER_SERVICE = 10
CHANGES = 3
TENANT_KEY = "neutron:project_id"
SRC_MAC, DST_MAC = "02:00:00:99:00:01", "02:00:00:99:00:02"
SRC_IP, DST_IP = "10.99.0.1", "10.99.0.2"
POLL_TIMEOUT = 30.0


def switch_commands(first: int, last: int) -> list[str]:
    """ovn-nbctl arguments creating switches first..last-1, 2 ports each, switch i of tenant-i."""
    args: list[str] = []
    for n in range(first, last):
        ls = f"bench-ls{n}"
        args += [
            "--",
            "ls-add",
            ls,
            "--",
            "set",
            "logical_switch",
            ls,
            f'external_ids:"{TENANT_KEY}"=tenant-{n}',
        ]
        args += ["--", "lsp-add", ls, f"{ls}-p1", "--", "lsp-add", ls, f"{ls}-p2"]
    return args


class Trace:
    """``ofproto/trace`` of a packet from bench-ls0-p1 to bench-ls0-p2 on hv1."""

    def __init__(self, box: Sandbox, chassis: str) -> None:
        self.box, self.chassis = box, chassis

    def flow(self, dst_ip: str) -> str:
        return (
            f"in_port=bench-ls0-p1,dl_src={SRC_MAC},dl_dst={DST_MAC},"
            f"ip,nw_src={SRC_IP},nw_dst={dst_ip},nw_ttl=64"
        )

    def drops(self, dst_ip: str) -> bool:
        out = self.box.ofproto_trace(self.chassis, self.flow(dst_ip))
        return "Datapath actions: drop" in out

    def until(self, dst_ip: str, dropping: bool) -> None:
        deadline = time.monotonic() + POLL_TIMEOUT
        while self.drops(dst_ip) != dropping:
            if time.monotonic() > deadline:
                raise SystemExit(f"trace to {dst_ip} did not {'start' if dropping else 'stop'} dropping")


def nb_api(remote: str) -> Any:
    idl = connection.OvsdbIdl.from_server(remote, "OVN_Northbound")
    conn = connection.Connection(idl, timeout=60)
    return nb_impl.OvnNbApiIdlImpl(conn)


def nb_global(nb: Any) -> Any:
    return next(iter(nb.tables["NB_Global"].rows.values()))


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = POLL_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.002)


class Sides:
    """One write of each kind, timed; each leaves the state as it found it."""

    def __init__(self, box: Sandbox, api: InjectDbApiIdlImpl, nb: Any, trace: Trace, token: str) -> None:
        self.box, self.api, self.nb, self.trace, self.token = box, api, nb, trace, token
        self.view = ServiceView("bench-svc", "tenant-0", None, (), 0)
        self.count = 0

    def gateway_hv(self) -> float:
        """POST ?wait=hv through the gateway until its answer; the packet must then be dropped."""
        ip = self.next_ip()
        body = json.dumps({"priority": 100, "match": f"ip4.dst == {ip}", "actions": "drop;"}).encode()
        request = urllib.request.Request(
            f"{self.box.gateway_url}/v1/flows?wait=hv&timeout=60",
            data=body,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=90) as answer:
            flow_id = json.loads(answer.read())["flows"][0]["id"]
        elapsed = time.perf_counter() - started
        if not self.trace.drops(ip):
            raise SystemExit("the gateway answered ?wait=hv but hv1 does not drop the packet yet")
        self.api.commit(self.api.flow_del("bench-svc", flow_id))
        self.trace.until(ip, False)
        return elapsed

    def next_ip(self) -> str:
        self.count += 1
        return f"10.98.{self.count // 250}.{self.count % 250 + 1}"

    def ours(self, wait_hv: bool) -> float:
        ip = self.next_ip()
        flows = validate_flows([FlowRequest(100, f"ip4.dst == {ip}", "drop;")], self.view)
        started = time.perf_counter()
        if wait_hv:
            bump = self.api.bump_cfg()
            [uuids, _] = self.api.commit(self.api.flow_add("bench-svc", flows), bump)
            if not self.api.wait_cfg("hv_cfg", bump.result, POLL_TIMEOUT):
                raise SystemExit("our --wait=hv timed out")
        else:
            [uuids] = self.api.commit(self.api.flow_add("bench-svc", flows))
            self.trace.until(ip, True)
        elapsed = time.perf_counter() - started
        self.trace.until(ip, True)
        self.api.commit(self.api.flow_del("bench-svc", str(uuids[0])))
        self.trace.until(ip, False)
        return elapsed

    def native(self, wait_hv: bool) -> float:
        ip = self.next_ip()
        match = f'inport == "bench-ls0-p1" && ip4.dst == {ip}'
        started = time.perf_counter()
        with self.nb.transaction(check_error=True) as txn:
            txn.add(self.nb.acl_add("bench-ls0", "from-lport", 1000, match, "drop"))
            if wait_hv:
                row = nb_global(self.nb)
                target = row.nb_cfg + 1
                txn.add(self.nb.db_set("NB_Global", row.uuid, ("nb_cfg", target)))
        if wait_hv:
            wait_until(lambda: nb_global(self.nb).hv_cfg >= target, "native --wait=hv")
        else:
            self.trace.until(ip, True)
        elapsed = time.perf_counter() - started
        self.trace.until(ip, True)
        self.nb.acl_del("bench-ls0", "from-lport", 1000, match).execute(check_error=True)
        self.trace.until(ip, False)
        return elapsed


def status_field(box: Sandbox, name: str) -> float:
    found = re.search(rf"^{name}: ([\d.]+)", box.inject_appctl("status"), re.MULTILINE)
    if not found:
        raise SystemExit(f"no '{name}' in the daemon's status")
    return float(found.group(1))


def vm_hwm_kib(pid: int) -> int:
    found = re.search(r"^VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    return int(found.group(1)) if found else 0


def acting(box: Sandbox, api: InjectDbApiIdlImpl, nb: Any) -> list[tuple[int, dict[str, list[float]]]]:
    """Part 1, per scale: time-to-acting and --wait=hv of both sides."""
    box.nbctl(*switch_commands(0, 1)[1:])
    box.nbctl("lsp-set-addresses", "bench-ls0-p1", f"{SRC_MAC} {SRC_IP}")
    box.nbctl("lsp-set-addresses", "bench-ls0-p2", f"{DST_MAC} {DST_IP}")
    chassis = box.state.chassis[0]
    for port in ("bench-ls0-p1", "bench-ls0-p2"):
        box.bind_port(port, chassis)
    box.wait_ports_up(["bench-ls0-p1", "bench-ls0-p2"], timeout=30)
    # Neither side pays for its first rule on the switch inside the timings.
    box.nbctl("acl-add", "bench-ls0", "from-lport", "1000", "ip4.dst == 10.97.0.1", "drop")
    api.commit(api.service_add("bench-svc", "tenant-0"))
    api.commit(api.attach_add("bench-svc", "lsp", "bench-ls0-p1", "ls-in-port"))
    base = validate_flows(
        [FlowRequest(100, "ip4.dst == 10.97.0.2", "drop;")], ServiceView("bench-svc", "tenant-0", None, (), 0)
    )
    api.commit(api.flow_add("bench-svc", base))
    token = tokens.new_token()
    api.commit(api.token_add("bench-svc", token.public_id, token.secret_hash, now_ms()))
    box.nbctl("--wait=hv", "sync", timeout=60)
    trace = Trace(box, chassis)
    trace.until("10.97.0.3", False)
    trace.until("10.97.0.2", True)
    sides = Sides(box, api, nb, trace, token.token)
    results = []
    built = 1
    for scale in SCALES:
        if scale > built:
            box.nbctl(*switch_commands(built, scale)[1:], timeout=120)
            built = scale
            box.nbctl("--wait=hv", "sync", timeout=120)
            time.sleep(1)
        kinds = ("ours", "native", "ours_hv", "native_hv", "gateway_hv", "ratio", "hv_ratio")
        times: dict[str, list[float]] = {k: [] for k in kinds}
        for rep in range(REPS):
            order = (True, False) if rep % 2 == 0 else (False, True)
            pair: dict[bool, float] = {}
            for ours in order:
                pair[ours] = sides.ours(False) if ours else sides.native(False)
            times["ours"].append(pair[True])
            times["native"].append(pair[False])
            times["ratio"].append(pair[True] / pair[False])
            for ours in order:
                (times["ours_hv"] if ours else times["native_hv"]).append(
                    sides.ours(True) if ours else sides.native(True)
                )
            times["gateway_hv"].append(sides.gateway_hv())
            times["hv_ratio"].append(times["gateway_hv"][-1] / times["native_hv"][-1])
        results.append((scale, times))
        print(f"  ... {scale} switches done", file=sys.stderr)
    api.commit(api.service_del("bench-svc"))
    box.nbctl("acl-del", "bench-ls0")
    return results


def bulk(box: Sandbox, api: InjectDbApiIdlImpl) -> dict[str, float]:
    """Parts 2 and 3: 1,000 x 10 flows from an empty SB, one change, peak memory."""
    bump = api.bump_cfg()
    api.commit(bump)
    if not api.wait_cfg("sb_cfg", bump.result, 60):
        raise SystemExit("the daemon did not clear part 1's rows")
    box.stop("inject-northd")
    left = box.sbctl(
        "--bare", "--columns=_uuid", "find", "Logical_Flow", 'external_ids:ovn-inject="1"'
    ).split()
    if left:
        raise SystemExit(f"{len(left)} rows of ours left in SB before the bulk run")

    written = time.perf_counter()
    for start in range(0, SERVICES, 100):
        batch = range(start, min(SERVICES, start + 100))
        api.commit(*(api.service_add(f"svc{n}", f"tenant-{n}") for n in batch))
        api.commit(*(api.attach_add(f"svc{n}", "ls", f"bench-ls{n}", "ls-in-port") for n in batch))
    for start in range(0, SERVICES, 50):
        commands = []
        for n in range(start, min(SERVICES, start + 50)):
            view = ServiceView(f"svc{n}", f"tenant-{n}", None, (), 0)
            requests = [
                FlowRequest(10 + k, f"tcp.dst == {1000 + k}", "drop;") for k in range(FLOWS_PER_SERVICE)
            ]
            commands.append(api.flow_add(f"svc{n}", validate_flows(requests, view)))
        api.commit(*commands)
    write_s = time.perf_counter() - written
    bump = api.bump_cfg()
    api.commit(bump)

    started = time.perf_counter()
    box.start_inject_northd()
    if not api.wait_cfg("sb_cfg", bump.result, 600):
        raise SystemExit("the daemon did not write the bulk rows in 10 minutes")
    cold_s = time.perf_counter() - started
    log = (box.layout.central / "inject-northd.log").read_text()
    longest_pass_ms = max(float(ms) for ms in re.findall(r"\+\d+ -\d+ rows.*?([\d.]+) ms", log))
    rows = len(
        box.sbctl("--bare", "--columns=_uuid", "find", "Logical_Flow", 'external_ids:ovn-inject="1"').split()
    )
    ops_cold = status_field(box, "sb_ops")

    changes: list[float] = []
    ops: list[float] = []
    service = f"svc{SERVICES // 2}"
    for n in range(CHANGES):
        flow = next(f for f in api.flow_list(service).execute() if f.priority == 10)
        view = ServiceView(service, f"tenant-{SERVICES // 2}", None, (), FLOWS_PER_SERVICE)
        new = validate_flows([FlowRequest(10, f"tcp.dst == {5000 + n}", "drop;")], view)
        before = status_field(box, "sb_ops")
        bump = api.bump_cfg()
        began = time.perf_counter()
        api.commit(api.flow_del(service, str(flow.uuid)), api.flow_add(service, new), bump)
        if not api.wait_cfg("sb_cfg", bump.result, 120):
            raise SystemExit("one changed flow did not reach SB in 2 minutes")
        changes.append(time.perf_counter() - began)
        ops.append(status_field(box, "sb_ops") - before)
    return {
        "write_s": write_s,
        "cold_s": cold_s,
        "longest_pass_ms": longest_pass_ms,
        "rows": rows,
        "ops_cold": ops_cold,
        "change_s": statistics.median(changes),
        "change_ops": statistics.median(ops),
        "change_pass_ms": status_field(box, "last pass"),
        "hwm_mib": vm_hwm_kib(box.state.pids["inject-northd"]) / 1024,
    }


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f}"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-northd-") as scratch:
        box = Sandbox(Path(scratch) / "box")
        box.up(chassis=1)
        api = connect(box.inject_remote)
        nb = nb_api(box.nb_remote)
        try:
            results = acting(box, api, nb)
            big = bulk(box, api) if not ACTING_ONLY else None
        finally:
            api.close()
            nb.ovsdb_connection.stop()
            box.down()
    print(f"(1) time until a drop flow acts on hv1 (ofproto/trace), ms, median of {REPS} alternating reps")
    print(
        f"{'switches':>9} {'ours':>7} {'native':>7} {'ratio':>6} "
        f"{'ours --wait=hv':>15} {'native --wait=hv':>17} {'POST ?wait=hv':>14} {'ratio':>6}"
    )
    for scale, times in results:
        print(
            f"{scale:>9} {ms(times['ours'])} {ms(times['native'])} "
            f"{statistics.median(times['ratio']):6.2f} "
            f"{ms(times['ours_hv']):>15} {ms(times['native_hv']):>17} {ms(times['gateway_hv']):>14} "
            f"{statistics.median(times['hv_ratio']):6.2f}"
        )
    if big is None:
        return 0
    print(f"(2) {SERVICES} services x {FLOWS_PER_SERVICE} flows, daemon started on an SB without our rows")
    print(f"    writing them to OVN_Inject (API, in process): {big['write_s']:.1f} s")
    print(
        f"    daemon start -> SB holds all {int(big['rows'])} rows: {big['cold_s']:.2f} s "
        f"(its longest pass: {big['longest_pass_ms']:.0f} ms, {int(big['ops_cold'])} SB row ops)"
    )
    print(
        f"    one changed flow, write -> sb_cfg: {big['change_s'] * 1000:.1f} ms median of {CHANGES} "
        f"({big['change_ops']:.0f} SB row ops; last pass {big['change_pass_ms']:.1f} ms)"
    )
    print(f"(3) daemon peak memory (VmHWM): {big['hwm_mib']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
