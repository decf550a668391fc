"""Run ovn-inject's services like OVS daemons: ``--detach``, ``--pidfile``, ``--log-file``.

With ``--detach`` the parent returns only once the child reports that it is
ready (listening, connected), or exits non-zero with the child's error, so
that scripts and the sandbox can use the service right after starting it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from ovn_inject import vlog
from ovn_inject.errors import OvnInjectError

Service = Callable[[Callable[[], None]], Coroutine[Any, Any, None]]


class DaemonError(OvnInjectError):
    """The service could not start."""


def options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The daemon options every service command takes, in OVS's spelling."""
    for option in reversed(
        [
            click.option("--pidfile", type=click.Path(path_type=Path), help="Write the daemon's pid here."),
            click.option(
                "--log-file",
                type=click.Path(path_type=Path),
                help="Also log to this file (-vconsole:off: to this file only).",
            ),
            click.option("--detach", is_flag=True, help="Run in the background once ready."),
            click.option(
                "--unixctl",
                type=click.Path(path_type=Path),
                help="Control socket for 'ovn-appctl -t PATH' "
                "(default: $OVN_RUNDIR/ovn-inject-NAME.PID.ctl when that directory is writable).",
            ),
            click.option(
                "-v",
                "--verbose",
                multiple=True,
                is_flag=False,
                flag_value="dbg",
                metavar="[SPEC]",
                help="OVS log levels, repeatable: -v (debug everywhere), -vconsole:off, -vfile:info, "
                "-vnorthd:dbg, --verbose=gate:warn ('ovn-appctl vlog/list' shows the modules).",
            ),
        ]
    ):
        func = option(func)
    return func


def setup_logging(log_file: Path | None, verbose: bool | Sequence[str]) -> None:
    """OVS-style logs (see ovn_inject.vlog); ``verbose`` is the ``-v`` specs (True: debug)."""
    specs = ("dbg",) if verbose is True else tuple(verbose or ())
    try:
        vlog.setup(log_file, specs)
    except vlog.VlogError as exc:
        raise DaemonError(str(exc)) from None


def program_name() -> str:
    """``ovn-inject-northd`` for ``ovn-inject northd``: the name OVN tools expect in pidfiles and sockets."""
    ctx = click.get_current_context(silent=True)
    return f"ovn-inject-{ctx.info_name}" if ctx is not None and ctx.info_name else "ovn-inject"


@contextlib.contextmanager
def daemonized(
    *,
    pidfile: Path | None = None,
    log_file: Path | None = None,
    detach: bool = False,
    verbose: bool | Sequence[str] = False,
) -> Iterator[Callable[..., None]]:
    """Become a daemon; the body runs the service and calls the yielded ``ready()`` once usable.

    ``ready(announce)``: a line the starting process prints on its stdout before it
    returns (``ovn-inject --detach`` prints its control socket, as ``ovn-nbctl --detach``).
    """
    pidfile = pidfile.resolve() if pidfile else None
    log_file = log_file.resolve() if log_file else None
    setup_logging(log_file, verbose)  # before detaching: a bad -v spec is reported to the caller
    notify: int | None = None
    if detach:
        read_end, write_end = os.pipe()
        if os.fork():
            os.close(write_end)
            with os.fdopen(read_end, "rb") as pipe:
                status = pipe.read().decode(errors="replace")
            if status != "ok" and not status.startswith("ok\n"):
                raise DaemonError(status or "the daemon exited before it was ready")
            announce = status[3:]
            if announce:
                click.echo(announce)
            _leave()  # freeing the gateway's modules one by one cost its parent 0.09 s of CPU
        os.close(read_end)
        os.setsid()
        notify = write_end
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)

    def ready(announce: str = "") -> None:
        nonlocal notify
        if not gc.isenabled():
            # Started without cyclic collections (cli.Group.main): what start-up made (modules,
            # the app, the IDLs' schemas) lives as long as the daemon, kept out of them from now on.
            gc.freeze()
            gc.enable()
        if pidfile is not None:
            pidfile.write_text(f"{os.getpid()}\n")
        if notify is not None:
            os.write(notify, b"ok" + (b"\n" + announce.encode() if announce else b""))
            os.close(notify)
            notify = None
        elif announce:
            click.echo(announce)

    try:
        yield ready
    except BaseException as exc:
        logging.getLogger("ovn_inject.daemon").error(
            "exiting: %s",
            exc or type(exc).__name__,
            exc_info=not isinstance(exc, SystemExit | KeyboardInterrupt),
        )
        if notify is not None:
            os.write(notify, str(exc).encode() or b"failed")
            os.close(notify)
            os._exit(1)
        raise
    finally:
        if pidfile is not None and pidfile.exists() and pidfile.read_text().strip() == str(os.getpid()):
            with contextlib.suppress(OSError):
                pidfile.unlink()
    _leave()


def _leave() -> NoReturn:
    """Exit 0 without tearing the interpreter down: after a clean stop, or once the daemon is ready.

    Everything is closed by now; the exit handlers (which remove sockets)
    still run, but freeing every module of the gateway's libraries took up
    to a second on a loaded machine, and ``systemctl stop`` waits for it.
    """
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def signal_pipe(on_signal: Callable[[], None]) -> int:
    """Call ``on_signal`` on SIGTERM or SIGINT; return an fd that becomes readable then.

    A loop blocked in ``poll()`` (``ovs.poller``) must watch that fd: Python
    runs a handler between bytecodes, then resumes the interrupted ``poll()``
    (PEP 475), which would sleep on until the next database change.
    """
    read_fd, write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)

    def handler(signum: int, frame: object) -> None:
        logging.getLogger("ovn_inject").info("%s: stopping", signal.Signals(signum).name)
        on_signal()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)
    return read_fd


def run_service(
    service: Service,
    *,
    pidfile: Path | None = None,
    log_file: Path | None = None,
    detach: bool = False,
    verbose: bool | Sequence[str] = False,
    loop: str = "asyncio",
) -> None:
    """Run the asyncio ``service(ready)`` as a daemon until it returns (on uvloop with ``loop="uvloop"``)."""
    with daemonized(pidfile=pidfile, log_file=log_file, detach=detach, verbose=verbose) as ready:
        factory = None
        if loop == "uvloop":
            import uvloop

            factory = uvloop.new_event_loop
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(service(ready))
