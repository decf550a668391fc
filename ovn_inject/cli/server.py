"""``ovn-inject --detach``: a resident process that runs the CLI's commands for thin clients.

As ``ovn-nbctl --detach``: it prints its control socket; with that path in
``$OVN_INJECT_DAEMON``, ``ovn-inject COMMAND ...`` (:mod:`ovn_inject.launcher`)
sends its arguments, environment, working directory and umask over the socket,
and this process runs the command in the click app it loaded once, with those
and ``sys.argv`` in place and stdout/stderr captured, then answers with what
was printed and the exit status. The
interpreter's start, the imports and the language's tables are paid once,
not per call.

- Only the database and inspection commands run here; the others (the daemons,
  the sandbox, deployment, the demo, ``parse``, ``--detach``) are answered
  "run it yourself" and the client runs them in its own process, as without a
  daemon. So does a command that reads stdin (``flow-replace SERVICE -``): the
  daemon has none to give it, and the command has written nothing when it asks.
- Commands run one at a time (environment, directory and stdout are the
  process's), in the order they arrive; each connects to the databases as it
  does in its own process.
- ``ovn-appctl -t SOCKET run COMMAND ...`` runs a command with the daemon's
  own environment and prints its output (as ``ovn-nbctl``'s daemon answers
  ``run``); ``exit`` (or SIGTERM) stops it.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ovn_inject.errors import OvnInjectError
from ovn_inject.launcher import RUN_JSON

LOG = logging.getLogger("ovn_inject.daemon")
PROGRAM = "ovn-inject"
#: Modules the database commands import when they first run: imported at start, not by a caller.
_WARM = (
    "ovn_inject.audit",
    "ovn_inject.cli.output",
    "ovn_inject.cli.preview",
    "ovn_inject.core.bound",
    "ovn_inject.core.hooks",
    "ovn_inject.core.validate",
    "ovn_inject.db.impl_idl",
    "ovn_inject.db.oneshot",
    "ovn_inject.db.readers",
    "ovn_inject.db.records",
    "ovn_inject.db.rpc",
    "ovn_inject.db.wire",
    "ovn_inject.lang",
)


class NeedsStdin(BaseException):
    """The command reads stdin, which the daemon does not have: the client runs it itself."""


class _Elsewhere(Exception):
    """The caller's directory is not one the daemon may enter: the client runs the command itself."""


class _Output(io.TextIOBase):
    """stdout or stderr of one command: what is written, in order, tagged with its descriptor."""

    def __init__(self, fd: int, segments: list[list[Any]]) -> None:
        super().__init__()
        self._fd = fd
        self._segments = segments
        self.buffer = _BinaryOutput(self)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "strict"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # click tells text streams from binary ones by writing b""
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if text:
            if self._segments and self._segments[-1][0] == self._fd:
                self._segments[-1][1] += text
            else:
                self._segments.append([self._fd, text])
        return len(text)


class _BinaryOutput(io.RawIOBase):
    """``sys.stdout.buffer`` for a command that writes bytes (click.echo of bytes)."""

    def __init__(self, text: _Output) -> None:
        super().__init__()
        self._text = text

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._text.write(bytes(data).decode("utf-8", errors="replace"))
        return len(data)


class _NoStdin(io.TextIOBase):
    """stdin of a command in the daemon: reading it sends the command back to the client."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer = self

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def readable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def read(self, size: int | None = -1) -> Any:
        if size == 0:
            return ""  # click asks whether a stream is binary this way: not a read
        raise NeedsStdin

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        raise NeedsStdin

    def readlines(self, hint: int | None = -1) -> list[str]:  # type: ignore[override]
        raise NeedsStdin

    def __next__(self) -> str:  # type: ignore[override]
        raise NeedsStdin


class Reply:
    """A command's outcome: exit status and output, or None when the client must run it itself."""

    def __init__(self, status: int | None, segments: list[list[Any]]) -> None:
        self.status = status
        self.segments = segments

    def to_json(self) -> str:
        if self.status is None:
            return json.dumps({"local": True})
        return json.dumps({"status": self.status, "output": self.segments})

    def text(self, fd: int | None = None) -> str:
        return "".join(text for which, text in self.segments if fd is None or which == fd)


@contextlib.contextmanager
def _as_caller(
    argv: Sequence[str], env: dict[str, str], cwd: str, umask: int | None, segments: list[list[Any]]
) -> Iterator[None]:
    """The process as the caller's own would be: environment, directory, umask, argv, std streams."""
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    saved_argv = sys.argv
    try:
        os.chdir(cwd)  # first: a directory the daemon cannot enter changes nothing
    except OSError as exc:
        raise _Elsewhere(str(exc)) from None
    saved_umask = os.umask(umask) if umask is not None else None
    _environ(env)
    sys.argv = [PROGRAM, *argv]
    sys.stdin, sys.stdout, sys.stderr = _NoStdin(), _Output(1, segments), _Output(2, segments)
    # A command run by itself has no log handlers: Python prints its warnings bare on stderr.
    warnings = logging.StreamHandler(sys.stderr)
    warnings.setLevel(logging.WARNING)
    logging.getLogger().addHandler(warnings)
    try:
        yield
    finally:
        logging.getLogger().removeHandler(warnings)
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        sys.argv = saved_argv
        _environ(saved_env)
        if saved_umask is not None:
            os.umask(saved_umask)
        os.chdir(saved_cwd)


def _environ(wanted: dict[str, str]) -> None:
    """Make os.environ ``wanted``, touching only what differs (each change is a putenv)."""
    for key in [k for k in os.environ if k not in wanted]:
        del os.environ[key]
    for key, value in wanted.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def execute(
    argv: Sequence[str], env: dict[str, str] | None = None, cwd: str | None = None, umask: int | None = None
) -> Reply:
    """Run ``ovn-inject ARGV`` here as the caller's process would, output captured."""
    from ovn_inject import cli

    segments: list[list[Any]] = []
    caller = dict(os.environ) if env is None else env
    try:
        with _as_caller(argv, caller, cwd or os.getcwd(), umask, segments):
            try:
                cli.main.main(args=list(argv), prog_name=PROGRAM, standalone_mode=True)
                status = 0
            except SystemExit as exc:
                status = _status(exc.code)
            except (cli.RunLocally, NeedsStdin):
                return Reply(None, [])
            except Exception:
                traceback.print_exc()  # into the caller's stderr, as the command alone would print it
                status = 1
    except _Elsewhere as exc:
        LOG.info("%s runs in the client: %s", argv[:1], exc)
        return Reply(None, [])
    return Reply(status, segments)


def _status(code: Any) -> int:
    """The exit status ``sys.exit(code)`` gives (a message is printed on stderr, status 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def _run_json(args: list[str]) -> str:
    """The thin client's request: {argv, env, cwd, umask} in; {status, output} or {local} out."""
    try:
        request = json.loads(args[0])
        argv = [str(a) for a in request["argv"]]
        env = {str(k): str(v) for k, v in request["env"].items()}
        cwd = str(request["cwd"])
        umask = int(request["umask"]) if "umask" in request else None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise OvnInjectError(f"{RUN_JSON}: a bad request ({exc})") from None
    try:
        reply = execute(argv, env, cwd, umask)
        LOG.debug("%s: status %s", argv[:1], "local" if reply.status is None else reply.status)
        return reply.to_json()
    except Exception as exc:  # the daemon answers the next caller all the same
        LOG.exception("%s failed in the daemon", argv[:1])
        raise OvnInjectError(f"the daemon failed to run it: {exc}") from None


def _run(args: list[str]) -> str:
    """``ovn-appctl -t SOCKET run COMMAND ...``: the output, or the error output as the reply's error."""
    try:
        reply = execute(args)
    except Exception as exc:
        LOG.exception("%s failed in the daemon", args[:1])
        raise OvnInjectError(f"the daemon failed to run it: {exc}") from None
    if reply.status is None:
        raise OvnInjectError(f"'{' '.join(args)}' does not run in the daemon: run it without it\n")
    if reply.status != 0:
        raise OvnInjectError(reply.text(2) or reply.text(1) or f"exit status {reply.status}")
    return reply.text()


def _warm() -> None:
    """Load what the commands that run here import, and the commands themselves."""
    import importlib

    from ovn_inject import cli
    from ovn_inject.cli.table import COMMANDS, ONE_SHOT

    for module in _WARM:
        importlib.import_module(module)
    for found in COMMANDS:
        if found.section in ONE_SHOT:
            cli.load(found)


def serve(
    *, pidfile: Path | None, log_file: Path | None, unixctl: Path | None, verbose: Sequence[str]
) -> None:
    """Detach, print the control socket's path once it listens, and run commands until told to stop."""
    import ovs.poller

    from ovn_inject import cli, daemonize, ovs_json
    from ovn_inject.unixctl import Control

    stopping = False

    def stop() -> None:
        nonlocal stopping
        stopping = True

    with daemonize.daemonized(pidfile=pidfile, log_file=log_file, detach=True, verbose=verbose) as ready:
        # Before anything that opens a unix socket: ovs.fatal_signal then leaves our handlers alone.
        wakeup = daemonize.signal_pipe(stop)
        ovs_json.install()
        _warm()
        cli.serving(True)
        control = Control(unixctl, PROGRAM, on_exit=stop)
        if control.server is None:
            raise daemonize.DaemonError(
                "no control socket for the clients: give --unixctl PATH, or make $OVN_RUNDIR writable"
            )
        # Each command runs in its caller's directory, and returns to one that cannot go away.
        os.chdir("/")
        control.command("run", "[OPTIONS] COMMAND [ARG...]", 0, 1 << 16, _run)
        control.command(RUN_JSON, "REQUEST", 1, 1, _run_json)
        ready(str(control.path))
        try:
            while not stopping:
                control.run()
                if stopping:
                    break
                poller = ovs.poller.Poller()
                control.wait(poller)
                poller.fd_wait(wakeup, ovs.poller.POLLIN)
                poller.block()
                with contextlib.suppress(OSError):
                    os.read(wakeup, 64)
        finally:
            control.close()
