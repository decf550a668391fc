"""Request ids (gateway/observe.py): unique, uuid-shaped, and a forked worker draws its own prefix."""

from __future__ import annotations

import os
import re

from ovn_inject.gateway.observe import REQUEST_IDS, RequestIds


def test_ids_are_32_hex_digits_and_never_repeat() -> None:
    ids = RequestIds()
    seen = [ids.next() for _ in range(10_000)]
    assert len(set(seen)) == len(seen)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in seen)
    assert RequestIds().next()[:16] != seen[0][:16]  # another process's (or a restart's) prefix


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    parent = REQUEST_IDS.next()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, to the parent
        try:
            os.write(write, REQUEST_IDS.next().encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    assert len(child) == 32 and child[:16] != parent[:16]
    assert REQUEST_IDS.next()[:16] == parent[:16]
