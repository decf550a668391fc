"""Run ovn-inject's command line and the example applications against a sandbox.

Both run as separate processes, as an operator and an appliance would: the
CLI with the sandbox's environment, an application with nothing but the
gateway's URL and its token. Used by ``make run`` and the tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ovn_inject.constants import GATEWAY_ENV
from ovn_inject.errors import OvnInjectError
from ovn_inject.sandbox.sandbox import Sandbox

#: The example applications of a checkout (they are not part of the installed package).
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TIMEOUT = 60.0


def inject(box: Sandbox, *args: str) -> str:
    """``ovn-inject ARGS`` against the sandbox; its output, or an error with its stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "ovn_inject", *args],
        env=dict(os.environ, **box.env()),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    if done.returncode != 0:
        raise OvnInjectError(f"ovn-inject {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def run_example(box: Sandbox, token: str, script: str, *args: str) -> dict[str, object]:
    """Run ``examples/SCRIPT`` unchanged; its JSON answer."""
    if not (EXAMPLES / script).exists():
        raise OvnInjectError(f"examples/{script} is missing: the examples come with a checkout of ovn-inject")
    env = dict(os.environ, **{GATEWAY_ENV: box.gateway_url, "OVN_INJECT_TOKEN": token})
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=EXAMPLES,
    )
    if done.returncode != 0:
        raise OvnInjectError(f"examples/{script} {' '.join(args)} failed: {done.stderr.strip()}")
    answer: dict[str, object] = json.loads(done.stdout)
    return answer
