"""Whatever bytes a peer sends, a session answers or closes; it never raises (no socket, no database)."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from os_ken.ofproto import ofproto_v1_3 as ofp

from ovn_inject.core.validate import AttachmentView, ServiceView
from ovn_inject.ofswitch import table, wire
from ovn_inject.ofswitch.session import Session, table_features


class FakeSwitch:
    name = "svc"
    datapath_id = 1

    def view(self) -> ServiceView:
        attachment = AttachmentView("a" * 32, "ls", "ls-a", "ls-in-port")
        return ServiceView("svc", "t", None, (attachment,), 0, {"a" * 32: frozenset({"vm1", "vm2"})})

    def ports(self) -> dict[str, int]:
        return {"vm1": 1, "vm2": 2}

    def flows(self) -> list[table.StoredFlow]:
        return [table.StoredFlow("x", 1, 0, "1", "drop;")]


def _session() -> Session:
    session = Session(FakeSwitch())
    assert session.receive(wire.hello()).close is False
    return session


@settings(max_examples=400, deadline=None)
@given(kind=st.integers(0, 40), body=st.binary(max_size=300), version=st.sampled_from([1, 4, 4, 4, 6]))
def test_any_message_gets_an_answer_or_nothing(kind: int, body: bytes, version: int) -> None:
    raw = struct.pack("!BBHI", version, kind, 8 + len(body), 7) + body
    step = _session().receive(raw)
    for reply in step.replies:
        assert wire.parse_header(reply).length == len(reply)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=2000))
def test_a_byte_stream_frames_or_fails_cleanly(data: bytes) -> None:
    session, framer = _session(), wire.Framer()
    try:
        for raw in framer.feed(data):
            session.receive(raw)
    except wire.FramingError:
        pass


def test_hello_without_1_3_is_refused_and_closes() -> None:
    step = Session(FakeSwitch()).receive(struct.pack("!BBHI", 1, ofp.OFPT_HELLO, 8, 1))
    assert step.close and step.replies[0][1] == ofp.OFPT_ERROR


def test_table_features_has_the_eight_required_properties() -> None:
    data = table_features()
    offset, kinds = ofp.OFP_TABLE_FEATURES_SIZE, []
    while offset < len(data):
        kind, length = struct.unpack_from("!HH", data, offset)
        kinds.append(kind)
        offset += (length + 7) // 8 * 8
    assert kinds == [0, 2, 4, 6, 8, 10, 12, 14]
