"""The compiler daemon at scale: cold start, memory under churn, and 100,000 flows.

One sandbox with one chassis; N services x K flows (each service on its own
tenant's switch) written while the daemon is down, then:

1. cold start: the daemon starts on an SB that holds none of our rows; time
   until SB holds them all (Inject_Global.sb_cfg), its longest pass, and its
   peak memory (VmHWM);
2. churn (``--churn R``): R rounds, each replacing 1,000 flows by 1,000 flows
   never seen before (the count stays constant); the daemon's RSS after the
   first and after the last round (bounded memory: the ratio stays near 1).

    .venv/bin/python bench/bench_northd_scale.py                      # 1,000 x 10, 20 churn rounds
    .venv/bin/python bench/bench_northd_scale.py --flows-per-service 100 --churn 0   # 100,000 flows
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import ovn_inject  # noqa: F401  before python-ovs: it keeps python-ovs's poller from importing eventlet

# isort: split
import ovs.db.idl
import ovs.poller
from bench_northd import switch_commands, vm_hwm_kib
from ovsdbapp.backend.ovs_idl import idlutils

from ovn_inject import ovs_json
from ovn_inject.core.validate import FlowRequest, ServiceView, validate_flows
from ovn_inject.db.impl_idl import InjectDbApiIdlImpl, connect
from ovn_inject.sandbox import Sandbox

CHURN_FLOWS = 1000


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def write_flows(api: InjectDbApiIdlImpl, services: int, per_service: int, base: int, cookie: int = 0) -> None:
    """``per_service`` flows into each service, tcp.dst from ``base`` on (a fresh base: unseen flows)."""
    step = max(1, 2000 // per_service)
    for start in range(0, services, step):
        commands = []
        for n in range(start, min(services, start + step)):
            view = ServiceView(f"svc{n}", f"tenant-{n}", None, (), 0)
            requests = [
                FlowRequest(10 + k, f"tcp.dst == {base + k}", "drop;", cookie) for k in range(per_service)
            ]
            commands.append(api.flow_add(f"svc{n}", validate_flows(requests, view)))
        api.commit(*commands)


def watch_cfg(remote: str, column: str, cfg: int, timeout: float) -> bool:
    """Wait until Inject_Global.<column> >= cfg, told by a monitor of that one column.

    The bench's API connection monitors every table, so before it sees sb_cfg move it first
    goes through the update of every flow's status that the daemon wrote with it (measured:
    1.7 s after the daemon committed, at 10,000 flows): not the daemon's time.
    """
    helper = idlutils.get_schema_helper(remote, "OVN_Inject")
    helper.register_columns("Inject_Global", [column])
    idl = ovs.db.idl.Idl(remote, helper, leader_only=False)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            idl.run()
            if any(int(getattr(row, column)) >= cfg for row in idl.tables["Inject_Global"].rows.values()):
                return True
            poller = ovs.poller.Poller()
            idl.wait(poller)
            poller.timer_wait(int((deadline - time.monotonic()) * 1000) + 1)
            poller.block()
        return False
    finally:
        idl.close()


def synced(api: InjectDbApiIdlImpl, timeout: float = 900) -> None:
    bump = api.bump_cfg()
    api.commit(bump)
    if not api.wait_cfg("sb_cfg", bump.result, timeout):
        raise SystemExit("the daemon did not catch up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--flows-per-service", type=int, default=10)
    parser.add_argument("--churn", type=int, default=20)
    args = parser.parse_args()
    # The bench watches sb_cfg through an IDL of its own, which receives the daemon's status
    # writes in the same update: without the fast parser (as every ovn-inject command and daemon
    # has), it spent about a second parsing them per character before it saw sb_cfg move.
    ovs_json.install()
    services, per = args.services, args.flows_per_service
    with tempfile.TemporaryDirectory(prefix="bench-northd-scale-") as scratch:
        box = Sandbox(Path(scratch) / "box")
        box.up(chassis=1)
        api = connect(box.inject_remote)
        try:
            for start in range(0, services, 200):
                box.nbctl(*switch_commands(start, min(services, start + 200))[1:], timeout=300)
            box.stop("inject-northd")
            for start in range(0, services, 100):
                batch = range(start, min(services, start + 100))
                api.commit(*(api.service_add(f"svc{n}", f"tenant-{n}") for n in batch))
                api.commit(*(api.attach_add(f"svc{n}", "ls", f"bench-ls{n}", "ls-in-port") for n in batch))
            written = time.perf_counter()
            write_flows(api, services, per, 1000)
            write_s = time.perf_counter() - written
            bump = api.bump_cfg()
            api.commit(bump)

            started = time.perf_counter()
            box.start_inject_northd()
            if not watch_cfg(box.inject_remote, "sb_cfg", bump.result, 1800):
                raise SystemExit("the daemon did not write the rows in 30 minutes")
            cold_s = time.perf_counter() - started
            pid = box.state.pids["inject-northd"]
            log = (box.layout.central / "inject-northd.log").read_text()
            passes = [float(ms) for ms in re.findall(r"\+\d+ -\d+ rows.*?([\d.]+) ms", log)]
            rows = len(
                box.sbctl(
                    "--bare", "--columns=_uuid", "find", "Logical_Flow", 'external_ids:ovn-inject="1"'
                ).split()
            )
            print(f"{services} services x {per} flows = {services * per} flows")
            print(f"  writing them to OVN_Inject (API, in process): {write_s:.1f} s")
            print(
                f"  cold start: daemon start -> SB holds all {rows} rows: {cold_s:.2f} s "
                f"(longest pass {max(passes, default=0):.0f} ms; "
                f"peak memory {vm_hwm_kib(pid) / 1024:.0f} MiB)"
            )
            rss: list[int] = []
            churned = min(services, CHURN_FLOWS)
            for r in range(args.churn):
                # Round r: the first `churned` services each replace their cookie-1 flow by an unseen one.
                if r:
                    for start in range(0, churned, 200):
                        api.commit(
                            *(
                                api.flow_del(f"svc{n}", cookie=1)
                                for n in range(start, min(churned, start + 200))
                            )
                        )
                write_flows(api, churned, 1, 2000 + r, cookie=1)
                synced(api)
                rss.append(rss_kib(pid))
            if rss:
                print(
                    f"  churn: {args.churn} rounds x {churned} unseen flows; daemon RSS after round 1 "
                    f"{rss[0] / 1024:.0f} MiB, after round {len(rss)} {rss[-1] / 1024:.0f} MiB "
                    f"({rss[-1] / rss[0]:.2f}x)"
                )
        finally:
            api.close()
            box.down()


if __name__ == "__main__":
    main()
