"""Starting, querying and stopping the OVN/OVS daemons of a sandbox.

Every daemon is started with ``--detach --pidfile --log-file`` so that its
parent returns only once it is ready (ovsdb-server is listening, vswitchd has
read its database); teardown signals exactly the pids we recorded.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from ovn_inject.errors import CommandFailedError, MissingBinaryError, SandboxError

COMMAND_TIMEOUT = 30.0
SCHEMA_DIRS = (
    Path("/usr/share/openvswitch"),
    Path("/usr/share/ovn"),
    Path("/usr/local/share/ovn"),
    Path("/usr/local/share/openvswitch"),
)


def require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise MissingBinaryError(program)
    return path


def run(
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    timeout: float = COMMAND_TIMEOUT,
    check: bool = True,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one OVN/OVS command and return its result; raise with its stderr."""
    require(argv[0])
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(
            list(argv),
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
        )
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(f"'{' '.join(argv[:3])} ...' did not finish within {timeout:g} s") from exc
    if check and proc.returncode != 0:
        raise CommandFailedError(list(argv), proc.returncode, proc.stderr)
    return proc


class Starting(Protocol):
    """A daemon getting ready: :class:`Launched`, or one of several forked by ovn_inject.prefork."""

    name: str

    def wait(self, timeout: float = COMMAND_TIMEOUT) -> None: ...

    def abandon(self) -> None: ...


class Launched:
    """A daemon started with ``--detach`` whose parent has not returned yet: it is getting ready.

    Several of them get ready at once (each parent returns once its daemon
    is ready, the readiness condition), rather than one after the other.
    """

    def __init__(self, argv: Sequence[str], name: str) -> None:
        require(argv[0])
        self.name = name
        self.argv = list(argv)
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait(self, timeout: float = COMMAND_TIMEOUT) -> None:
        """Until its parent returned (the daemon is ready); raise with its stderr if it failed."""
        try:
            _, stderr = self._proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            self._proc.kill()
            self._proc.communicate()
            raise SandboxError(f"{self.name} was not ready within {timeout:g} s") from exc
        if self._proc.returncode != 0:
            raise CommandFailedError(self.argv, self._proc.returncode, stderr)

    def abandon(self) -> None:
        """Wait quietly for its parent (so that a daemon that did start has its pidfile for teardown)."""
        if self._proc.returncode is None:
            with contextlib.suppress(SandboxError, CommandFailedError):
                self.wait()


def start_daemon(argv: Sequence[str], rundir: Path, name: str, env: Mapping[str, str] | None = None) -> int:
    """Start one detached daemon whose pidfile is ``rundir/name.pid``; return its pid."""
    pidfile = rundir / f"{name}.pid"
    logfile = rundir / f"{name}.log"
    full = [
        *argv[:1],
        "-vconsole:off",
        "--detach",
        "--no-chdir",
        f"--pidfile={pidfile}",
        f"--log-file={logfile}",
        *argv[1:],
    ]
    run(full, env=env)
    pid = read_pid(pidfile)
    if pid is None:
        raise SandboxError(f"{name} started but wrote no pidfile {pidfile.name}; see {logfile}")
    return pid


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def is_alive(pid: int) -> bool:
    """True while any thread of ``pid`` runs (a process whose threads are all zombies counts as gone).

    A multi-threaded daemon's main thread turns zombie as soon as it exits,
    while its other threads (ovsdb-server's log fsync thread, say) may still be
    finishing: until the last one is gone the process keeps its files, and so
    its lock on the database. Restarting it on the same file before then fails.
    """
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    return any(_task_state(pid, task) not in ("Z", "X", "") for task in tasks)


def _task_state(pid: int, task: str) -> str:
    """One thread's state letter from /proc (R, S, D, Z, ...), or "" once it is gone."""
    try:
        with open(f"/proc/{pid}/task/{task}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def stop_pids(pids: Sequence[int], timeout: float = 5.0) -> list[int]:
    """SIGTERM the given pids, wait, SIGKILL stragglers; return those still alive."""
    alive = [pid for pid in pids if is_alive(pid)]
    for pid in alive:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [pid for pid in alive if is_alive(pid)]
    for pid in alive:
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [pid for pid in alive if is_alive(pid)]
    return alive


def kill(pid: int) -> None:
    """SIGKILL ``pid`` and wait until it is gone."""
    _signal(pid, signal.SIGKILL)
    wait_for(lambda: not is_alive(pid), 5.0, f"process {pid} to die")


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def wait_for(predicate: object, timeout: float, what: str, interval: float = 0.02) -> None:
    """Poll ``predicate()`` until it is true; raise SandboxError naming ``what``."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise SandboxError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


#: Where free_tcp_port looks first: below the kernel's usual ephemeral range (32768-60999).
PICKED_PORTS = (20000, 32000)


def free_tcp_port() -> int:
    """A loopback TCP port nobody listens on now (for daemons that cannot report theirs).

    Picked outside the kernel's ephemeral range where it can be: a port the
    kernel handed out (``bind`` to port 0) is one it may hand out again, as
    the local port of any outgoing connection, before the daemon binds it.
    """
    low, high = _ephemeral_range()
    first, last = PICKED_PORTS
    if last < low or first > high:  # the range is free of ephemeral ports here
        import random  # only here: the CLI imports this module

        for port in random.sample(range(first, last), 64):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def logged_port(logfile: Path, pattern: re.Pattern[str], name: str) -> int:
    """The port a daemon that binds port 0 logged last, by ``pattern`` (one group: the port)."""
    found = pattern.findall(logfile.read_text(errors="replace")) if logfile.exists() else []
    if not found:
        raise SandboxError(f"{name} did not log the port it listens on; see {logfile}")
    return int(found[-1])


def listening_port(logfile: Path, remote: str, timeout: float = 5.0, skip: int = 0) -> int:
    """The TCP port an ovsdb-server bound for ``ptcp:0:...``, read from its log (after ``skip`` bytes)."""
    marker = remote.split(":", 1)[1] + ": listening on port "
    found: list[int] = []

    def check() -> bool:
        try:
            text = logfile.read_bytes()[skip:].decode(errors="replace")
        except OSError:
            return False
        for line in text.splitlines():
            if marker in line:
                found.append(int(line.rsplit(marker, 1)[1].split()[0]))
                return True
        return False

    wait_for(check, timeout, f"{remote} to listen (see {logfile})")
    return found[0]


def find_schema(name: str) -> Path:
    for directory in SCHEMA_DIRS:
        path = directory / name
        if path.exists():
            return path
    raise SandboxError(f"schema {name} not found in {', '.join(map(str, SCHEMA_DIRS))}; run 'make deps'")
