"""``ovn-inject northd``: the compiler daemon."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import ovs.poller

from ovn_inject import daemonize
from ovn_inject.cli.db_options import (
    daemon_nb_option,
    daemon_sb_option,
    settings,
    ssl_options,
    tenant_key_option,
)
from ovn_inject.constants import INJECT_DB_ENV, SB_DB_ENV
from ovn_inject.core.placement import pinned_registers
from ovn_inject.unixctl import Control

if TYPE_CHECKING:
    from ovn_inject.lang import Release

REGISTER = click.Choice([f"reg{i}" for i in range(10)])


@click.command()
@daemon_nb_option
@daemon_sb_option(True, f"OVN_Southbound remote(s) (${SB_DB_ENV}).")
@click.option(
    "--inject-db", envvar=INJECT_DB_ENV, required=True, help=f"OVN_Inject remote (${INJECT_DB_ENV})."
)
@tenant_key_option
@click.option(
    "--cursor-register-ls",
    type=REGISTER,
    help="Register of the switch hooks' cursors (default: the first of reg9..reg0 with free bits).",
)
@click.option(
    "--cursor-register-lr",
    type=REGISTER,
    help="Register of the router hooks' cursors (default: the first of reg9..reg0 with free bits).",
)
@click.option(
    "--cursor-width",
    type=click.IntRange(1, 8),
    help="Cursor bits per hook, up to 2^N-1 services in one scope (default: sized to the attachments).",
)
@click.option(
    "--ovn-release",
    callback=lambda _ctx, _param, value: _release(value) if value else None,
    help="Compile for this OVN release (e.g. 26.03) instead of the one SB's schema says.",
)
@click.option("--metrics", metavar="HOST:PORT", help="Serve Prometheus metrics at http://HOST:PORT/metrics.")
@ssl_options()
@daemonize.options
def northd(
    nb: str,
    sb: str,
    inject_db: str,
    tenant_key: str,
    cursor_register_ls: str | None,
    cursor_register_lr: str | None,
    cursor_width: int | None,
    ovn_release: Release | None,
    unixctl: Path | None,
    metrics: str | None,
    pidfile: Path | None,
    log_file: Path | None,
    detach: bool,
    verbose: tuple[str, ...],
) -> None:
    """Compile services, attachments and flows into hook lflows in SB."""
    if metrics is not None:
        from ovn_inject.metrics import parse_address

        parse_address(metrics)  # report a bad address before detaching
    from ovn_inject.northd.connection import Options, open_idls

    settings().ssl().apply([nb, sb, inject_db])
    options = Options(
        nb,
        sb,
        inject_db,
        tenant_key,
        pinned_registers(cursor_register_ls, cursor_register_lr),
        cursor_width,
        ovn_release,
    )
    with daemonize.daemonized(pidfile=pidfile, log_file=log_file, detach=detach, verbose=verbose) as ready:
        signalled = threading.Event()
        # Before anything that opens a unix socket: ovs.fatal_signal then leaves our handlers alone.
        wakeup = daemonize.signal_pipe(signalled.set)
        idls = open_idls(nb, sb, inject_db)
        # The compiler and the OVN language: imported while the servers build the dumps asked for.
        from ovn_inject.northd.daemon import Daemon

        daemon = Daemon(options, idls)
        server = _control_socket(unixctl, daemon, daemonize.program_name())
        if metrics is not None:
            from ovn_inject.metrics import serve_metrics
            from ovn_inject.northd.metrics import DaemonCollector

            serve_metrics(metrics, DaemonCollector(daemon))

        ready()
        try:
            while daemon.running and not signalled.is_set():
                daemon.run_once()
                if server is not None:
                    server.run()
                if not daemon.running or signalled.is_set():
                    break
                poller = ovs.poller.Poller()
                daemon.wait(poller)
                if server is not None:
                    server.wait(poller)
                poller.fd_wait(wakeup, ovs.poller.POLLIN)
                poller.block()
        finally:
            # Closing the SB connection releases the lock at once: a standby takes over.
            daemon.close()
            if server is not None:
                server.close()


def _release(value: str) -> Release:
    from ovn_inject.lang import parse_release  # not imported before the daemon asked for its dumps

    return parse_release(value)


def _control_socket(path: Path | None, daemon: Any, program: str) -> Control:
    """``status``, ``is-active``, ``recompute`` and the common commands for ``ovn-appctl -t PATH``."""
    control = Control(path, program, on_exit=lambda: setattr(daemon, "running", False))
    control.command("status", "", 0, 0, lambda _args: daemon.status_text())
    control.command("is-active", "", 0, 0, lambda _args: "true\n" if daemon.is_active else "false\n")
    control.command("recompute", "", 0, 0, lambda _args: daemon.force_recompute())
    return control
