"""``ovn-inject ofswitch`` (each service as an OpenFlow 1.3 switch) and ``service-set-openflow``."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path

import click

from ovn_inject import daemonize
from ovn_inject.cli.db_options import commit_and_wait, db_options, inject_api, tenant_key_option, wait_option
from ovn_inject.constants import INJECT_DB_ENV
from ovn_inject.errors import OvnInjectError
from ovn_inject.unixctl import Control, signal_self


@click.command()
@click.option(
    "--inject-db", envvar=INJECT_DB_ENV, required=True, help=f"OVN_Inject remote (default ${INJECT_DB_ENV})."
)
@click.option(
    "--nb-db",
    "--nb",
    "nb",
    envvar="OVN_NB_DB",
    required=True,
    help="OVN_Northbound remote (default $OVN_NB_DB).",
)
@tenant_key_option
@click.option(
    "--private-key", type=click.Path(path_type=Path, exists=True), help="TLS key (PEM), for ssl targets."
)
@click.option("--certificate", type=click.Path(path_type=Path, exists=True), help="TLS certificate (PEM).")
@click.option(
    "--ca-cert", type=click.Path(path_type=Path, exists=True), help="CA that peers' certificates chain to."
)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True)
@daemonize.options
def ofswitch(
    inject_db: str,
    nb: str,
    tenant_key: str,
    private_key: Path | None,
    certificate: Path | None,
    ca_cert: Path | None,
    timeout: float,
    pidfile: Path | None,
    log_file: Path | None,
    detach: bool,
    unixctl: Path | None,
    verbose: tuple[str, ...],
) -> None:
    """Serve each service with OpenFlow targets as a virtual OpenFlow 1.3 switch (table 0 = its hook)."""
    from ovn_inject.gateway.state import Options
    from ovn_inject.ofswitch.daemon import OfSwitchDaemon, Tls, serve

    given = [private_key, certificate, ca_cert]
    if any(given) and not all(given):
        raise OvnInjectError("ssl targets need all of --private-key, --certificate and --ca-cert")
    tls = Tls(private_key, certificate, ca_cert) if private_key and certificate and ca_cert else None
    options = Options(inject_db, nb, None, tenant_key, timeout)

    program = daemonize.program_name()

    async def service(ready: Callable[[], None]) -> None:
        control = Control(unixctl, program, on_exit=signal_self)
        daemons: list[OfSwitchDaemon] = []
        control.command(
            "status", "", 0, 0, lambda _args: daemons[0].status_text() if daemons else "starting\n"
        )
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGTERM, signal.SIGINT):  # stop cleanly: endpoints closed, pidfile removed
            loop.add_signal_handler(sig, task.cancel)

        def up() -> None:
            control.start_thread()
            ready()

        try:
            await serve(options, up, tls, daemons.append)
        except asyncio.CancelledError:
            logging.getLogger("ovn_inject.ofswitch").info("stopping")
        finally:
            control.close()

    daemonize.run_service(service, pidfile=pidfile, log_file=log_file, detach=detach, verbose=verbose)


@click.command("service-set-openflow")
@click.argument("service")
@click.argument("targets", nargs=-1, metavar="[TARGET]...")
@click.option(
    "--barrier-wait",
    type=click.Choice(["none", "sb", "hv"]),
    help="What a BARRIER waits for besides OVN_Inject: SB, or every chassis (kept if not given).",
)
@click.option("--peer-cn", help="Common name a pssl client's certificate must have (default: SERVICE).")
@wait_option
@db_options
def service_set_openflow(
    service: str, targets: tuple[str, ...], barrier_wait: str | None, peer_cn: str | None
) -> None:
    """Set SERVICE's OpenFlow endpoints; no TARGET: the service is no switch.

    TARGET: ptcp:PORT[:IP] or pssl:PORT[:IP] (we listen; on 127.0.0.1 unless
    an IP is given), tcp:IP:PORT or ssl:IP:PORT (we dial the controller).
    """
    from ovn_inject.ofswitch.store import SetTargetsCommand
    from ovn_inject.ofswitch.targets import parse_target

    for target in targets:
        parse_target(target)  # a syntax error before any connection
    with inject_api() as api:
        commit_and_wait(api, SetTargetsCommand(api, service, targets, barrier_wait, peer_cn))


COMMANDS = [service_set_openflow]
