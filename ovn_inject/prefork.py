"""Start several of ovn-inject's daemons from one interpreter that has imported what they share.

Most of a daemon's start-up is imports: click and the CLI, asyncio, python-ovs,
the IDL layer, the language. A sandbox starts four daemons at once, on machines
with few cores that OVN's own daemons use too, and each would import the same
modules again. Here one process imports them once (``python -m
ovn_inject.prefork PLAN``) and forks a child per daemon, which runs the
daemon's command as ``python -m ovn_inject ARGS`` would: the same click
command, with ``--detach``, so the child exits once its daemon is ready (or
with its error) and the daemon goes on detached, with its pidfile, log and
signal handling, exactly as when started on its own.

PLAN is JSON, a list of steps run in order: ``["import", [MODULE...]]``,
``["start", NAME, [ARG...]]``, or ``["wait"]``: until a line on stdin (the
caller's go, once what the daemons connect to is up: the imports meanwhile
are out of its way); at the end of stdin instead, the program starts no
more daemons. For each started daemon, once its child has
exited, the program prints one JSON line ``{"name", "status", "output"}``
(``output``: what the child printed, stdout and stderr), and it exits once
every child has. :class:`Prefork` runs the program and waits for each daemon
as :class:`~ovn_inject.sandbox.processes.Launched` waits for one.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ovn_inject.errors import CommandFailedError, SandboxError

#: ``["import", [MODULE...]]``, ``["start", NAME, [ARG...]]`` or ``["wait"]``, in order.
Plan = list[list[Any]]
#: Seconds a daemon has to get ready, as for one started on its own.
TIMEOUT = 30.0


# ---- the program: imports, then one forked child per daemon ---------------------------------


def main(argv: Sequence[str]) -> int:
    plan = json.loads(argv[0])
    # What the imports create lives as long as the daemons: no collections meanwhile, and
    # frozen before each fork (a collection in a child would otherwise touch, and copy, every
    # page of it). A daemon turns collections on once ready, as started on its own.
    gc.disable()
    # As for `python -m ovn_inject`: python-ovs takes the program's name from it on import.
    sys.argv[0] = str(Path(__file__).with_name("__main__.py"))
    children: dict[int, str] = {}
    selector = selectors.DefaultSelector()
    for step in plan:
        _report(selector, children, 0)  # a daemon ready by now (the gate) is waited for
        if step[0] == "import":
            for module in step[1]:
                importlib.import_module(module)
            continue
        if step[0] == "wait":
            if not sys.stdin.readline():
                break  # the caller gave up: no daemon to start
            continue
        _, name, args = step
        gc.freeze()
        read_end, write_end = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(args, write_end)  # never returns
        os.close(write_end)
        children[pid] = name
        selector.register(read_end, selectors.EVENT_READ, (pid, bytearray()))
    while children:
        _report(selector, children, None)
    return 0


def _report(selector: selectors.BaseSelector, children: dict[int, str], timeout: float | None) -> None:
    """Read the children's output; print the report of each that has exited."""
    for key, _ in selector.select(timeout):
        pid, output = key.data
        chunk = os.read(key.fd, 65536)
        if chunk:
            output += chunk
            continue
        selector.unregister(key.fd)
        os.close(key.fd)
        _, status = os.waitpid(pid, 0)
        report = {
            "name": children.pop(pid),
            "status": os.waitstatus_to_exitcode(status),
            "output": output.decode(errors="replace"),
        }
        sys.stdout.write(json.dumps(report) + "\n")
        sys.stdout.flush()


def _child(args: Sequence[str], output: int) -> None:
    """Run ``ovn-inject ARGS`` in this forked child, its stdout and stderr into ``output``; exit."""
    status = 1
    try:
        for fd in _open_fds():
            if fd > 2 and fd != output:
                with contextlib.suppress(OSError):
                    os.close(fd)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        sys.argv[1:] = list(args)
        from ovn_inject.launcher import main as launch

        try:
            launch(prog_name="ovn-inject")
            status = 0
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if exc.code is not None and not isinstance(exc.code, int):
                sys.stderr.write(f"{exc.code}\n")
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(status)


def _open_fds() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return list(range(3, 256))


# ---- the caller's side --------------------------------------------------------------------


class Prefork:
    """The program started on ``plan``: each daemon's result as it comes, raised as Launched raises."""

    def __init__(self, plan: Plan, argv_of: dict[str, list[str]]) -> None:
        self.argv = [sys.executable, "-m", __name__, json.dumps(plan)]
        # Its own process group: a timeout kills the program and the children still waiting.
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE if ["wait"] in plan else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            process_group=0,
        )
        self._argv_of = argv_of
        self._buffer = b""
        self._reports: dict[str, dict[str, object]] = {}
        self._ended = False

    def member(self, name: str) -> Member:
        return Member(self, name, self._argv_of[name])

    def go(self) -> None:
        """Past the plan's ``["wait"]``."""
        self._close_stdin(b"go\n")

    def cancel(self) -> None:
        """At a ``["wait"]`` not passed yet: start no more daemons."""
        self._close_stdin(b"")

    def _close_stdin(self, data: bytes) -> None:
        stdin, self._proc.stdin = self._proc.stdin, None
        if stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                stdin.write(data)
                stdin.close()

    def wait(self, name: str, timeout: float) -> None:
        """Until ``name``'s child has exited (its daemon is ready); raise with its output if it failed."""
        deadline = time.monotonic() + timeout
        while name not in self._reports and not self._ended:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                raise SandboxError(f"{name} was not ready within {timeout:g} s")
            self._read(remaining)
        report = self._reports.get(name)
        if report is None:
            assert self._proc.stderr is not None
            stderr = self._proc.stderr.read().decode(errors="replace")
            if self._proc.wait() == 0:
                raise SandboxError(f"{name} was not started")
            raise CommandFailedError(self.argv, self._proc.returncode, stderr)
        if len(self._reports) == len(self._argv_of) and not self._ended:
            self._proc.communicate()  # it exits once it has reported every daemon
            self._ended = True
        status = int(str(report["status"]))
        if status != 0:
            raise CommandFailedError(self._argv_of[name], status, str(report["output"]))

    def _read(self, timeout: float) -> None:
        assert self._proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._proc.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                return
        chunk = os.read(self._proc.stdout.fileno(), 65536)
        if not chunk:
            self._ended = True
            self._proc.wait()
            return
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            report = json.loads(line)
            self._reports[str(report["name"])] = report

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.communicate()
        self._ended = True


class Member:
    """One daemon of a :class:`Prefork`, waited for as a :class:`~ovn_inject.sandbox.processes.Launched`."""

    def __init__(self, group: Prefork, name: str, argv: list[str]) -> None:
        self.group = group
        self.name = name
        self.argv = argv

    def wait(self, timeout: float = TIMEOUT) -> None:
        self.group.wait(self.name, timeout)

    def abandon(self) -> None:
        """Wait quietly for it (so that a daemon that did start has its pidfile for teardown)."""
        self.group.cancel()
        with contextlib.suppress(SandboxError, CommandFailedError):
            self.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
