"""The rendered systemd units, started the way systemd would (tests/integration/systemdutil.py).

Against the sandbox's NB and SB: OVN_Inject's own ovsdb-server (standalone
and a cluster of one), the gate, the compiler daemon and the gateway; and
Debian's ovn-northd.service with our drop-in, with and without
/etc/ovn/ovn-northd-db-params.conf, whose ovn-northd must reach SB through
the gate either way.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ovn_inject import units
from ovn_inject.sandbox import Sandbox, processes
from tests.integration import systemdutil as sd
from tests.waiting import wait_until

pytestmark = pytest.mark.integration
NORTHD_UNIT = Path("/lib/systemd/system/ovn-northd.service")
PROGRAM = str(Path(sys.executable).parent / "ovn-inject")


@pytest.fixture
def site(sandbox: Sandbox, tmp_path: Path) -> units.Site:
    run, log, db = (tmp_path / d for d in ("run", "log", "db"))
    for directory in (run, log, db):
        directory.mkdir()
    return units.Site(
        PROGRAM,
        sandbox.nb_remote,
        sandbox.sb_remote,
        f"unix:{run}/ovn-inject_db.sock",
        f"punix:{run}/gate.sock",
        "neutron:project_id",
        rundir=str(run),
        logdir=str(log),
        dbdir=str(db),
        gateway_listen=f"127.0.0.1:{processes.free_tcp_port()}",
        user=os.environ.get("USER", "root"),
        group="root",
        requires=(),
        northd_db_params=str(tmp_path / "etc" / "ovn-northd-db-params.conf"),
        params_dir=str(run / "sysconf"),
    )


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes] | int]]:
    """What a test started; stopped afterwards like systemd's stop (SIGTERM, then SIGKILL)."""
    running: list[subprocess.Popen[bytes] | int] = []
    yield running
    for item in reversed(running):
        if isinstance(item, int):
            processes.stop_pids([item])
        else:
            item.terminate()
            item.wait(timeout=30)


def rendered(site: units.Site, where: Path) -> Path:
    units.write(site, where)
    return where


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROGRAM, *args], capture_output=True, text=True, env=sd.base_environment())


def test_units_start_as_systemd_would_and_the_database_survives_a_restart(
    site: units.Site, tmp_path: Path, started: list[subprocess.Popen[bytes] | int]
) -> None:
    out = rendered(site, tmp_path / "units")
    env = sd.base_environment()
    ovsdb = sd.start(sd.parse(out / "ovn-inject-ovsdb.service"), env)
    started.append(ovsdb)
    wait_until(lambda: cli("--inject-db", site.inject_db, "service-list").returncode == 0, "OVN_Inject up")
    assert cli("--inject-db", site.inject_db, "service-add", "kept", "--tenant", "t1").returncode == 0

    # The database is a file of its own server: stopping and starting that unit keeps its rows.
    assert isinstance(ovsdb, subprocess.Popen)
    ovsdb.terminate()
    ovsdb.wait(timeout=30)
    started.remove(ovsdb)
    started.append(sd.start(sd.parse(out / "ovn-inject-ovsdb.service"), env))
    listed = wait_until(
        lambda: (r := cli("--inject-db", site.inject_db, "service-list")).returncode == 0 and r.stdout,
        "OVN_Inject served again",
    )
    assert "kept" in listed

    for name in ("ovn-inject-sbgate.service", "ovn-inject-northd.service", "ovn-inject-gateway.service"):
        pid = sd.start(sd.parse(out / name), env)
        assert isinstance(pid, int) and processes.is_alive(pid), name
        started.append(pid)
    status = subprocess.run(
        ["ovn-appctl", "-t", f"{site.rundir}/ovn-inject-northd.ctl", "status"], capture_output=True, text=True
    )
    assert status.returncode == 0 and "Status:" in status.stdout
    for daemon in ("sbgate", "gateway"):  # every daemon has its control socket, as OVN's have
        ctl = f"{site.rundir}/ovn-inject-{daemon}.ctl"
        answer = subprocess.run(["ovn-appctl", "-t", ctl, "status"], capture_output=True, text=True)
        assert answer.returncode == 0 and "listening: " in answer.stdout, answer
    assert httpx.get(f"http://{site.gateway_listen}/healthz", timeout=30).text == "ok\n"
    # Nothing of the renderer's shell: every remote in the units is one the site named.
    for text in units.render(site).values():
        assert "OVN_NB_DB" not in text and "OVN_SB_DB" not in text
    if shutil.which("systemd-analyze"):
        verify = subprocess.run(
            ["systemd-analyze", "verify", *(str(out / n) for n in units.UNITS.values() if n.endswith("e"))],
            capture_output=True,
            text=True,
        )
        assert "Unknown key" not in verify.stderr and "Invalid" not in verify.stderr, verify.stderr


def test_clustered_database_unit(
    site: units.Site, tmp_path: Path, started: list[subprocess.Popen[bytes] | int]
) -> None:
    raft = f"tcp:127.0.0.1:{processes.free_tcp_port()}"
    clustered = dataclasses.replace(site, cluster_local=raft)
    out = rendered(clustered, tmp_path / "units")
    text = (out / "ovn-inject-ovsdb.service").read_text()
    assert f"db-create {site.dbdir}/ovn-inject.db --cluster-local {raft}" in text
    started.append(sd.start(sd.parse(out / "ovn-inject-ovsdb.service"), sd.base_environment()))
    wait_until(lambda: cli("--inject-db", site.inject_db, "service-list").returncode == 0, "clustered")
    status = subprocess.run(
        ["ovs-appctl", "-t", f"{site.rundir}/ovn-inject_db.ctl", "cluster/status", "OVN_Inject"],
        capture_output=True,
        text=True,
    )
    assert "Role: leader" in status.stdout, status.stdout + status.stderr
    # A second member joins the first (its own unit, its own directories).
    run2, db2 = tmp_path / "run2", tmp_path / "db2"
    run2.mkdir()
    member = dataclasses.replace(
        clustered,
        rundir=str(run2),
        dbdir=str(db2),
        inject_db=f"unix:{run2}/ovn-inject_db.sock",
        cluster_local=f"tcp:127.0.0.1:{processes.free_tcp_port()}",
        cluster_remote=raft,
    )
    out2 = rendered(member, tmp_path / "units2")
    started.append(sd.start(sd.parse(out2 / "ovn-inject-ovsdb.service"), sd.base_environment()))
    wait_until(
        lambda: (
            "Role: follower"
            in subprocess.run(
                ["ovs-appctl", "-t", f"{run2}/ovn-inject_db.ctl", "cluster/status", "OVN_Inject"],
                capture_output=True,
                text=True,
            ).stdout
        ),
        "the second member joined",
    )


@pytest.mark.skipif(not NORTHD_UNIT.exists(), reason="Debian's ovn-northd.service is not installed")
@pytest.mark.parametrize("params_file", [False, True], ids=["without-db-params", "with-db-params"])
def test_northd_dropin_routes_northd_through_the_gate(
    sandbox: Sandbox,
    site: units.Site,
    tmp_path: Path,
    started: list[subprocess.Popen[bytes] | int],
    params_file: bool,
) -> None:
    out = rendered(site, tmp_path / "units")
    if params_file:
        params = Path(site.northd_db_params)
        params.parent.mkdir(parents=True, exist_ok=True)
        params.write_text(f"--ovnnb-db={sandbox.nb_remote} --ovnsb-db={sandbox.sb_remote}\n")
    unit = sd.parse(NORTHD_UNIT, out / "ovn-northd.service.d" / "ovn-inject-gate.conf")
    # What /etc/default/ovn-central would say on this node, and ovn-ctl's directories moved here.
    env = {
        **sd.base_environment(),
        "OVN_RUNDIR": f"{tmp_path}/ovn",  # the unit's PIDFile is %t/ovn/ovn-northd.pid
        "OVN_LOGDIR": site.logdir,
        "OVN_CTL_OPTS": f"--ovn-northd-nb-db={sandbox.nb_remote}",
    }
    pid = sd.start(unit, env, runtime_dir=str(tmp_path))
    assert isinstance(pid, int)
    started.append(pid)
    argv = sd.cmdline(pid)
    assert argv[0].endswith("ovn-northd")
    sb_options = [a for a in argv if a.startswith("--ovnsb-db")]
    assert sb_options == [f"--ovnsb-db={site.gate_remote}"], argv
    assert f"--ovnnb-db={sandbox.nb_remote}" in argv
