"""``ovn-inject northd``: the compiler daemon."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import click
import ovs.poller
import ovs.unixctl
import ovs.unixctl.server

from ovn_inject import daemonize
from ovn_inject.constants import DEFAULT_TENANT_KEY, INJECT_DB_ENV
from ovn_inject.core.hooks import DatapathKind
from ovn_inject.core.placement import DEFAULT_CURSOR_REGISTER, DEFAULT_CURSOR_WIDTH
from ovn_inject.errors import OvnInjectError

REGISTER = click.Choice([f"reg{i}" for i in range(10)])


@click.command()
@click.option("--nb", envvar="OVN_NB_DB", required=True, help="OVN_Northbound remote (default $OVN_NB_DB).")
@click.option("--sb", envvar="OVN_SB_DB", required=True, help="OVN_Southbound remote(s), comma-separated.")
@click.option(
    "--inject-db", envvar=INJECT_DB_ENV, required=True, help=f"OVN_Inject remote (${INJECT_DB_ENV})."
)
@click.option(
    "--tenant-key",
    default=DEFAULT_TENANT_KEY,
    show_default=True,
    help="external_ids key of NB rows that names their tenant.",
)
@click.option("--cursor-register-ls", type=REGISTER, default=DEFAULT_CURSOR_REGISTER, show_default=True)
@click.option("--cursor-register-lr", type=REGISTER, default=DEFAULT_CURSOR_REGISTER, show_default=True)
@click.option(
    "--cursor-width",
    type=click.IntRange(1, 8),
    default=DEFAULT_CURSOR_WIDTH,
    show_default=True,
    help="Cursor bits per hook: up to 2^N-1 services in one scope.",
)
@click.option("--unixctl", type=click.Path(path_type=Path), help="Control socket for 'ovn-appctl -t PATH'.")
@daemonize.options
def northd(
    nb: str,
    sb: str,
    inject_db: str,
    tenant_key: str,
    cursor_register_ls: str,
    cursor_register_lr: str,
    cursor_width: int,
    unixctl: Path | None,
    pidfile: Path | None,
    log_file: Path | None,
    detach: bool,
    verbose: bool,
) -> None:
    """Compile services, attachments and flows into hook lflows in SB."""
    from ovn_inject.northd.daemon import Daemon, Options

    options = Options(
        nb,
        sb,
        inject_db,
        tenant_key,
        {DatapathKind.SWITCH: cursor_register_ls, DatapathKind.ROUTER: cursor_register_lr},
        cursor_width,
    )
    with daemonize.daemonized(pidfile=pidfile, log_file=log_file, detach=detach, verbose=verbose) as ready:
        signalled = threading.Event()
        # Before anything that opens a unix socket: ovs.fatal_signal then leaves our handlers alone.
        wakeup = daemonize.signal_pipe(signalled.set)
        daemon = Daemon(options)
        server = _control_socket(unixctl, daemon)
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


def _control_socket(path: Path | None, daemon: Any) -> ovs.unixctl.server.UnixctlServer | None:
    """``status``, ``recompute`` and ``exit`` for ``ovn-appctl -t PATH``."""
    if path is None:
        return None
    error, server = ovs.unixctl.server.UnixctlServer.create(str(path.resolve()))
    if error:
        raise OvnInjectError(f"cannot create control socket {path}: error {error}")

    def command(name: str, action: Any) -> None:
        def handler(conn: Any, argv: list[str], aux: object) -> None:
            conn.reply(action() or "")

        ovs.unixctl.command_register(name, "", 0, 0, handler, None)

    command("status", daemon.status_text)
    command("recompute", daemon.force_recompute)
    command("exit", lambda: setattr(daemon, "running", False))
    return server
