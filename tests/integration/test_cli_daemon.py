"""Daemon mode (``ovn-inject --detach``, ``OVN_INJECT_DAEMON``): a caller sees what the command alone shows.

Each command runs twice as a fresh ``ovn-inject`` process, once by itself and
once through the daemon, and both runs must print the same stdout and stderr
and exit with the same status.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ovn_inject.constants import DAEMON_ENV
from ovn_inject.sandbox import Sandbox
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

PROGRAM = [sys.executable, "-m", "ovn_inject"]


def _env(box: Sandbox, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OVN_", "OVS_"))}
    return {**env, **box.env(), **extra}


def cli(
    env: dict[str, str], *argv: str, cwd: Path | None = None, stdin: str | None = None, umask: int = -1
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PROGRAM, *argv],
        env=env,
        cwd=cwd,
        input=stdin,
        umask=umask,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Daemon:
    def __init__(self, box: Sandbox, where: Path) -> None:
        where.mkdir(parents=True, exist_ok=True)
        self.pidfile = where / "cli.pid"
        self.log = where / "cli.log"
        started = cli(_env(box), "--detach", "--pidfile", str(self.pidfile), "--log-file", str(self.log))
        assert started.returncode == 0, started.stderr
        self.socket = Path(started.stdout.strip())
        assert started.stdout == f"{self.socket}\n" and self.socket.is_socket(), started.stdout
        self.pid = int(self.pidfile.read_text())
        assert self.socket.name == f"ovn-inject.{self.pid}.ctl"  # the default: $OVN_RUNDIR/ovn-inject.PID.ctl
        self.env = _env(box, **{DAEMON_ENV: str(self.socket)})

    def stopped(self) -> bool:
        return not _alive(self.pid) and not self.socket.exists() and not self.pidfile.exists()

    def stop(self) -> None:
        if _alive(self.pid):
            os.kill(self.pid, signal.SIGTERM)
        wait_until(self.stopped, "the CLI daemon to stop")


@pytest.fixture(scope="module")
def daemon(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    running = Daemon(sandbox, tmp_path_factory.mktemp("cli-daemon"))
    yield running
    running.stop()


@pytest.fixture
def service(demo: Sandbox) -> str:
    """A service attached to ls-a, in an OVN_Inject without any other."""
    env = _env(demo)
    for old in json.loads(cli(env, "service-list", "-f", "json").stdout):
        assert cli(env, "service-del", f"{old['tenant']}/{old['name']}").returncode == 0
    assert cli(env, "service-add", "ips", "--tenant", "tenant-a").returncode == 0
    assert cli(env, "attach-add", "ips", "ls:ls-a", "--hook", "ls-in-port").returncode == 0
    return "ips"


def both(box: Sandbox, daemon: Daemon, *argv: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` directly and through the daemon; the two must be indistinguishable."""
    direct = cli(_env(box), *argv, **kwargs)  # type: ignore[arg-type]
    through = cli(daemon.env, *argv, **kwargs)  # type: ignore[arg-type]
    assert (through.returncode, through.stdout, through.stderr) == (
        direct.returncode,
        direct.stdout,
        direct.stderr,
    ), argv
    return direct


READS_AND_ERRORS = [
    (["service-list"], 0),
    (["service-list", "-f", "json"], 0),
    (["--format", "csv", "attach-list", "ips"], 0),
    (["show"], 0),
    (["hook-list"], 0),
    (["get", "Service", "nosuch", "name"], 1),
    (["--if-exists", "service-show", "nosuch"], 0),
    (["flow-add", "nosuch", "--priority", "1", "--match", "ip4", "--actions", "next;"], 1),
    (["flow-add", "ips", "--priority", "1", "--match", "ip4.dst ==", "--actions", "next;"], 1),
    (["flow-add", "ips", "--match", "ip4"], 2),
    (["--may-exist", "flow-list"], 2),
    (["no-such-command"], 2),
    ([], 2),
    (["--help"], 0),
    (["flow-add", "--help"], 0),
    (["--version"], 0),
]


@pytest.mark.parametrize(
    ("argv", "status"), READS_AND_ERRORS, ids=[" ".join(a) or "-" for a, _ in READS_AND_ERRORS]
)
def test_reads_and_errors_are_the_same_through_the_daemon(
    demo: Sandbox, daemon: Daemon, service: str, argv: list[str], status: int
) -> None:
    assert both(demo, daemon, *argv).returncode == status


def test_flow_add_with_wait_sb_through_the_daemon(demo: Sandbox, daemon: Daemon, service: str) -> None:
    add = [service, "--priority", "10", "--actions", "drop;"]
    direct = cli(_env(demo), "--wait=sb", "flow-add", *add, "--match", "ip4.dst == 10.0.9.1")
    through = cli(daemon.env, "--wait=sb", "flow-add", *add, "--match", "ip4.dst == 10.0.9.2")
    for result in (direct, through):
        assert result.returncode == 0 and result.stderr == "", result.stderr
    # --wait=sb returned: the compiled rows are in SB already, whichever way the flow came in.
    lflows = cli(_env(demo), "lflow-list", service).stdout
    assert "10.0.9.1" in lflows and "10.0.9.2" in lflows, lflows
    flows = json.loads(cli(_env(demo), "flow-list", service, "-f", "json").stdout)
    assert {f["_uuid"] for f in flows} == {direct.stdout.strip(), through.stdout.strip()}
    # The same refusal of a duplicate, with the same message and status.
    duplicate = both(demo, daemon, "--wait=sb", "flow-add", *add, "--match", "ip4.dst == 10.0.9.1")
    assert duplicate.returncode == 1 and duplicate.stderr.startswith("ovn-inject: "), duplicate.stderr
    assert both(demo, daemon, "flow-list", service, "-f", "json").returncode == 0


def test_the_callers_directory_and_environment(
    demo: Sandbox, daemon: Daemon, service: str, tmp_path: Path
) -> None:
    """Relative paths are the caller's, so is the umask; the audit log names the caller's user."""
    env = {**daemon.env, "USER": "operator-7", "LOGNAME": "operator-7"}
    added = cli(env, "--audit-log", "audit.log", "token-create", service, cwd=tmp_path, umask=0o077)
    assert added.returncode == 0, added.stderr
    assert (tmp_path / "audit.log").stat().st_mode & 0o777 == 0o600
    entry = json.loads((tmp_path / "audit.log").read_text().splitlines()[-1])
    assert entry["user"] == "operator-7" and entry["what"] == f"token-create {service}", entry
    env["OVN_INJECT_AUDIT_LOG"] = str(tmp_path / "by-env.log")
    assert cli(env, "service-set", service, "--description", "x").returncode == 0
    assert "service-set" in (tmp_path / "by-env.log").read_text()


def test_what_the_daemon_cannot_run_runs_in_the_caller(demo: Sandbox, daemon: Daemon, service: str) -> None:
    """The sandbox command, and a command that reads stdin, run as without the daemon."""
    status = both(demo, daemon, "sandbox", "status", "--dir", str(demo.root))
    assert status.returncode == 0 and "running" in status.stdout
    both(demo, daemon, "parse", "match", "ip4.dst == 10.0.0.1")
    flows = '[{"priority": 7, "match": "ip4.dst == 10.0.8.1", "actions": "drop;"}]'
    replaced = cli(daemon.env, "flow-replace", service, "-", "-f", "json", stdin=flows)
    assert replaced.returncode == 0, replaced.stderr
    assert [f["match"] for f in json.loads(replaced.stdout)] == ["ip4.dst == 10.0.8.1"]


def test_the_client_imports_neither_click_nor_the_cli(demo: Sandbox, daemon: Daemon, service: str) -> None:
    timed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ovn_inject", "service-list"],
        env=daemon.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert timed.returncode == 0 and "ips" in timed.stdout, timed.stderr
    imported = {line.split("|")[-1].strip() for line in timed.stderr.splitlines() if "|" in line}
    heavy = sorted(m for m in imported if m.split(".")[0] == "click" or m.startswith("ovn_inject.cli"))
    assert not heavy, heavy


def test_a_missing_daemon_is_an_error(demo: Sandbox, tmp_path: Path) -> None:
    gone = cli(_env(demo, **{DAEMON_ENV: str(tmp_path / "nosuch.ctl")}), "service-list")
    assert gone.returncode == 1 and gone.stdout == ""
    assert gone.stderr.startswith("ovn-inject: cannot reach the ovn-inject daemon at "), gone.stderr


@pytest.mark.parametrize("how", ["appctl exit", "SIGTERM"])
def test_the_daemon_stops_cleanly(sandbox: Sandbox, tmp_path: Path, how: str) -> None:
    running = Daemon(sandbox, tmp_path)
    assert cli(running.env, "service-list").returncode == 0
    if how == "SIGTERM":
        os.kill(running.pid, signal.SIGTERM)
    else:
        stopped = subprocess.run(
            ["ovs-appctl", "-t", str(running.socket), "exit"], capture_output=True, text=True, timeout=30
        )
        assert stopped.returncode == 0, stopped.stderr
    wait_until(running.stopped, f"the CLI daemon to stop on {how}")
    log = running.log.read_text()
    assert "Traceback" not in log and "ERR" not in log, log


def test_appctl_run_and_the_common_commands(daemon: Daemon, demo: Sandbox, service: str) -> None:
    def appctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ovs-appctl", "-t", str(daemon.socket), *args], capture_output=True, text=True, timeout=30
        )

    listed = appctl("list-commands").stdout
    assert "run" in listed and "run-json" in listed and "exit" in listed, listed
    assert "ips" in appctl("run", "service-list").stdout
    refused = appctl("run", "get", "Service", "nosuch", "name")
    assert refused.returncode != 0 and "not found" in refused.stderr, refused.stderr
    local = appctl("run", "sandbox", "status")
    assert local.returncode != 0 and "does not run in the daemon" in local.stderr, local.stderr
