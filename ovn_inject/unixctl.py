"""Every daemon's control socket, for ``ovn-appctl -t TARGET COMMAND``, as OVN's daemons have.

Common commands: ``list-commands``, ``version``, ``vlog/list``, ``vlog/set``,
``vlog/reopen`` and ``exit``; each daemon adds its own (``status``,
``is-active``, ``recompute``). The compiler daemon polls the socket in its own
loop; the asyncio daemons (gate, gateway) serve it from a thread, where
``exit`` asks the process to stop as SIGTERM does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ovs.poller
import ovs.unixctl
import ovs.unixctl.server

from ovn_inject.errors import OvnInjectError
from ovn_inject.vlog import VLOG, VlogError

LOG = logging.getLogger("ovn_inject.unixctl")
#: Where OVN keeps its control sockets; ``ovn-appctl -t ovn-inject-northd`` looks there.
RUNDIR_ENV = "OVN_RUNDIR"
DEFAULT_RUNDIR = "/var/run/ovn"

Action = Callable[[list[str]], str | None]


def version() -> str:
    # importlib.metadata (email, zipfile, csv) costs every daemon 10 ms of its start: imported when asked.
    from importlib import metadata

    try:
        return f"ovn-inject {metadata.version('ovn-inject')}"
    except metadata.PackageNotFoundError:
        return "ovn-inject (not installed)"


def default_path(program: str) -> Path | None:
    """``$OVN_RUNDIR/PROGRAM.PID.ctl`` as OVS names it, when that directory is ours to write."""
    rundir = Path(os.environ.get(RUNDIR_ENV, DEFAULT_RUNDIR))
    if rundir.is_dir() and os.access(rundir, os.W_OK):
        return rundir / f"{program}.{os.getpid()}.ctl"
    return None


class ControlError(OvnInjectError):
    """The control socket could not be created."""


class Control:
    """A unixctl server with the commands every daemon has; add more with :meth:`command`."""

    def __init__(self, path: Path | None, program: str, on_exit: Callable[[], None]) -> None:
        self.program = program
        self.path = (path.resolve() if path is not None else None) or default_path(program)
        self._on_exit = on_exit
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.exit_requested = False
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        # python-ovs keeps the first registration of a name: ours come before it adds its own.
        ovs.unixctl.commands.clear()
        self.command("list-commands", "", 0, 0, self._list)
        self.command("help", "", 0, 0, self._list)
        self.command("version", "", 0, 0, lambda _args: version() + "\n")
        self.command("vlog/list", "", 0, 0, lambda _args: VLOG.listing())
        self.command("vlog/set", "{SPEC | PATTERN:DESTINATION:PATTERN}", 1, 8, self._vlog_set)
        self.command("vlog/reopen", "", 0, 0, lambda _args: VLOG.reopen())
        ovs.unixctl.command_register("exit", "", 0, 0, self._exit, None)
        self.server: Any = None
        if self.path is None:
            LOG.info(
                "no control socket: give --unixctl, or make $%s (%s) writable", RUNDIR_ENV, DEFAULT_RUNDIR
            )
            return
        error, self.server = ovs.unixctl.server.UnixctlServer.create(str(self.path))
        if error:
            raise ControlError(f"cannot create control socket {self.path}: {os.strerror(error)}")
        LOG.info("control socket %s", self.path)

    def command(self, name: str, usage: str, min_args: int, max_args: int, action: Action) -> None:
        """Register ``name``; ``action(args)`` returns the reply text, or raises OvnInjectError."""

        def handler(conn: Any, argv: list[str], _aux: object) -> None:
            try:
                reply = action(list(argv))
            except OvnInjectError as exc:
                conn.reply_error(f"{exc}\n")
                return
            conn.reply(reply or "")

        ovs.unixctl.commands.pop(name, None)
        ovs.unixctl.command_register(name, usage, min_args, max_args, handler, None)

    def _list(self, _args: list[str]) -> str:
        lines = ["The available commands are:"]
        for name in sorted(ovs.unixctl.commands):
            usage = ovs.unixctl.commands[name].usage
            lines.append(f"  {name:<24}{usage}".rstrip())
        return "\n".join(lines) + "\n"

    def _vlog_set(self, args: list[str]) -> str:
        if args and args[0].upper() == "PATTERN":
            raise VlogError("log patterns are fixed: time|seq|module|level|message, as OVS's default")
        for spec in args:
            VLOG.set(spec)
        return ""

    def _exit(self, conn: Any, _argv: list[str], _aux: object) -> None:
        """Reply first: stopping may close the socket before a reply made afterwards is sent."""
        LOG.info("exit requested through the control socket")
        conn.reply("")
        self.exit_requested = True
        self._on_exit()

    # ---- in a poll loop (the compiler daemon) --------------------------------

    def run(self) -> None:
        if self.server is not None:
            self.server.run()

    def wait(self, poller: ovs.poller.Poller) -> None:
        if self.server is not None:
            self.server.wait(poller)
        if self.exit_requested:
            poller.immediate_wake()  # the loop must see that it has to stop, not sleep until a change

    # ---- beside an asyncio loop (gate, gateway) ------------------------------

    def start_thread(self) -> None:
        if self.server is None:
            return
        self._thread = threading.Thread(target=self._serve, name="unixctl", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                self.server.run()
            except Exception:  # a bad client must not take the control socket down
                LOG.exception("control socket")
            poller = ovs.poller.Poller()
            self.server.wait(poller)
            poller.fd_wait(self._wake_r, ovs.poller.POLLIN)
            poller.block()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.server is not None:
            self.server.close()
            self.server = None
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


def signal_self() -> None:
    """``exit`` of an asyncio daemon: stop as on SIGTERM (the loop's handler runs the clean-up)."""
    os.kill(os.getpid(), signal.SIGTERM)
