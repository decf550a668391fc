"""How long ``ovn-inject sandbox up`` takes to reach all demo ports up, with and without ovn-inject.

The baseline is the same sandbox without the northd gate, the compiler
daemon and the gateway (plain OVN), started in the same run. The package is
byte-compiled first, as installing it does: a checkout run with
``PYTHONDONTWRITEBYTECODE`` would have each daemon compile its modules again.
"""

from __future__ import annotations

import compileall
import statistics
import tempfile
import time
from pathlib import Path

import ovn_inject
from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import topology as topologies

ROUNDS = 3


def up_seconds(directory: Path, **options: bool) -> float:
    box = Sandbox(directory)
    started = time.monotonic()
    box.up(chassis=2, **options)
    try:
        topologies.build(box, topologies.DEMO)
        return time.monotonic() - started
    finally:
        box.down()


def main() -> None:
    compileall.compile_dir(Path(ovn_inject.__file__).parent, quiet=1)
    plain: list[float] = []
    full: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(ROUNDS):
            plain.append(up_seconds(Path(scratch) / f"plain{i}", gate=False, inject=False))
            full.append(up_seconds(Path(scratch) / f"full{i}"))
    p, f = statistics.median(plain), statistics.median(full)
    print(f"sandbox up, 2 chassis, demo topology, all ports up (median of {ROUNDS}):")
    print(f"  plain OVN:                              {p:.2f} s")
    print(f"  with gate, compiler daemon, gateway, ofswitch: {f:.2f} s  ({f / p:.1f}x; goal <= 2.5x)")


if __name__ == "__main__":
    main()
