"""``ovn-inject sbgate``: the northd gate, run as a daemon in front of the SB database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from ovn_inject import daemonize
from ovn_inject.cli.db_options import Renamed, settings, ssl_options
from ovn_inject.constants import OWNER_KEY, SB_DB_ENV
from ovn_inject.gate.proxy import NorthdGate, parse_listen, parse_remotes
from ovn_inject.unixctl import Control, signal_self


@click.command()
@click.option(
    "--listen",
    required=True,
    help="Where ovn-northd connects: punix:PATH, ptcp:PORT[:HOST] or pssl:PORT[:HOST].",
)
@click.option(
    "--sb-db",
    "--remote",
    "remotes",
    cls=Renamed,
    envvar=SB_DB_ENV,
    required=True,
    multiple=True,
    help="The SB database: unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT; comma-separated for a cluster "
    f"(default ${SB_DB_ENV}).",
)
@click.option("--owner-key", default=OWNER_KEY, show_default=True, help="external_ids key of hidden rows.")
@click.option(
    "--any-member",
    is_flag=True,
    help="Accept a clustered SB member that is not the leader (ovn-northd needs the leader).",
)
@click.option(
    "--record",
    type=click.Path(path_type=Path),
    help="Append every message sent to northd to this file, one per line (for tests).",
)
@ssl_options()
@daemonize.options
def sbgate(
    listen: str,
    remotes: tuple[str, ...],
    owner_key: str,
    any_member: bool,
    record: Path | None,
    pidfile: Path | None,
    log_file: Path | None,
    detach: bool,
    unixctl: Path | None,
    verbose: tuple[str, ...],
) -> None:
    """Proxy ovn-northd's SB connection and hide ovn-inject's rows from it."""
    parse_listen(listen)  # report bad addresses and SSL files before detaching
    parse_remotes(remotes)
    ssl = settings().ssl()
    ssl.apply([listen, *remotes])

    async def service(ready: Callable[[], None]) -> None:
        gate = NorthdGate(
            listen, remotes, owner_key=owner_key, leader_only=not any_member, record=record, ssl_options=ssl
        )
        control = Control(unixctl, program, on_exit=signal_self)
        control.command("status", "", 0, 0, lambda _args: gate.status_text())
        try:
            await gate.start()
            control.start_thread()
            ready()
            await gate.serve_until_signalled()
        finally:
            control.close()

    program = daemonize.program_name()
    daemonize.run_service(service, pidfile=pidfile, log_file=log_file, detach=detach, verbose=verbose)
