"""What the northd gate costs northd's SB writes: the same work direct and through the gate.

One sandbox; ovn-northd is restarted alternately straight on SB and on the
gate, and each round times (a) 200 sequential ``ovn-nbctl --wait=sb lsp-add``
and (b) one transaction that creates 1,000 switches with 2 ports each (timed
until northd has written SB). Prints the medians of each side, the median of
the per-round ratios (each round runs both sides back to back, which cancels
most of the drift of a busy machine) and
the CPU seconds the gate process spent during the gated runs. A few hidden
hook rows sit in SB throughout, so the gate does its real work (looking for
them in every large message) rather than an idle pass-through.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ovn_inject.constants import OWNER_KEY
from ovn_inject.sandbox import Sandbox

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SEQUENTIAL = 200
SWITCHES = 1000
HOOK_ROWS = int(os.environ.get("BENCH_HOOK_ROWS", "10"))
BULK_REPEAT = 3


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def use_northd(box: Sandbox, gated: bool) -> None:
    """Restart northd direct or gated; hook rows exist only when gated (northd deletes them)."""
    box.stop("northd")
    box.start_northd(sb_remote=box.northd_sb_remote if gated else box.sb_remote)
    box.nbctl("--wait=sb", "sync", timeout=60)
    if gated:
        add_hook_rows(box)


def sequential_lsp_add(box: Sandbox) -> float:
    box.nbctl("ls-add", "bench-seq")
    box.nbctl("--wait=sb", "sync", timeout=60)
    started = time.perf_counter()
    for n in range(SEQUENTIAL):
        box.nbctl("--wait=sb", "lsp-add", "bench-seq", f"bench-seq-p{n}")
    elapsed = time.perf_counter() - started
    box.nbctl("--wait=sb", "ls-del", "bench-seq", timeout=60)
    return elapsed


def bulk_switches(box: Sandbox) -> float:
    args: list[str] = []
    for n in range(SWITCHES):
        args += ["--", "ls-add", f"bench-ls{n}"]
        args += ["--", "lsp-add", f"bench-ls{n}", f"bench-ls{n}-p1"]
        args += ["--", "lsp-add", f"bench-ls{n}", f"bench-ls{n}-p2"]
    started = time.perf_counter()
    box.nbctl("--wait=sb", *args[1:], timeout=120)
    elapsed = time.perf_counter() - started
    deletes: list[str] = []
    for n in range(SWITCHES):
        deletes += ["--", "ls-del", f"bench-ls{n}"]
    box.nbctl("--wait=sb", *deletes[1:], timeout=120)
    return elapsed


def add_hook_rows(box: Sandbox) -> None:
    """Marked rows on a switch of their own, as the compiler would write them."""
    box.nbctl("--wait=sb", "--may-exist", "ls-add", "bench-hooked")
    box.nbctl("--wait=sb", "--may-exist", "lsp-add", "bench-hooked", "hooked-p1")
    for stale in box.sbctl(
        "--bare", "--columns=_uuid", "find", "logical_flow", f"external_ids:{OWNER_KEY}=bench"
    ).split():
        box.sbctl("destroy", "logical_flow", stale)
    datapath = box.sbctl(
        "--bare", "--columns=_uuid", "find", "datapath_binding", "external_ids:name=bench-hooked"
    ).strip()
    if not HOOK_ROWS:
        return
    for n in range(HOOK_ROWS):
        box.sbctl(
            "create",
            "logical_flow",
            f"logical_datapath={datapath}",
            "pipeline=ingress",
            "table_id=4",
            f"priority={1000 + n}",
            f'match="inport == \\"hooked-p1\\" && ip4.dst == 10.0.0.{n}"',
            'actions="drop;"',
            f"external_ids:{OWNER_KEY}=bench",
            "external_ids:stage-name=ls_in_hook_port",
        )
    time.sleep(0.5)
    hidden = box.sbctl("--bare", "--columns=_uuid", "find", "logical_flow", f"external_ids:{OWNER_KEY}=bench")
    if len(hidden.split()) != HOOK_ROWS:
        raise SystemExit("hook rows did not survive northd: is the gate running?")


def main() -> int:
    times: dict[tuple[str, bool], list[float]] = {}
    ratios: dict[str, list[float]] = {"seq": [], "bulk": []}
    gate_cpu = 0.0
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as scratch:
        box = Sandbox(Path(scratch) / "box")
        box.up(chassis=1)
        try:
            gate_pid = box.state.pids["sbgate"]
            for round_ in range(ROUNDS):
                this_round: dict[tuple[str, bool], float] = {}
                for gated in (round_ % 2 == 0, round_ % 2 == 1):
                    use_northd(box, gated)
                    cpu_before = cpu_seconds(gate_pid)
                    this_round[("seq", gated)] = sequential_lsp_add(box)
                    this_round[("bulk", gated)] = statistics.median(
                        bulk_switches(box) for _ in range(BULK_REPEAT)
                    )
                    if gated:
                        gate_cpu += cpu_seconds(gate_pid) - cpu_before
                for (case, gated), elapsed in this_round.items():
                    times.setdefault((case, gated), []).append(elapsed)
                for case in ratios:
                    ratios[case].append(this_round[(case, True)] / this_round[(case, False)])
        finally:
            box.down()
    print(f"northd SB write cost, direct vs through the gate ({ROUNDS} alternating rounds)")
    print(
        f"({HOOK_ROWS} hidden hook rows in SB during gated runs; (b) is the median of {BULK_REPEAT} per run)"
    )
    for case, label in (
        ("seq", f"(a) {SEQUENTIAL} x --wait=sb lsp-add"),
        ("bulk", f"(b) {SWITCHES} switches x 2 ports, 1 txn"),
    ):
        direct = statistics.median(times[(case, False)])
        gated = statistics.median(times[(case, True)])
        per_round = " ".join(f"{ratio:.2f}" for ratio in ratios[case])
        print(
            f"{label:<38} direct {direct:6.3f} s  gate {gated:6.3f} s  "
            f"ratio {statistics.median(ratios[case]):4.2f}x (per round: {per_round})"
        )
    print(f"gate CPU during the gated runs: {gate_cpu:.2f} s ({gate_cpu / ROUNDS:.2f} s per round)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
