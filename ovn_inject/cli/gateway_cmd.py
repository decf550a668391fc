"""``ovn-inject gateway``: the HTTP API through which services install their flows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from ovn_inject import daemonize
from ovn_inject.cli.db_options import settings, ssl_options
from ovn_inject.constants import DEFAULT_TENANT_KEY, INJECT_DB_ENV
from ovn_inject.errors import OvnInjectError


@click.command()
@click.option("--listen", default="127.0.0.1:8470", show_default=True, help="HOST:PORT to serve on.")
@click.option(
    "--inject-db", envvar=INJECT_DB_ENV, required=True, help=f"OVN_Inject remote (default ${INJECT_DB_ENV})."
)
@click.option("--nb", envvar="OVN_NB_DB", required=True, help="OVN_Northbound remote (default $OVN_NB_DB).")
@click.option("--sb", envvar="OVN_SB_DB", help="OVN_Southbound remote, for dry runs (default $OVN_SB_DB).")
@click.option(
    "--tenant-key",
    default=DEFAULT_TENANT_KEY,
    show_default=True,
    help="external_ids key of NB rows that names their tenant.",
)
@click.option("--private-key", type=click.Path(path_type=Path, exists=True), help="TLS key (PEM).")
@click.option("--certificate", type=click.Path(path_type=Path, exists=True), help="TLS certificate (PEM).")
@click.option(
    "--ca-cert", type=click.Path(path_type=Path, exists=True), help="CA certificate for client certificates."
)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True)
@click.option(
    "--tenant-validator",
    metavar="MODULE:CALLABLE",
    help="Validates tenant bearer tokens that are not ovn-inject's own (e.g. Keystone's); "
    "see ovn_inject.gateway.tenant_auth.",
)
@ssl_options(prefix="--db-", short=False)
@daemonize.options
def gateway(
    listen: str,
    inject_db: str,
    nb: str,
    sb: str | None,
    tenant_key: str,
    private_key: Path | None,
    certificate: Path | None,
    ca_cert: Path | None,
    timeout: float,
    tenant_validator: str | None,
    pidfile: Path | None,
    log_file: Path | None,
    detach: bool,
    verbose: bool,
) -> None:
    """Serve the token-secured flow API (OpenAPI document at /openapi.json, docs at /docs)."""
    from ovn_inject.gateway.server import Tls, parse_listen, serve
    from ovn_inject.gateway.state import Options

    parse_listen(listen)  # report a bad address before detaching
    if (private_key is None) != (certificate is None):
        raise OvnInjectError("TLS needs both --private-key and --certificate")
    tls = Tls(private_key, certificate, ca_cert) if private_key and certificate else None
    if tenant_validator is not None:
        from ovn_inject.gateway.tenant_auth import load_validator

        load_validator(tenant_validator)  # report a bad validator before detaching
    settings().ssl("--db-").apply([inject_db, nb, *([sb] if sb else [])])
    options = Options(inject_db, nb, sb, tenant_key, timeout, tenant_validator)

    async def service(ready: Callable[[], None]) -> None:
        await serve(options, listen, tls, ready)

    daemonize.run_service(service, pidfile=pidfile, log_file=log_file, detach=detach, verbose=verbose)
