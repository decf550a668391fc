"""What the northd gate costs northd's SB writes: the same work direct and through the gate.

One sandbox; ovn-northd is restarted alternately straight on SB and on the
gate, and each round times (a) 200 sequential ``ovn-nbctl --wait=sb lsp-add``
and (b) one transaction that creates 1,000 switches with 2 ports each (timed
until northd has written SB). Prints the median of each side, the ratios and
the CPU seconds the gate process spent during the gated runs.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ovn_inject.sandbox import Sandbox

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SEQUENTIAL = 200
SWITCHES = 1000


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def use_northd(box: Sandbox, gated: bool) -> None:
    box.stop("northd")
    box.start_northd(sb_remote=box.northd_sb_remote if gated else box.sb_remote)
    box.nbctl("--wait=sb", "sync", timeout=60)


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


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as scratch:
        box = Sandbox(Path(scratch) / "box")
        box.up(chassis=1)
        try:
            gate_pid = box.state.pids["sbgate"]
            times: dict[tuple[str, bool], list[float]] = {}
            gate_cpu = 0.0
            for round_ in range(ROUNDS):
                for gated in (round_ % 2 == 0, round_ % 2 == 1):
                    use_northd(box, gated)
                    cpu_before = cpu_seconds(gate_pid)
                    times.setdefault(("seq", gated), []).append(sequential_lsp_add(box))
                    times.setdefault(("bulk", gated), []).append(bulk_switches(box))
                    if gated:
                        gate_cpu += cpu_seconds(gate_pid) - cpu_before
        finally:
            box.down()
    print(f"northd SB write cost, direct vs through the gate ({ROUNDS} rounds, medians)")
    for case, label in (
        ("seq", f"(a) {SEQUENTIAL} x --wait=sb lsp-add"),
        ("bulk", f"(b) {SWITCHES} switches x 2 ports"),
    ):
        direct = statistics.median(times[(case, False)])
        gated = statistics.median(times[(case, True)])
        print(f"{label:<36} direct {direct:7.3f} s  gate {gated:7.3f} s  ratio {gated / direct:5.2f}x")
    print(f"gate CPU during {ROUNDS} gated rounds: {gate_cpu:.2f} s ({gate_cpu / ROUNDS:.2f} s per round)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
