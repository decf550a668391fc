"""Run ovn-inject's services like OVS daemons: ``--detach``, ``--pidfile``, ``--log-file``.

With ``--detach`` the parent returns only once the child reports that it is
ready (listening, connected), or exits non-zero with the child's error, so
that scripts and the sandbox can use the service right after starting it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import click

from ovn_inject.errors import OvnInjectError

LOG_FORMAT = "%(asctime)s|%(name)s|%(levelname)s|%(message)s"

Service = Callable[[Callable[[], None]], Coroutine[Any, Any, None]]


class DaemonError(OvnInjectError):
    """The service could not start."""


def options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The daemon options every service command takes, in OVS's spelling."""
    for option in reversed(
        [
            click.option("--pidfile", type=click.Path(path_type=Path), help="Write the daemon's pid here."),
            click.option("--log-file", type=click.Path(path_type=Path), help="Log here instead of stderr."),
            click.option("--detach", is_flag=True, help="Run in the background once ready."),
            click.option("-v", "--verbose", is_flag=True, help="Log debug messages."),
        ]
    ):
        func = option(func)
    return func


def setup_logging(log_file: Path | None, verbose: bool) -> None:
    handler: logging.Handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger("ovn_inject")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


@contextlib.contextmanager
def daemonized(
    *, pidfile: Path | None = None, log_file: Path | None = None, detach: bool = False, verbose: bool = False
) -> Iterator[Callable[[], None]]:
    """Become a daemon; the body runs the service and calls the yielded ``ready()`` once usable."""
    pidfile = pidfile.resolve() if pidfile else None
    log_file = log_file.resolve() if log_file else None
    notify: int | None = None
    if detach:
        read_end, write_end = os.pipe()
        if os.fork():
            os.close(write_end)
            with os.fdopen(read_end, "rb") as pipe:
                status = pipe.read().decode(errors="replace")
            if status != "ok":
                raise DaemonError(status or "the daemon exited before it was ready")
            sys.exit(0)
        os.close(read_end)
        os.setsid()
        notify = write_end
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
    setup_logging(log_file, verbose)

    def ready() -> None:
        nonlocal notify
        if pidfile is not None:
            pidfile.write_text(f"{os.getpid()}\n")
        if notify is not None:
            os.write(notify, b"ok")
            os.close(notify)
            notify = None

    try:
        yield ready
    except BaseException as exc:
        logging.getLogger("ovn_inject").error(
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
    if detach:
        sys.exit(0)


def run_service(
    service: Service,
    *,
    pidfile: Path | None = None,
    log_file: Path | None = None,
    detach: bool = False,
    verbose: bool = False,
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
