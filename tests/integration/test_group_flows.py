"""A group commit of flow adds written as plain operations (db.flowtxn) against a real ovsdb-server.

Each test that can also runs the same group through python-ovs's rows (the
path of every other write, and of a group db.flowtxn does not suit): the
answers must be the same, word for word. A concurrent change is made between
the group's checks and its commit, from another connection, by running it
just before the transaction is sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ovn_inject.core import tokens
from ovn_inject.core.validate import ValidFlow
from ovn_inject.db import flowtxn
from ovn_inject.db.commands import now_ms
from ovn_inject.db.group import GroupCommit, _Write
from ovn_inject.db.impl_idl import InjectDbApiIdlImpl, connect
from ovn_inject.db.rows import FLOWS_VERSION, FlowIndex, committed_scalar
from ovn_inject.db.tokenguard import token_row
from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import topology as topologies
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

SANDBOX_OPTIONS = {"inject": False, "chassis": 1}
PATHS = ["operations", "rows"]


@pytest.fixture(scope="module")
def topo(sandbox: Sandbox) -> Sandbox:
    topologies.clear(sandbox)
    topologies.build(sandbox, topologies.DEMO)
    return sandbox


@dataclass
class Setup:
    api: InjectDbApiIdlImpl  # as the gateway has it: flow rows kept as JSON, a FlowIndex
    other: InjectDbApiIdlImpl  # a concurrent writer
    index: FlowIndex
    service: str  # its uuid
    attachment: str
    token: str  # public id
    group: GroupCommit


@pytest.fixture
def setup(topo: Sandbox, request: pytest.FixtureRequest) -> Iterator[Setup]:
    api = connect(topo.inject_remote, 30, lazy_flows=True)
    other = connect(topo.inject_remote, 30)
    group = GroupCommit(api)
    try:
        name = f"grp-{uuid.uuid4().hex[:8]}"
        other.commit(other.init())
        [service] = other.commit(other.service_add(name, "tenant-a", max_flows=6))
        [attachment] = other.commit(other.attach_add(name, "ls", "ls-a", "ls-in-port"))
        new = tokens.new_token()
        other.commit(other.token_add(name, new.public_id, new.secret_hash, now_ms()))
        index = FlowIndex()
        with api.ovsdb_connection.lock:
            index.install(api.ovsdb_connection.idl)
        shown = Setup(api, other, index, str(service.uuid), str(attachment.uuid), new.public_id, group)
        # The token itself: committed last, it may be missing from a replica that shows the service.
        services = api.tables["Service"].rows
        wait_for(api, lambda: token_row(api, new.public_id) is not None and service.uuid in services)
        yield shown
    finally:
        group.close()
        api.close()
        other.close()


def wait_for(api: InjectDbApiIdlImpl, ready: Callable[[], Any]) -> None:
    """Until the IDL shows what ``ready`` looks for (it runs under the IDL's lock)."""

    def check() -> bool:
        with api.ovsdb_connection.lock:
            return bool(ready())

    wait_until(check, "the IDL shows the service and its token")


def flow(n: int, attachment: str | None, priority: int = 100) -> ValidFlow:
    return ValidFlow(priority, f"ip4.src == 10.0.0.{n}", "drop;", n, attachment, 0, 1)


def add(setup: Setup, *flows: ValidFlow) -> Any:
    return setup.api.flow_add(setup.service, flows, setup.token, setup.index)


def commit(setup: Setup, path: str, *writes: tuple[Any, bool]) -> list[Any]:
    """Commit ``writes`` (command, wait) as one group; each one's Done or error."""
    group = [_Write(command, wait) for command, wait in writes]
    setup.group._commit(group)
    answers = []
    for write in group:
        error = write.future.exception(0)
        answers.append(error if error is not None else write.future.result(0))
    return answers


@pytest.fixture(params=PATHS)
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which way a group of flow adds is committed: db.flowtxn's operations, or python-ovs's rows."""
    if request.param == "rows":
        monkeypatch.setattr(flowtxn, "suits", lambda api, commands: False)
    else:
        assert flowtxn.AVAILABLE, "this python-ovs cannot keep a reply: db.flowtxn is never used"
    return str(request.param)


def before_sending(monkeypatch: pytest.MonkeyPatch, change: Callable[[], None], path: str) -> None:
    """Make ``change`` (from another connection) once, after the group's checks and before its commit."""
    done: list[bool] = []

    def once() -> None:
        if not done:
            done.append(True)
            change()

    if path == "operations":
        operations = flowtxn.FlowOps.operations

        def changed(self: flowtxn.FlowOps) -> list[dict[str, Any]]:
            once()
            return operations(self)

        monkeypatch.setattr(flowtxn.FlowOps, "operations", changed)
    else:
        import ovs.db.idl

        commit_block = ovs.db.idl.Transaction.commit_block

        def committing(self: Any) -> Any:
            once()
            return commit_block(self)

        monkeypatch.setattr(ovs.db.idl.Transaction, "commit_block", committing)


def words(answer: Any) -> str:
    return f"{type(answer).__name__}: {answer}" if isinstance(answer, BaseException) else "ok"


def stored(setup: Setup) -> list[tuple[int, str]]:
    with setup.api.ovsdb_connection.lock:
        service = setup.api.tables["Service"].rows[uuid.UUID(setup.service)]
        return sorted((int(f.priority), f.match) for f in service.flows)


def seqno(setup: Setup) -> int:
    return int(committed_scalar(setup.api.tables["Service"].rows[uuid.UUID(setup.service)], FLOWS_VERSION))


def test_each_write_of_a_group_gets_its_own_answer(setup: Setup, path: str) -> None:
    a = setup.attachment
    name = setup.api.tables["Service"].rows[uuid.UUID(setup.service)].name
    missing = "0" * 8 + a[8:]
    before = seqno(setup)
    answers = commit(
        setup,
        path,
        (add(setup, flow(1, a), flow(2, a)), False),
        (add(setup, flow(1, a)), False),  # a duplicate of the write before it in the group
        (add(setup, flow(3, None)), False),  # bound to no attachment: every one
        (add(setup, flow(4, a), flow(5, a), flow(6, a), flow(7, a)), False),  # over the quota of 6
        (add(setup, flow(8, a)), True),
        (add(setup, flow(9, missing)), False),  # no such attachment
    )
    assert [words(x) for x in answers] == [
        "ok",
        "DuplicateFlowError: a flow with priority 100 and match 'ip4.src == 10.0.0.1' already "
        "exists at this attachment; delete or replace it",
        "ok",
        f"QuotaExceededError: service '{name}' may have at most 6 flows (max_flows); this would make 7",
        "ok",
        f"RowNotFoundError: attachment {missing} of service '{name}' not found",
    ]
    # Answered once the replica shows the new rows, at the uuids returned, in order.
    rows = setup.api.tables["Service_Flow"].rows
    new = [*answers[0].result, *answers[2].result, *answers[4].result]
    assert [rows[u].match for u in new] == [f"ip4.src == 10.0.0.{n}" for n in (1, 2, 3, 8)]
    assert stored(setup) == [(100, f"ip4.src == 10.0.0.{n}") for n in (1, 2, 3, 8)]
    assert setup.index.holds(uuid.UUID(setup.service), (a, 100, "ip4.src == 10.0.0.8"))
    assert seqno(setup) == before + 1  # bumped once per transaction
    # Only the write that asked to wait has a cfg: the one this transaction set.
    assert [x.cfg for x in (answers[0], answers[2])] == [None, None]
    assert answers[4].cfg == setup.other.commit(setup.other.global_get())[0].cfg
    # The next group's checks see the rows this one wrote.
    [again] = commit(setup, path, (add(setup, flow(2, a)), False))
    assert "DuplicateFlowError" in words(again)


def test_a_token_revoked_before_the_commit_fails_the_write(
    setup: Setup, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before_sending(monkeypatch, lambda: setup.other.commit(setup.other.token_revoke(setup.token)), path)
    answers = commit(setup, path, (add(setup, flow(1, setup.attachment)), False))
    assert [words(x) for x in answers] == ["TokenError: token revoked"]
    assert stored(setup) == []


def test_a_token_expired_before_the_commit_fails_the_write(
    setup: Setup, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An expiry the server gave the token between the write's check and its commit stops the write
    in its transaction, as a revocation does."""

    def expire() -> None:
        row = setup.other.lookup("Token", setup.token)
        setup.other.db_set("Token", row.uuid, ("expires", now_ms() - 1)).execute(check_error=True)

    before_sending(monkeypatch, expire, path)
    answers = commit(setup, path, (add(setup, flow(1, setup.attachment)), False))
    assert [words(x) for x in answers] == [
        "TokenError: token expired; create a new one with 'ovn-inject token-create'"
    ]
    assert stored(setup) == []


def test_a_concurrent_writer_makes_the_group_check_again(
    setup: Setup, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = setup.attachment
    other = setup.other
    concurrent = [flow(1, a), flow(10, a), flow(11, a), flow(12, a)]
    before_sending(monkeypatch, lambda: other.commit(other.flow_add(setup.service, concurrent)), path)
    answers = commit(
        setup,
        path,
        (add(setup, flow(1, a)), False),  # written meanwhile by the other writer
        (add(setup, flow(2, a), flow(3, a), flow(4, a)), False),  # no longer within the quota
        (add(setup, flow(5, a)), True),
    )
    name = setup.api.tables["Service"].rows[uuid.UUID(setup.service)].name
    assert [words(x) for x in answers] == [
        "DuplicateFlowError: a flow with priority 100 and match 'ip4.src == 10.0.0.1' already "
        "exists at this attachment; delete or replace it",
        f"QuotaExceededError: service '{name}' may have at most 6 flows (max_flows); this would make 7",
        "ok",
    ]
    assert stored(setup) == sorted((100, f"ip4.src == 10.0.0.{n}") for n in (1, 10, 11, 12, 5))
    assert answers[2].cfg == other.commit(other.global_get())[0].cfg


def test_an_attachment_removed_before_the_commit_fails_the_write(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An attachment removed meanwhile: the flow would lose its (weak) reference and apply to every
    attachment; its wait makes the transaction check again instead."""
    assert flowtxn.AVAILABLE
    other = setup.other
    name = setup.api.tables["Service"].rows[uuid.UUID(setup.service)].name
    before_sending(monkeypatch, lambda: other.commit(other.attach_del(name, "ls", "ls-a")), "operations")
    answers = commit(setup, "operations", (add(setup, flow(1, setup.attachment)), False))
    assert [words(x) for x in answers] == [
        f"RowNotFoundError: attachment {setup.attachment} of service '{name}' not found"
    ]
    assert stored(setup) == []


def test_a_group_the_server_refuses_is_committed_write_by_write(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    operations = flowtxn.FlowOps.operations
    poisoned = "ip4.src == 10.0.0.2"

    def refused(self: flowtxn.FlowOps) -> list[dict[str, Any]]:
        ops = operations(self)
        if any(op.get("row", {}).get("match") == poisoned for op in ops):
            ops.append({"op": "insert", "table": "Service_Flow", "row": {"no_such_column": 1}})
        return ops

    monkeypatch.setattr(flowtxn.FlowOps, "operations", refused)
    a = setup.attachment
    answers = commit(
        setup,
        "operations",
        (add(setup, flow(1, a)), False),
        (add(setup, flow(2, a)), False),
        (add(setup, flow(3, a)), False),
    )
    assert [words(x).split(":")[0] for x in answers] == ["ok", "InjectDbError", "ok"]
    assert str(answers[1]).startswith("OVN_Inject refused the change: OVSDB Error: ")
    assert stored(setup) == [(100, "ip4.src == 10.0.0.1"), (100, "ip4.src == 10.0.0.3")]


def test_a_value_its_column_refuses_goes_through_python_ovs(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never sent unchecked: python-ovs's rows decide (as for every other write)."""
    through_rows: list[Any] = []
    commit_rows = setup.api.commit
    monkeypatch.setattr(setup.api, "commit", lambda *c: through_rows.append(c) or commit_rows(*c))
    commit_here = setup.api.commit_rows_here  # the group committed in the connection's thread (db.idlthread)
    monkeypatch.setattr(setup.api, "commit_rows_here", lambda c: through_rows.append(c) or commit_here(c))
    answers = commit(setup, "operations", (add(setup, flow(1, setup.attachment, priority=70_000)), False))
    assert len(through_rows) == 1
    assert [words(x) for x in answers] == ["ok"]
