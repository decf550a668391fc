"""SB rows sent while a pass still computes (northd.sbstream.Stream), against a real SB.

A pass that only adds rows sends them in batches as the contract decides
them, several transactions in flight at once; a batch that fails stops the
stream, leaves SB as far as the batches that committed, and the next diff
writes the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import pytest

from ovn_inject.constants import OWNER_KEY, OWNER_VALUE
from ovn_inject.core.compiler import LogicalFlow
from ovn_inject.core.diff import diff
from ovn_inject.db.rpc import Rpc
from ovn_inject.northd import sbstream, sbwriter
from ovn_inject.northd.connection import Idls, open_idls
from ovn_inject.sandbox import Sandbox
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

#: No compiler daemon: the test holds the SB lock itself.
SANDBOX_OPTIONS = {"inject": False, "chassis": 1}
MARK = ("ovn-inject-test", "stream")


class Bound(NamedTuple):
    """The test's IDLs (it holds the SB lock) and the SB datapath of the demo's ls-a."""

    idls: Idls
    datapath: str


@pytest.fixture
def bound(demo: Sandbox) -> Iterator[Bound]:
    opened = open_idls(demo.nb_remote, demo.sb_remote, demo.inject_remote)
    switch = demo.nbctl("get", "Logical_Switch", "ls-a", "_uuid").strip()
    try:
        wait_until(
            lambda: _run(opened) and opened.sb.has_lock and _datapath(opened, switch),
            "the test holds the SB lock and northd bound the demo's ls-a",
        )
        yield Bound(opened, _datapath(opened, switch) or "")
    finally:
        for idl in opened.all():
            idl.close()
        with Rpc(demo.sb_remote, 30, "SB") as rpc:
            rpc.request("transact", ["OVN_Southbound", _delete_marked()])


def _run(idls: Idls) -> bool:
    for idl in idls.all():
        idl.run()
    return True


def _delete_marked() -> dict[str, object]:
    return {
        "op": "delete",
        "table": "Logical_Flow",
        "where": [["external_ids", "includes", ["map", [list(MARK)]]]],
    }


def _datapath(idls: Idls, switch: str) -> str | None:
    for key, row in idls.sb.tables["Datapath_Binding"].rows.items():
        if row.external_ids.get("logical-switch") == switch:
            return str(key)
    return None


def _rows(bound: Bound, count: int) -> list[LogicalFlow]:
    """Rows of ours that match nothing, on the demo's ls-a."""
    datapath = bound.datapath
    ids = ((OWNER_KEY, OWNER_VALUE), MARK)
    return [LogicalFlow(datapath, "ingress", 0, 1 + n, "0", "next;", ids) for n in range(count)]


def _in_sb(idls: Idls) -> set[str]:
    return {str(key) for key in idls.sb.tables["Logical_Flow"].rows}


def test_batches_go_while_the_pass_goes_on_and_the_rest_goes_last(bound: Bound) -> None:
    idls = bound.idls
    rows = _rows(bound, 7)
    stream = sbstream.stream_for(idls.sb, {row.uuid: row for row in rows})
    assert stream is not None
    stream._batch = 3
    for group in (rows[0:2], rows[2:3], rows[3:5], rows[5:6]):
        stream.add(group)
    assert len(stream._sent) == 2 and stream._count == 0  # two batches in flight
    stream.add(rows[6:7])
    assert stream.finish() is None  # the last row goes as a batch of its own
    assert (stream.inserted, stream.deleted) == (7, 0)
    assert _in_sb(idls) == {str(row.uuid) for row in rows}  # the replies came after their echo


def test_the_rest_goes_with_the_deletions_of_rows_no_longer_wanted(bound: Bound) -> None:
    idls = bound.idls
    rows = _rows(bound, 4)
    assert sbwriter.apply(idls.sb, diff({rows[0].uuid: rows[0]}, set()))[1] is None
    stream = sbstream.stream_for(idls.sb, {row.uuid: row for row in rows})
    assert stream is not None
    stream._batch = 2
    stream.add(rows[1:4])  # sent
    assert stream.finish([rows[0].uuid]) is None  # e.g. refused by the contract this time
    assert (stream.inserted, stream.deleted) == (3, 1)
    assert _in_sb(idls) == {str(row.uuid) for row in rows[1:]}


def test_a_failed_batch_stops_the_stream_and_the_next_diff_repairs(demo: Sandbox, bound: Bound) -> None:
    idls = bound.idls
    rows = _rows(bound, 7)
    wanted = {row.uuid: row for row in rows}
    stream = sbstream.stream_for(idls.sb, wanted)
    assert stream is not None
    stream._batch = 3
    stream.add(rows[0:3])  # sent
    stream.add(rows[3:5])
    # Another writer takes one of the next batch's uuids: that batch fails whole.
    with Rpc(demo.sb_remote, 30, "SB") as rpc:
        rpc.request("transact", ["OVN_Southbound", sbwriter.insert_op(rows[4])])
    stream.add(rows[5:6])  # sent, fails
    stream.add(rows[6:7])
    error = stream.finish()  # the rest goes before the failure is known, and commits
    assert stream.inserted == 4 and error is not None and "duplicate" in error
    wait_until(lambda: _run(idls) and str(rows[4].uuid) in _in_sb(idls), "the other writer's row is seen")
    assert _in_sb(idls) == {str(rows[n].uuid) for n in (0, 1, 2, 4, 6)}
    assert sbwriter.apply(idls.sb, diff(wanted, set(idls.sb.tables["Logical_Flow"].rows)))[1] is None
    assert _in_sb(idls) == {str(row.uuid) for row in rows}


def test_nothing_more_is_sent_once_a_batch_is_known_to_have_failed(demo: Sandbox, bound: Bound) -> None:
    idls = bound.idls
    rows = _rows(bound, 3)
    stream = sbstream.stream_for(idls.sb, {row.uuid: row for row in rows})
    assert stream is not None
    stream._batch = 1
    with Rpc(demo.sb_remote, 30, "SB") as rpc:
        rpc.request("transact", ["OVN_Southbound", sbwriter.insert_op(rows[0])])
    stream.add(rows[0:1])  # fails: the other writer has it

    def failed() -> bool:
        idls.sb.run()
        stream._check()
        return stream.error is not None

    wait_until(failed, "the stream knows its batch failed")
    stream.add(rows[1:2])
    assert stream.finish() is not None
    assert len(stream._sent) == 1 and stream.inserted == 0
    wait_until(lambda: _run(idls) and str(rows[0].uuid) in _in_sb(idls), "the other writer's row is seen")
    assert _in_sb(idls) == {str(rows[0].uuid)}


def test_no_stream_when_a_row_sb_holds_is_no_longer_wanted(bound: Bound) -> None:
    idls = bound.idls
    rows = _rows(bound, 2)
    assert sbwriter.apply(idls.sb, diff({rows[0].uuid: rows[0]}, set()))[1] is None
    assert sbstream.stream_for(idls.sb, {rows[1].uuid: rows[1]}) is None  # rows[0] would be deleted
    assert sbstream.stream_for(idls.sb, {row.uuid: row for row in rows}) is not None


def test_batches_wait_while_the_connection_holds_unsent_requests(
    bound: Bound, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is added to a connection that has not written what it holds; the rest goes at the end."""
    idls = bound.idls
    rows = _rows(bound, 3000)
    stream = sbstream.stream_for(idls.sb, {row.uuid: row for row in rows})
    assert stream is not None
    stream._batch = 500
    session = idls.sb._session
    written = session.get_backlog
    monkeypatch.setattr(session, "get_backlog", lambda: sbstream.BACKLOG)  # as when the server lags
    for start in range(0, len(rows), 10):
        stream.add(rows[start : start + 10])
    assert stream._count == 3000 and not stream._sent
    monkeypatch.setattr(session, "get_backlog", written)
    monkeypatch.setattr(sbstream, "BACKLOG", 1)  # and at the end, each batch once the last is written
    assert stream.finish() is None
    assert len(stream._sent) == 6 and (stream.inserted, stream.deleted) == (3000, 0)
    assert _in_sb(idls) == {str(row.uuid) for row in rows}
