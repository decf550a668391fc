"""ovn-inject's daemons behave like OVN's: unixctl commands, OVS-format logs, a standby that says so."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ovn_inject.sandbox import Sandbox, processes
from ovn_inject.unixctl import version
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

DAEMONS = ("inject-northd", "sbgate", "gateway", "ofswitch")
COMMON = {"list-commands", "version", "vlog/list", "vlog/set", "vlog/reopen", "exit", "status"}
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\|\d{5}\|[a-z_]+\|(DBG|INFO|WARN|ERR|EMER)\|")


def appctl(ctl: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ovn-appctl", "-t", str(ctl), *args], capture_output=True, text=True, timeout=30, check=check
    )


def log_of(box: Sandbox, name: str) -> str:
    return (box.layout.central / f"{name}.log").read_text()


def test_a_topology_without_routers_warns_once_per_hook_not_per_retry(sandbox: Sandbox) -> None:
    box = sandbox  # no topology yet: no hook has its stage in SB
    wait_until(lambda: "hook lr-in-route unusable" in log_of(box, "inject-northd"), "the first warning")
    for n in range(3):  # every new datapath makes the daemon look at northd's stages again
        box.nbctl("--wait=sb", "ls-add", f"ls-x{n}")
    wait_until(lambda: "hook ls-in-port usable again" in log_of(box, "inject-northd"), "a rediscovery")
    log = log_of(box, "inject-northd")
    assert log.count("hook lr-in-route unusable") == 1, log
    assert "hook lr-in-route unusable" in appctl(box.layout.central / "inject-northd.ctl", "status").stdout
    for n in range(3):
        box.nbctl("ls-del", f"ls-x{n}")


@pytest.mark.parametrize("name", DAEMONS)
def test_every_daemon_answers_the_common_commands(sandbox: Sandbox, name: str) -> None:
    ctl = sandbox.layout.central / f"{name}.ctl"
    listed = {line.split()[0] for line in appctl(ctl, "list-commands").stdout.splitlines()[1:]}
    assert listed >= COMMON, listed
    assert appctl(ctl, "version").stdout.strip() == version() and version().startswith("ovn-inject ")
    assert appctl(ctl, "status").stdout.strip()
    module = {"inject-northd": "northd", "sbgate": "gate", "gateway": "gateway", "ofswitch": "ofswitch"}[name]
    appctl(ctl, "vlog/set", f"{module}:file:dbg")
    row = next(line for line in appctl(ctl, "vlog/list").stdout.splitlines() if line.startswith(module + " "))
    assert row.split()[1:] == ["INFO", "DBG"]
    appctl(ctl, "vlog/set", f"{module}:file:info")
    refused = appctl(ctl, "vlog/set", "nosuchmodule:dbg", check=False)
    assert refused.returncode != 0 and "unknown module" in refused.stderr
    lines = log_of(sandbox, name).splitlines()
    assert lines and all(LOG_LINE.match(line) for line in lines if not line.startswith((" ", "Traceback")))


def test_the_status_of_each_daemon(sandbox: Sandbox) -> None:
    central = sandbox.layout.central
    northd = appctl(central / "inject-northd.ctl", "status").stdout
    assert northd.startswith("Status: active\n") and "SB lock: ovn_inject_northd" in northd
    assert appctl(central / "inject-northd.ctl", "is-active").stdout == "true\n"
    gate = appctl(central / "sbgate.ctl", "status").stdout
    listen = (
        f"ssl:127.0.0.1:{sandbox.state.extra['sbgate_port']}"
        if sandbox.ssl
        else f"unix:{sandbox.layout.sbgate_socket}"
    )
    assert f"listening: {listen}\n" in gate and "sessions: 1 open" in gate
    gateway = appctl(central / "gateway.ctl", "status").stdout
    assert f"listening: {sandbox.gateway_url}" in gateway and "OVN_Inject: " in gateway
    assert appctl(central / "ofswitch.ctl", "status").stdout.startswith("endpoints: ")


def test_a_standby_says_it_is_one_once_and_takes_over(sandbox: Sandbox) -> None:
    central = sandbox.layout.central
    sandbox.start_inject_northd("inject-northd-2")
    standby = central / "inject-northd-2.ctl"
    wait_until(lambda: appctl(standby, "status").stdout.startswith("Status: standby\n"), "the standby")
    assert appctl(standby, "is-active").stdout == "false\n"
    wait_until(lambda: "standby: another instance holds" in log_of(sandbox, "inject-northd-2"), "its log")
    sandbox.nbctl("--wait=sb", "ls-add", "ls-y")  # passes go by: it says so only once
    sandbox.nbctl("--wait=sb", "ls-del", "ls-y")
    assert log_of(sandbox, "inject-northd-2").count("standby") == 1

    appctl(central / "inject-northd.ctl", "exit")
    wait_until(lambda: not processes.is_alive(sandbox.state.pids["inject-northd"]), "the active one stops")
    wait_until(lambda: appctl(standby, "is-active").stdout == "true\n", "the standby takes over")
    sandbox.restart("inject-northd")  # back where it was, now as the standby
    appctl(standby, "exit")
    wait_until(lambda: not processes.is_alive(sandbox.state.pids["inject-northd-2"]), "the second stops")
    del sandbox.state.pids["inject-northd-2"]
    sandbox.save()
    wait_until(lambda: appctl(central / "inject-northd.ctl", "is-active").stdout == "true\n", "active again")


@pytest.mark.parametrize("name", ["sbgate", "gateway", "ofswitch"])
def test_exit_stops_the_asyncio_daemons(sandbox: Sandbox, name: str) -> None:
    pid = sandbox.state.pids[name]
    appctl(sandbox.layout.central / f"{name}.ctl", "exit")
    wait_until(lambda: not processes.is_alive(pid), f"{name} stops")
    assert not (sandbox.layout.central / f"{name}.pid").exists(), "a clean stop removes the pidfile"
    assert "exit requested through the control socket" in log_of(sandbox, name)
    sandbox.restart(name)
    wait_until(lambda: (sandbox.layout.central / f"{name}.ctl").is_socket(), f"{name} is back")


def test_a_bad_log_spec_is_refused_before_starting(sandbox: Sandbox, tmp_path: Path) -> None:
    listen, pidfile = f"punix:{tmp_path / 'g.sock'}", str(tmp_path / "g.pid")
    argv = ["sbgate", "--listen", listen, "--sb-db", sandbox.sb_remote, "-vnosuch:dbg"]
    done = subprocess.run(
        [sys.executable, "-m", "ovn_inject", *argv, "--detach", "--pidfile", pidfile],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0 and "unknown module, destination or level 'nosuch'" in done.stderr
    assert not (tmp_path / "g.pid").exists()
