"""A sandbox with SSL on every OVSDB connection: the CLI, the compiler daemon, the gate, the chassis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ovn_inject.db.ssl_options import ENV as SSL_ENV
from ovn_inject.db.ssl_options import SslOptions
from ovn_inject.sandbox import Sandbox, pki, processes
from ovn_inject.sandbox import packets as pk
from ovn_inject.sandbox.probe import send_and_capture
from ovn_inject.sandbox.topology import DEMO

pytestmark = pytest.mark.integration

SANDBOX_OPTIONS = {"ssl": True}
vm1, vm2, vm3 = (DEMO.vm(f"vm{n}") for n in range(1, 4))


def run(box: Sandbox, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``ovn-inject ARGS`` with the sandbox's environment (or ``env``), as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "ovn_inject", *args],
        env=dict(_clean_environ(), **(box.env() if env is None else env)),
        capture_output=True,
        text=True,
        timeout=60,
    )


def cli(box: Sandbox, *args: str) -> str:
    done = run(box, *args)
    assert done.returncode == 0, f"ovn-inject {' '.join(args)}: {done.stderr}"
    return done.stdout


def _clean_environ() -> dict[str, str]:
    """This process's environment without SSL settings a developer's shell may hold."""
    return {k: v for k, v in os.environ.items() if k not in SSL_ENV.values()}


def without(box: Sandbox, *variables: str) -> dict[str, str]:
    return {k: v for k, v in box.env().items() if k not in variables}


def ovsdb_client(ssl: SslOptions, *args: str) -> subprocess.CompletedProcess[str]:
    return processes.run(["ovsdb-client", "--timeout=10", *ssl.ovs_args(), *args], check=False)


@pytest.fixture
def stack(demo: Sandbox) -> Iterator[Sandbox]:
    for row in json.loads(cli(demo, "service-list", "--format", "json")):
        cli(demo, "service-del", str(row["name"]))
    yield demo


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> SslOptions:
    """A key and certificate signed by a CA that no server of the sandbox trusts."""
    return pki.create(tmp_path_factory.mktemp("foreign") / "pki", "intruder")


def test_every_daemon_reaches_the_databases_over_ssl(sandbox: Sandbox) -> None:
    env = sandbox.env()
    for variable in ("OVN_NB_DB", "OVN_SB_DB", "OVN_INJECT_DB"):
        assert env[variable].startswith("ssl:127.0.0.1:"), variable
    assert sandbox.northd_sb_remote.startswith("ssl:"), "ovn-northd reaches the gate over SSL"
    for chassis in sandbox.state.chassis:
        remote = sandbox.vsctl(chassis, "get", "open_vswitch", ".", "external-ids:ovn-remote")
        assert remote.strip().strip('"').startswith("ssl:")
    # ovn-northd's only way to SB is the gate: it is active, hence connected through it.
    assert "Status: active" in sandbox.northd_appctl("status")
    assert "listening on ssl:" in (sandbox.layout.central / "sbgate.log").read_text()


def test_ovn_tools_work_with_the_exported_environment(demo: Sandbox) -> None:
    env = dict(_clean_environ(), **demo.env())
    for tool, table in (("ovn-nbctl", "Logical_Switch"), ("ovn-sbctl", "Chassis")):
        done = subprocess.run(
            [tool, "--bare", "--columns=name", "list", table], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split()


def test_cli_and_daemon_over_ssl_install_a_flow_that_acts(stack: Sandbox) -> None:
    box = stack
    cli(box, "service-add", "ips", "--tenant", "tenant-a")
    cli(box, "attach-add", "ips", "lsp:vm1", "--hook", "ls-in-port")
    flow = 'inport == "vm1" && ip4'
    cli(box, "--wait=hv", "flow-add", "ips", "--priority", "10", "--match", flow, "--actions", "drop;")

    [row] = json.loads(cli(box, "flow-list", "ips", "--format", "json"))
    assert row["status"] == "installed"

    def delivered(src: object, dst: object) -> list[bytes]:
        frame = pk.icmp_echo(src.mac, dst.mac, src.ip, dst.ip)  # type: ignore[attr-defined]
        name = dst.name  # type: ignore[attr-defined]
        return send_and_capture(
            box,
            src.name,
            frame,
            watch=[name],
            expect=name,
            timeout=1.0,
            settle=0.1,  # type: ignore[attr-defined]
        )[name]

    assert not delivered(vm1, vm2), "the hook flow drops vm1's packets"
    assert delivered(vm3, vm2), "and only vm1's"


def test_gate_serves_ovn_northd_and_clients_over_ssl(sandbox: Sandbox, foreign: SslOptions) -> None:
    ssl = sandbox.ssl
    assert ssl is not None
    gate = sandbox.northd_sb_remote
    done = ovsdb_client(ssl, "list-dbs", gate)
    assert done.returncode == 0, done.stderr
    assert "OVN_Southbound" in done.stdout.split()
    intruder = SslOptions(foreign.private_key, foreign.certificate, ssl.ca_cert)
    refused = ovsdb_client(intruder, "list-dbs", gate)
    assert refused.returncode != 0, "the gate accepts only certificates signed by its CA"


def test_servers_refuse_a_certificate_of_another_ca(sandbox: Sandbox, foreign: SslOptions) -> None:
    ssl = sandbox.ssl
    assert ssl is not None and foreign.private_key and foreign.certificate and foreign.ca_cert
    env = dict(
        sandbox.env(),
        OVN_INJECT_PRIVATE_KEY=str(foreign.private_key),
        OVN_INJECT_CERTIFICATE=str(foreign.certificate),
    )
    done = run(sandbox, "service-list", env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "OVN_Inject" in done.stderr and "SSL refused" in done.stderr, done.stderr
    # Nor does the CLI trust a server that its own CA did not sign.
    done = run(sandbox, "service-list", env=dict(sandbox.env(), OVN_INJECT_CA_CERT=str(foreign.ca_cert)))
    assert done.returncode == 1 and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("command", "needs"),
    [
        (["service-list"], "give --ca-cert"),
        (["northd"], "give --private-key, --certificate, --ca-cert"),
        (["gateway"], "give --db-private-key, --db-certificate, --db-ca-cert"),
        (["sbgate", "--listen=pssl:0:127.0.0.1", "--sb-db=unix:sb.sock"], "give --private-key"),
    ],
)
def test_an_ssl_remote_without_its_options_says_which_are_missing(
    sandbox: Sandbox, command: list[str], needs: str
) -> None:
    missing = ("OVN_INJECT_CA_CERT",) if command == ["service-list"] else tuple(SSL_ENV.values())
    done = run(sandbox, *command, env=without(sandbox, *missing))
    assert done.returncode == 1
    assert "needs SSL" in done.stderr and needs in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_file_names_its_option(sandbox: Sandbox, tmp_path: Path) -> None:
    ssl = sandbox.ssl
    assert ssl is not None
    done = run(sandbox, "service-list", "--ca-cert", str(tmp_path / "nowhere.pem"))
    assert done.returncode == 1 and "--ca-cert" in done.stderr and "nowhere.pem" in done.stderr
    done = run(sandbox, "service-list", "-c", str(ssl.private_key))
    assert done.returncode == 1 and "--certificate" in done.stderr, done.stderr


def test_bootstrap_trusts_the_servers_ca_on_first_use(sandbox: Sandbox, tmp_path: Path) -> None:
    ssl = sandbox.ssl
    assert ssl is not None and ssl.ca_cert is not None
    ca = tmp_path / "bootstrapped-ca.pem"
    env = without(sandbox, "OVN_INJECT_CA_CERT")
    for _ in range(2):  # the first run writes the CA, the second verifies against it
        done = run(sandbox, "service-list", "--bootstrap-ca-cert", str(ca), env=env)
        assert done.returncode == 0, done.stderr
    assert ca.read_text().strip() in ssl.ca_cert.read_text()
