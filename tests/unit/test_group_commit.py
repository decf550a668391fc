"""The group committer answers every write and outlives any one of them.

A single committer thread serves every request of the gateway: if it died,
every later write would wait forever. These run it against a stand-in API
(the commit itself is covered against ovsdb-server by the integration tests).
"""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError
from typing import Any

import pytest

from ovn_inject.db.errors import InjectDbError
from ovn_inject.db.group import GroupCommit
from ovn_inject.errors import OvnInjectError

TIMEOUT = 10.0


class Api:
    """Runs a group's command as ovsdbapp would; ``hold`` keeps the first commit waiting."""

    def __init__(self) -> None:
        self.committed: list[str] = []
        self.hold = threading.Event()
        self.holding = threading.Event()
        self.fail_groups_of = 0  # a commit of more writes than this fails as a whole

    def commit(self, command: Any) -> None:
        if not self.hold.is_set():
            self.holding.set()
            self.hold.wait(TIMEOUT)
        if self.fail_groups_of and len(command.writes) > self.fail_groups_of:
            raise InjectDbError("transaction failed")
        command.run_idl(None)
        command.post_commit(None)
        self.committed += [w.command.name for w in command.writes if w.error is None]


class Write:
    def __init__(self, name: str, refuse: bool = False, crash: bool = False) -> None:
        self.name, self.refuse, self.crash = name, refuse, crash
        self.result: Any = None
        self.staged: Any = None

    def run_idl(self, txn: Any) -> None:
        if self.refuse:
            raise OvnInjectError(f"{self.name} refused")

    def post_commit(self, txn: Any) -> None:
        if self.crash:
            raise ValueError("a bug in a command")
        self.result = self.name


@pytest.fixture
def api() -> Api:
    return Api()


def test_a_write_given_up_before_its_commit_is_not_committed(api: Api) -> None:
    group = GroupCommit(api)
    try:
        first = group.submit(Write("first"))
        assert api.holding.wait(TIMEOUT)  # the committer is busy with the first write
        gone, kept = group.submit(Write("gone")), group.submit(Write("kept"))
        assert gone.cancel()
        api.hold.set()
        assert first.result(TIMEOUT).result == "first"
        assert kept.result(TIMEOUT).result == "kept"
        with pytest.raises(CancelledError):
            gone.result(TIMEOUT)
        assert api.committed == ["first", "kept"]
    finally:
        group.close()


def test_a_committed_write_can_no_longer_be_cancelled(api: Api) -> None:
    group = GroupCommit(api)
    try:
        future = group.submit(Write("only"))
        assert api.holding.wait(TIMEOUT)
        assert not future.cancel()  # the committer has it: its answer will come
        api.hold.set()
        assert future.result(TIMEOUT).result == "only"
    finally:
        group.close()


def test_a_refused_write_fails_alone(api: Api) -> None:
    api.hold.set()
    group = GroupCommit(api)
    try:
        bad, good = group.submit(Write("bad", refuse=True)), group.submit(Write("good"))
        with pytest.raises(OvnInjectError, match="bad refused"):
            bad.result(TIMEOUT)
        assert good.result(TIMEOUT).result == "good"
    finally:
        group.close()


def test_a_failed_group_is_committed_write_by_write(api: Api) -> None:
    group = GroupCommit(api)
    try:
        first = group.submit(Write("first"))
        assert api.holding.wait(TIMEOUT)
        later = [group.submit(Write(f"w{n}")) for n in range(3)]
        api.fail_groups_of = 1
        api.hold.set()
        assert first.result(TIMEOUT).result == "first"
        assert [f.result(TIMEOUT).result for f in later] == ["w0", "w1", "w2"]
    finally:
        group.close()


def test_the_committer_survives_a_bug_in_a_command(api: Api) -> None:
    api.hold.set()
    group = GroupCommit(api)
    try:
        crashed = group.submit(Write("crash", crash=True))
        with pytest.raises(ValueError, match="a bug in a command"):
            crashed.result(TIMEOUT)
        assert group.submit(Write("after")).result(TIMEOUT).result == "after"
    finally:
        group.close()
