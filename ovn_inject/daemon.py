"""Run an asyncio service like an OVS daemon: ``--detach``, ``--pidfile``, ``--log-file``.

With ``--detach`` the parent returns only once the child reports that it is
ready (listening), or exits non-zero with the child's error, so that scripts
and the sandbox can use the service right after starting it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path

from ovn_inject.errors import OvnInjectError

LOG_FORMAT = "%(asctime)s|%(name)s|%(levelname)s|%(message)s"

Service = Callable[[Callable[[], None]], Coroutine[object, object, None]]


class DaemonError(OvnInjectError):
    """The service could not start."""


def setup_logging(log_file: Path | None, verbose: bool) -> None:
    handler: logging.Handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger("ovn_inject")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def run_service(
    service: Service,
    *,
    pidfile: Path | None = None,
    log_file: Path | None = None,
    detach: bool = False,
    verbose: bool = False,
) -> None:
    """Run ``service(ready)`` until it returns; ``ready()`` writes the pidfile and releases the parent."""
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
            return
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
        asyncio.run(service(ready))
    except BaseException as exc:
        logging.getLogger("ovn_inject").error("exiting: %s", exc)
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
