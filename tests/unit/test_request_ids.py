"""Request ids (gateway/observe.py): unique, uuid-shaped, and a forked worker draws its own prefix."""

from __future__ import annotations

import re
import subprocess
import sys

from ovn_inject.gateway.observe import RequestIds


def test_ids_are_32_hex_digits_and_never_repeat() -> None:
    ids = RequestIds()
    seen = [ids.next() for _ in range(10_000)]
    assert len(set(seen)) == len(seen)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in seen)
    assert RequestIds().next()[:16] != seen[0][:16]  # another process's (or a restart's) prefix


#: In a process of its own: forking pytest's (threads of other tests in it) draws a warning.
FORKS = """
import os
from ovn_inject.gateway.observe import REQUEST_IDS
parent = REQUEST_IDS.next()
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, REQUEST_IDS.next().encode())
    os._exit(0)
os.close(write)
child = os.read(read, 64).decode()
os.waitpid(pid, 0)
print(parent, child, REQUEST_IDS.next())
"""


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    done = subprocess.run([sys.executable, "-c", FORKS], capture_output=True, text=True, check=True)
    parent, child, parent_again = done.stdout.split()
    assert len(child) == 32 and child[:16] != parent[:16]
    assert parent_again[:16] == parent[:16]
