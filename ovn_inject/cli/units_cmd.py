"""Deployment commands: ``systemd-units`` (write the units), and what those units run before their
daemons: ``db-create`` (OVN_Inject's database file) and ``northd-db-params`` (ovn-northd through the gate).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click

from ovn_inject import units
from ovn_inject.cli.db_options import Renamed
from ovn_inject.constants import DEFAULT_TENANT_KEY
from ovn_inject.errors import OvnInjectError


def _this_program() -> str:
    beside = Path(sys.executable).parent / "ovn-inject"
    return str(beside) if beside.exists() else shutil.which("ovn-inject") or "/usr/bin/ovn-inject"


@click.command("systemd-units")
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Directory to write into (e.g. /etc/systemd/system).",
)
@click.option(
    "--program",
    help="The ovn-inject program the units run (default: this one, as an absolute path).",
)
@click.option(
    "--nb-db",
    "--nb-remote",
    "nb",
    cls=Renamed,
    default="unix:/run/ovn/ovnnb_db.sock",
    show_default=True,
    help="OVN NB.",
)
@click.option(
    "--sb-db",
    "--sb-remote",
    "sb",
    cls=Renamed,
    default="unix:/run/ovn/ovnsb_db.sock",
    show_default=True,
    help="OVN SB, comma-separated for a cluster.",
)
@click.option(
    "--inject-db",
    "--inject-remote",
    "inject_db",
    cls=Renamed,
    help="OVN_Inject, comma-separated for a cluster (default: the socket of ovn-inject-ovsdb.service).",
)
@click.option(
    "--gate-listen",
    default="punix:/run/ovn/ovn-inject-sbgate.sock",
    show_default=True,
    help="Where the northd gate listens; ovn-northd's --ovnsb-db points here.",
)
@click.option("--tenant-key", default=DEFAULT_TENANT_KEY, show_default=True)
@click.option(
    "--gateway-listen", default="127.0.0.1:8470", show_default=True, help="HOST:PORT of the gateway."
)
@click.option("--private-key", type=click.Path(), help="TLS key of the gateway (PEM).")
@click.option("--certificate", type=click.Path(), help="TLS certificate of the gateway (PEM).")
@click.option(
    "--ca-cert", type=click.Path(), help="CA of the gateway's clients (their certificates required)."
)
@click.option("--user", default="root", show_default=True, help="User= of ovn-inject's units.")
@click.option("--group", default="root", show_default=True, help="Group= of ovn-inject's units.")
@click.option("--rundir", default="/run/ovn", show_default=True)
@click.option("--logdir", default="/var/log/ovn", show_default=True)
@click.option("--dbdir", default="/var/lib/ovn-inject", show_default=True, help="Where OVN_Inject's file is.")
@click.option(
    "--own-db/--no-own-db",
    default=True,
    show_default=True,
    help="Render ovn-inject-ovsdb.service (OVN_Inject's own ovsdb-server) and require it.",
)
@click.option(
    "--inject-listen", multiple=True, help="A further remote of that server (e.g. ptcp:6645); repeatable."
)
@click.option("--cluster-local", help="Clustered OVN_Inject: this member's RAFT address, e.g. tcp:IP:6646.")
@click.option("--cluster-remote", help="Clustered OVN_Inject: a member to join (none: create the cluster).")
@click.option(
    "--requires",
    multiple=True,
    default=units.OVN_DB_UNITS,
    show_default=True,
    help="Units ovn-inject's daemons need and start after (repeatable); --requires '' for none.",
)
@click.option("--northd-db-params", default=units.NORTHD_DB_PARAMS, show_default=True)
@click.option("--northd-metrics", metavar="HOST:PORT", help="Prometheus metrics of the compiler daemon.")
@click.option("--gateway-metrics", metavar="HOST:PORT", help="Prometheus metrics of the gateway.")
def systemd_units(
    output: Path,
    program: str | None,
    nb: str,
    sb: str,
    inject_db: str | None,
    gate_listen: str,
    tenant_key: str,
    gateway_listen: str,
    private_key: str | None,
    certificate: str | None,
    ca_cert: str | None,
    user: str,
    group: str,
    rundir: str,
    logdir: str,
    dbdir: str,
    own_db: bool,
    inject_listen: tuple[str, ...],
    cluster_local: str | None,
    cluster_remote: str | None,
    requires: tuple[str, ...],
    northd_db_params: str,
    northd_metrics: str | None,
    gateway_metrics: str | None,
) -> None:
    """Write units for OVN_Inject's ovsdb-server, the gate, the daemon and the gateway, and a drop-in
    that routes Debian's ovn-northd.service through the gate."""
    if (private_key is None) != (certificate is None):
        raise click.UsageError("--private-key and --certificate go together")
    if ca_cert is not None and private_key is None:
        raise click.UsageError("--ca-cert needs --private-key and --certificate")
    if cluster_remote and not cluster_local:
        raise click.UsageError("--cluster-remote needs --cluster-local (this member's address)")
    if inject_db is None:
        if not own_db:
            raise click.UsageError("--no-own-db needs --inject-db")
        inject_db = f"unix:{rundir}/ovn-inject_db.sock"
    site = units.Site(
        program or _this_program(),
        nb,
        sb,
        inject_db,
        gate_listen,
        tenant_key,
        rundir=rundir,
        logdir=logdir,
        gateway_listen=gateway_listen,
        private_key=private_key,
        certificate=certificate,
        ca_cert=ca_cert,
        user=user,
        group=group,
        dbdir=dbdir,
        own_db=own_db,
        inject_listen=inject_listen,
        cluster_local=cluster_local,
        cluster_remote=cluster_remote,
        requires=tuple(r for r in requires if r),
        northd_db_params=northd_db_params,
        params_dir=f"{rundir}/ovn-inject-sysconf",
        northd_metrics=northd_metrics,
        gateway_metrics=gateway_metrics,
    )
    for path in units.write(site, output):
        click.echo(str(path))


@click.command("northd-db-params")
@click.option("--gate", required=True, help="The gate's remote, e.g. unix:/run/ovn/ovn-inject-sbgate.sock.")
@click.option("--source", type=click.Path(path_type=Path), default=units.NORTHD_DB_PARAMS, show_default=True)
@click.option("--output", type=click.Path(path_type=Path), required=True)
def northd_db_params(gate: str, source: Path, output: Path) -> None:
    """Copy ovn-northd's database options with SB pointed at the gate (ovn-northd.service runs this).

    Without SOURCE the copy is removed: ovn-ctl then uses --ovn-northd-sb-db, which the drop-in sets.
    """
    if not source.exists():
        output.unlink(missing_ok=True)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(output.name + ".tmp")
    temporary.write_text(units.northd_db_params(source.read_text(), gate))
    os.replace(temporary, output)


@click.command("db-create")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--cluster-local", help="Clustered: this member's RAFT address, e.g. tcp:IP:6646.")
@click.option("--cluster-remote", help="Clustered: a member of the cluster to join (none: create it).")
def db_create(file: Path, cluster_local: str | None, cluster_remote: str | None) -> None:
    """Create OVN_Inject's database FILE if it is missing; convert a standalone one to a newer schema."""
    from ovn_inject.db.schema import schema_path

    schema = str(schema_path())
    if file.exists():
        if cluster_local is None and _tool("needs-conversion", str(file), schema).strip() == "yes":
            _tool("convert", str(file), schema)
            click.echo(f"converted {file} to the installed schema")
        return
    file.parent.mkdir(parents=True, exist_ok=True)
    if cluster_local is None:
        _tool("create", str(file), schema)
    elif cluster_remote is None:
        _tool("create-cluster", str(file), schema, cluster_local)
    else:
        _tool("join-cluster", str(file), "OVN_Inject", cluster_local, cluster_remote)
    click.echo(f"created {file}")


def _tool(*args: str) -> str:
    try:
        done = subprocess.run(["ovsdb-tool", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise OvnInjectError("ovsdb-tool is missing: install openvswitch-common") from None
    if done.returncode != 0:
        raise OvnInjectError(f"ovsdb-tool {args[0]} failed: {done.stderr.strip()}")
    return done.stdout


COMMANDS = [systemd_units, northd_db_params, db_create]
