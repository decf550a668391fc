"""``ovn-inject systemd-units``: write the systemd units of a real deployment."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from ovn_inject import units
from ovn_inject.constants import DEFAULT_TENANT_KEY, INJECT_DB_ENV


@click.command("systemd-units")
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Directory to write into (e.g. /etc/systemd/system).",
)
@click.option("--nb-remote", "nb", envvar="OVN_NB_DB", required=True, help="OVN NB (default $OVN_NB_DB).")
@click.option(
    "--sb-remote", "sb", envvar="OVN_SB_DB", required=True, help="OVN SB, comma-separated for a cluster."
)
@click.option(
    "--inject-remote", "inject_db", envvar=INJECT_DB_ENV, required=True, help="OVN_Inject database."
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
@click.option("--rundir", default="/run/ovn", show_default=True)
@click.option("--logdir", default="/var/log/ovn", show_default=True)
def systemd_units(
    output: Path,
    nb: str,
    sb: str,
    inject_db: str,
    gate_listen: str,
    tenant_key: str,
    gateway_listen: str,
    private_key: str | None,
    certificate: str | None,
    rundir: str,
    logdir: str,
) -> None:
    """Write units for the northd gate, the compiler daemon and the gateway, and a drop-in for ovn-northd."""
    beside = Path(sys.executable).parent / "ovn-inject"
    executable = (
        str(beside) if beside.exists() else shutil.which("ovn-inject") or f"{sys.executable} -m ovn_inject"
    )
    if (private_key is None) != (certificate is None):
        raise click.UsageError("--private-key and --certificate go together")
    site = units.Site(
        executable,
        nb,
        sb,
        inject_db,
        gate_listen,
        tenant_key,
        rundir,
        logdir,
        gateway_listen,
        private_key,
        certificate,
    )
    for path in units.write(site, output):
        click.echo(str(path))
