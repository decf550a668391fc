"""A process counts as alive while any of its threads runs, not only its main thread."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from ovn_inject.sandbox import processes

# The main thread leaves with pthread_exit while a second thread holds a lock
# on a file, as ovsdb-server's log fsync thread may after its main thread exits.
ZOMBIE_LEADER = textwrap.dedent(
    """
    import ctypes, fcntl, sys, threading
    held = open(sys.argv[1], "w")
    fcntl.lockf(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    threading.Thread(target=lambda: sys.stdin.read()).start()
    print("locked", flush=True)
    ctypes.CDLL(None).pthread_exit(None)
    """
)


def _leader_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def _lock_is_free(path: Path) -> bool:
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import fcntl,sys; fcntl.lockf(open(sys.argv[1], 'w'), fcntl.LOCK_EX | fcntl.LOCK_NB)",
            str(path),
        ],
        capture_output=True,
    )
    return probe.returncode == 0


def test_a_zombie_main_thread_with_a_live_thread_is_alive(tmp_path: Path) -> None:
    lockfile = tmp_path / "db.~lock~"
    proc = subprocess.Popen(
        [sys.executable, "-c", ZOMBIE_LEADER, str(lockfile)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
        processes.wait_for(lambda: _leader_state(proc.pid) == "Z", 10.0, "the main thread to exit")
        assert not _lock_is_free(lockfile), "the live thread should still hold the process's lock"
        assert processes.is_alive(proc.pid), "a process with a running thread counts as alive"
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the last thread ends
        proc.wait(timeout=10)
    assert not processes.is_alive(proc.pid)
    assert _lock_is_free(lockfile)


def test_a_finished_or_unknown_pid_is_not_alive() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    processes.wait_for(
        lambda: not processes.is_alive(proc.pid), 10.0, "the child to exit"
    )  # zombie until reaped
    proc.wait(timeout=10)
    assert not processes.is_alive(proc.pid)
    assert not processes.is_alive(2**22 + 1)  # above pid_max's default
