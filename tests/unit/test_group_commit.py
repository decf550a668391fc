"""The group committer answers every write and outlives any one of them.

A single committer thread serves every request of the gateway: if it died,
every later write would wait forever. These run it against a stand-in API
(the commit itself is covered against ovsdb-server by the integration tests).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
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


class HookConnection:
    """ovsdbapp's thread with a db.idlthread.HookedIdl: the hook after each wake-up."""

    def __init__(self) -> None:
        self.idl = self  # the hook's methods are the IDL's
        self.timeout = 30.0
        self.hook: Any = None
        self.woken = threading.Event()
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def set_hook(self, hook: Any) -> None:
        self.hook = hook

    def wake(self) -> None:
        self.woken.set()

    def consume_wake(self) -> None:
        self.woken.clear()

    def run(self) -> None:
        while self.running:
            self.woken.wait(0.1)
            if self.hook is not None:
                self.hook()

    def stop(self) -> None:
        self.running = False
        self.thread.join(TIMEOUT)


class HookApi(Api):
    """An API whose connection's thread commits the groups (GroupCommit then has no thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.ovsdb_connection = HookConnection()

    def commit_here(self, command: Any, flows: bool) -> None:
        assert threading.current_thread() is self.ovsdb_connection.thread
        self.commit(command)


class HookableIdlApi(Api):
    """An IDL that takes a hook, under an API that cannot commit in its thread: the committer
    thread commits, and the submitted writes must wake it, not the IDL."""

    def __init__(self) -> None:
        super().__init__()
        self.ovsdb_connection = HookConnection()


@pytest.fixture(params=["committer thread", "connection thread", "hookable IDL, committer thread"])
def api(request: pytest.FixtureRequest) -> Iterator[Api]:
    if request.param == "committer thread":
        yield Api()
        return
    hooked = HookApi() if request.param == "connection thread" else HookableIdlApi()
    yield hooked
    hooked.ovsdb_connection.stop()  # type: ignore[attr-defined]


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


def test_a_write_submitted_from_the_loop_is_answered_on_it(api: Api) -> None:
    api.hold.set()
    group = GroupCommit(api)

    async def main() -> list[Any]:
        writes = [group.submit_async(Write(f"w{n}")) for n in range(3)]
        refused = group.submit_async(Write("bad", refuse=True))
        with pytest.raises(OvnInjectError, match="bad refused"):
            await refused
        return [(await w).result for w in writes]

    try:
        assert asyncio.run(main()) == ["w0", "w1", "w2"]
    finally:
        group.close()


def test_a_write_given_up_on_the_loop_is_not_committed(api: Api) -> None:
    group = GroupCommit(api)

    async def main() -> None:
        first = group.submit_async(Write("first"))
        assert await asyncio.to_thread(api.holding.wait, TIMEOUT)
        gone, kept = group.submit_async(Write("gone")), group.submit_async(Write("kept"))
        gone.cancel()
        await asyncio.sleep(0)  # the cancellation reaches the write
        api.hold.set()
        assert (await first).result == "first"
        assert (await kept).result == "kept"

    try:
        asyncio.run(main())
        assert api.committed == ["first", "kept"]
    finally:
        group.close()


def test_a_commit_that_does_not_answer_in_time_fails_its_writes() -> None:
    """ovsdbapp's thread waits for the server without a timeout: the loop answers in its stead."""
    api = HookApi()
    api.ovsdb_connection.timeout = 0.2
    group = GroupCommit(api)

    async def main() -> None:
        stuck = group.submit_async(Write("stuck"))
        assert await asyncio.to_thread(api.holding.wait, TIMEOUT)
        behind = group.submit_async(Write("behind"))
        for answer in (stuck, behind):
            with pytest.raises(InjectDbError, match=r"did not answer within 0\.2 s"):
                await answer

    try:
        asyncio.run(main())
        api.hold.set()
    finally:
        group.close()
        api.ovsdb_connection.stop()
    assert api.committed == ["stuck"]  # the one in flight may still commit; the one behind it is not
