"""The CLI's start-up against ovn-nbctl's, in the same run on the same sandbox.

Each figure is the median of ROUNDS runs of the installed ``ovn-inject`` program
(a fresh process each, as an operator's script pays it), next to the ovn-nbctl
command an operator compares it with; the ratio is what the goals bound
(issue #15: --help <= 0.1 s, service-list <= 0.15 s and <= 15x ls-list,
--wait=sb flow-add <= 3x --wait=sb lsp-add). The machine's load average is
printed with them: on a shared machine it moves the absolute figures, and
the commands of a ratio take turns, run by run, so that a burst of load
weighs on both.

The same ``--wait=sb flow-add`` runs in daemon mode too (``ovn-inject
--detach``, ``OVN_INJECT_DAEMON``), against ``ovn-nbctl --wait=sb lsp-add``
run directly (the goal's ratio) and in ovn-nbctl's own daemon mode
(``ovn-nbctl --detach``, ``OVN_NB_DAEMON``).

The package is byte-compiled first, as installing it does (pip compiles a
wheel's modules): a checkout run with ``PYTHONDONTWRITEBYTECODE`` would
otherwise compile every module of the command again in each process.
"""

from __future__ import annotations

import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import ovn_inject
from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import topology as topologies

ROUNDS = 20


def _program() -> str:
    beside = Path(sys.executable).parent / "ovn-inject"
    return str(beside) if beside.exists() else shutil.which("ovn-inject") or "ovn-inject"


Command = tuple[Callable[[int], Sequence[str]], dict[str, str]]


def medians(*commands: Command) -> list[float]:
    """Each command's median time over ROUNDS runs, the commands taking turns run by run.

    On a shared machine the load comes in bursts; taking turns puts a burst on every
    command of a ratio alike instead of on one of them.
    """
    times: list[list[float]] = [[] for _ in commands]
    for i in range(ROUNDS):
        for spent, (argv_of, env) in zip(times, commands, strict=True):
            argv = list(argv_of(i))
            started = time.perf_counter()
            subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
            spent.append(time.perf_counter() - started)
    return [statistics.median(spent) for spent in times]


def _flow_add(program: str, net: int) -> Callable[[int], Sequence[str]]:
    return lambda i: [
        program,
        "--wait=sb",
        "flow-add",
        "bench",
        "--priority",
        "10",
        "--match",
        f"ip4.dst == 10.{net}.{i // 250}.{i % 250}",
        "--actions",
        "next;",
    ]


def _lsp_add(tag: str) -> Callable[[int], Sequence[str]]:
    return lambda i: ["ovn-nbctl", "--wait=sb", "lsp-add", "ls-b", f"bench-{tag}{i}-{time.monotonic_ns()}"]


def _writes(program: str, env: dict[str, str]) -> list[tuple[str, float, float]]:
    """--wait=sb flow-add and lsp-add, each direct and through its daemon, taking turns."""
    ours = subprocess.run([program, "--detach"], env=env, check=True, capture_output=True, text=True)
    theirs = subprocess.run(["ovn-nbctl", "--detach"], env=env, check=True, capture_output=True, text=True)
    sockets = [ours.stdout.strip(), theirs.stdout.strip()]
    try:
        flow, port, daemon_flow, daemon_port = medians(
            (_flow_add(program, 9), env),
            (_lsp_add(""), env),
            (_flow_add(program, 8), {**env, "OVN_INJECT_DAEMON": sockets[0]}),
            (_lsp_add("d"), {**env, "OVN_NB_DAEMON": sockets[1]}),
        )
    finally:
        for path in sockets:
            subprocess.run(["ovs-appctl", "-t", path, "exit"], env=env, check=False, capture_output=True)
    return [
        ("--wait=sb flow-add / lsp-add", flow, port),
        ("daemon flow-add / lsp-add", daemon_flow, port),
        ("daemon flow-add / daemon lsp-add", daemon_flow, daemon_port),
    ]


def main() -> None:
    program = _program()
    compileall.compile_dir(Path(ovn_inject.__file__).parent, quiet=1)
    with tempfile.TemporaryDirectory() as scratch:
        box = Sandbox(Path(scratch) / "bench")
        box.up(chassis=1)
        try:
            topologies.build(box, topologies.DEMO)
            env = {**os.environ, **box.env()}
            subprocess.run([program, "service-add", "bench", "--tenant", "tenant-a"], env=env, check=True)
            subprocess.run(
                [program, "attach-add", "bench", "ls:ls-a", "--hook", "ls-in-port"],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            pairs = [
                ("--help", [program, "--help"], ["ovn-nbctl", "--help"]),
                ("service-list / ls-list", [program, "service-list"], ["ovn-nbctl", "ls-list"]),
            ]
            rows = []
            for name, ours, theirs in pairs:
                mine, base = medians((lambda _i, a=ours: a, env), (lambda _i, a=theirs: a, env))  # type: ignore[misc]
                rows.append((name, mine, base))
            rows += _writes(program, env)
        finally:
            box.down()
    load = os.getloadavg()
    print(f"ovn-inject CLI vs ovn-nbctl, median of {ROUNDS} runs each, load average {load[0]:.2f}:")
    for name, mine, base in rows:
        print(f"  {name:<34} {mine * 1000:7.1f} ms vs {base * 1000:6.1f} ms  ({mine / base:5.1f}x)")


if __name__ == "__main__":
    main()
