"""``ovn-inject gateway``: the HTTP API through which services install their flows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from ovn_inject import daemonize
from ovn_inject.cli.db_options import (
    daemon_nb_option,
    daemon_sb_option,
    settings,
    ssl_options,
    tenant_key_option,
)
from ovn_inject.constants import INJECT_DB_ENV, SB_DB_ENV
from ovn_inject.errors import OvnInjectError
from ovn_inject.gateway.limits import Limits
from ovn_inject.metrics import parse_address
from ovn_inject.unixctl import Control, signal_self


@click.command()
@click.option("--listen", default="127.0.0.1:8470", show_default=True, help="HOST:PORT to serve on.")
@click.option(
    "--inject-db", envvar=INJECT_DB_ENV, required=True, help=f"OVN_Inject remote (default ${INJECT_DB_ENV})."
)
@daemon_nb_option
@daemon_sb_option(False, f"OVN_Southbound remote, for dry runs (${SB_DB_ENV}).")
@tenant_key_option
@click.option("--private-key", type=click.Path(path_type=Path, exists=True), help="TLS key (PEM).")
@click.option("--certificate", type=click.Path(path_type=Path, exists=True), help="TLS certificate (PEM).")
@click.option(
    "--ca-cert",
    type=click.Path(path_type=Path, exists=True),
    help="CA certificate for client certificates: with it, clients must present one it signed.",
)
@click.option(
    "--client-cert",
    type=click.Choice(["required", "optional"]),
    default="required",
    show_default=True,
    help="With --ca-cert: 'optional' also serves clients without a certificate (a presented one is checked).",
)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True)
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0),
    default=Limits.rate,
    show_default=True,
    help="Requests per second per service (429 with Retry-After beyond); 0: no limit.",
)
@click.option(
    "--rate-burst",
    type=click.IntRange(min=1),
    default=Limits.burst,
    show_default=True,
    help="Requests a service may send at once after a quiet spell.",
)
@click.option(
    "--default-max-flows",
    type=click.IntRange(min=0),
    default=Limits.default_max_flows,
    show_default=True,
    help="Flow quota of a service without max_flows of its own; 0: none.",
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(min=0.1),
    default=Limits.header_timeout,
    show_default=True,
    help="Seconds a client has to send a request's headers; slower clients are disconnected.",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(min=0.1),
    default=Limits.body_timeout,
    show_default=True,
    help="Seconds to wait for each part of a request body (408 beyond).",
)
@click.option(
    "--audit-log",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Append a JSON line per write or refusal to this file.",
)
@click.option("--metrics", metavar="HOST:PORT", help="Serve Prometheus metrics at http://HOST:PORT/metrics.")
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
    client_cert: str,
    timeout: float,
    rate_limit: float,
    rate_burst: int,
    default_max_flows: int,
    header_timeout: float,
    body_timeout: float,
    audit_log: Path | None,
    metrics: str | None,
    tenant_validator: str | None,
    pidfile: Path | None,
    log_file: Path | None,
    detach: bool,
    unixctl: Path | None,
    verbose: tuple[str, ...],
) -> None:
    """Serve the token-secured flow API (OpenAPI document at /openapi.json, docs at /docs)."""
    from ovn_inject.gateway.server import Tls, parse_listen, serve
    from ovn_inject.gateway.state import Options

    parse_listen(listen)  # report a bad address before detaching
    if (private_key is None) != (certificate is None):
        raise OvnInjectError("TLS needs both --private-key and --certificate")
    if ca_cert is not None and private_key is None:
        raise OvnInjectError("--ca-cert needs TLS: give --private-key and --certificate too")
    tls = Tls(private_key, certificate, ca_cert, client_cert) if private_key and certificate else None
    limits = Limits(
        rate=rate_limit,
        burst=rate_burst,
        default_max_flows=default_max_flows or None,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
    )
    if metrics is not None:
        parse_address(metrics)
    if tenant_validator is not None:
        from ovn_inject.gateway.tenant_auth import load_validator

        load_validator(tenant_validator)  # report a bad validator before detaching
    settings().ssl("--db-").apply([inject_db, nb, *([sb] if sb else [])])
    options = Options(inject_db, nb, sb, tenant_key, timeout, tenant_validator)

    program = daemonize.program_name()

    async def service(ready: Callable[[], None]) -> None:
        control = Control(unixctl, program, on_exit=signal_self)
        scheme = "https" if tls else "http"
        remotes = f"OVN_Inject: {inject_db}\nOVN_Northbound: {nb}\nOVN_Southbound: {sb or '(none)'}\n"
        bound = [listen]  # the address bound once the server listens (a port 0 then has its number)
        control.command("status", "", 0, 0, lambda _args: f"listening: {scheme}://{bound[-1]}\n{remotes}")

        def up() -> None:
            control.start_thread()
            ready()

        try:
            await serve(options, listen, tls, up, limits, audit_log, metrics, listening=bound.append)
        finally:
            control.close()

    from ovn_inject.gateway.limits import EVENT_LOOP

    daemonize.run_service(
        service, pidfile=pidfile, log_file=log_file, detach=detach, verbose=verbose, loop=EVENT_LOOP
    )
