"""OpenFlow 1.3 on the wire, as a switch speaks it: framing and the replies os-ken cannot pack.

os-ken (the maintained Ryu) parses what a controller sends (FLOW_MOD with its
OXM match and instructions) and is used for that. It is written for the
controller side, though: it has no parser for FEATURES_REQUEST, BARRIER or
multipart *requests*, and cannot serialise FEATURES_REPLY or multipart
*replies*. Those are packed here with :mod:`struct` and os-ken's own format
strings, so that every layout comes from one maintained description of the
protocol. Everything here is pure (bytes in, bytes out).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from os_ken.ofproto import ofproto_v1_3 as ofp

from ovn_inject.errors import OvnInjectError

VERSION = ofp.OFP_VERSION
HEADER = struct.Struct(ofp.OFP_HEADER_PACK_STR)
HEADER_SIZE = HEADER.size
#: A multipart reply body may grow to this before it is split (the length field is 16 bits).
MULTIPART_BODY_MAX = 0xFFFF - 64
#: The most of an offending message an ERROR carries back (OpenFlow asks for at least 64 bytes).
ERROR_DATA_MAX = 0xFFFF - 12


class FramingError(OvnInjectError):
    """The byte stream cannot be cut into messages any more: the connection must close."""


@dataclass(frozen=True)
class Header:
    version: int
    type: int
    length: int
    xid: int


def parse_header(data: bytes) -> Header:
    return Header(*HEADER.unpack_from(data))


class Framer:
    """Cuts a TCP byte stream into whole OpenFlow messages (each starts with its 8-byte header)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._buffer += data
        while len(self._buffer) >= HEADER_SIZE:
            header = parse_header(bytes(self._buffer[:HEADER_SIZE]))
            if header.length < HEADER_SIZE:
                raise FramingError(f"message length {header.length} is shorter than its header")
            if len(self._buffer) < header.length:
                return
            message = bytes(self._buffer[: header.length])
            del self._buffer[: header.length]
            yield message

    @property
    def pending(self) -> int:
        return len(self._buffer)


def message(msg_type: int, xid: int, body: bytes = b"", version: int = VERSION) -> bytes:
    return HEADER.pack(version, msg_type, HEADER_SIZE + len(body), xid) + body


def pad8(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 8)


# ---- symmetric messages ----------------------------------------------------------------------


def hello(xid: int = 0) -> bytes:
    """HELLO with a version bitmap that offers 1.3 only."""
    bitmap = struct.pack("!HHI", ofp.OFPHET_VERSIONBITMAP, 8, 1 << VERSION)
    return message(ofp.OFPT_HELLO, xid, bitmap)


def hello_versions(data: bytes) -> set[int] | None:
    """The versions a peer's HELLO offers through its bitmap; None if it sent none."""
    offset = HEADER_SIZE
    while offset + 4 <= len(data):
        kind, length = struct.unpack_from("!HH", data, offset)
        if length < 4 or offset + length > len(data):
            return None
        if kind == ofp.OFPHET_VERSIONBITMAP:
            versions = set()
            for word_index in range((length - 4) // 4):
                (word,) = struct.unpack_from("!I", data, offset + 4 + 4 * word_index)
                versions |= {32 * word_index + bit for bit in range(32) if word >> bit & 1}
            return versions
        offset += (length + 7) // 8 * 8
    return None


def error(xid: int, kind: int, code: int, data: bytes, version: int = VERSION) -> bytes:
    body = struct.pack("!HH", kind, code) + data[:ERROR_DATA_MAX]
    return message(ofp.OFPT_ERROR, xid, body, version)


def echo_reply(request: bytes) -> bytes:
    header = parse_header(request)
    return message(ofp.OFPT_ECHO_REPLY, header.xid, request[HEADER_SIZE:])


# ---- switch -> controller -----------------------------------------------------------------


CAPABILITIES = ofp.OFPC_FLOW_STATS | ofp.OFPC_TABLE_STATS | ofp.OFPC_PORT_STATS


def features_reply(xid: int, datapath_id: int) -> bytes:
    body = struct.pack("!QIBB2xII", datapath_id, 0, 1, 0, CAPABILITIES, 0)
    return message(ofp.OFPT_FEATURES_REPLY, xid, body)


def config_reply(xid: int, flags: int, miss_send_len: int) -> bytes:
    return message(ofp.OFPT_GET_CONFIG_REPLY, xid, struct.pack("!HH", flags, miss_send_len))


def role_reply(xid: int, role: int, generation_id: int) -> bytes:
    return message(ofp.OFPT_ROLE_REPLY, xid, struct.pack(ofp.OFP_ROLE_REQUEST_PACK_STR, role, generation_id))


def barrier_reply(xid: int) -> bytes:
    return message(ofp.OFPT_BARRIER_REPLY, xid)


def flow_removed(
    cookie: int,
    priority: int,
    reason: int,
    duration: float,
    idle_timeout: int,
    hard_timeout: int,
    match: bytes,
) -> bytes:
    seconds = max(0, int(duration))
    nanoseconds = max(0, int((duration - seconds) * 1e9)) % 1_000_000_000
    fixed = struct.pack(
        "!QHBBIIHHQQ", cookie, priority, reason, 0, seconds, nanoseconds, idle_timeout, hard_timeout, 0, 0
    )
    return message(ofp.OFPT_FLOW_REMOVED, 0, fixed + match)


def multipart_replies(xid: int, kind: int, items: Iterable[bytes]) -> list[bytes]:
    """One or more replies (OFPMPF_REPLY_MORE on all but the last) whose bodies hold ``items``."""
    bodies: list[bytes] = []
    current = b""
    for item in items:
        if current and len(current) + len(item) > MULTIPART_BODY_MAX:
            bodies.append(current)
            current = b""
        current += item
    bodies.append(current)
    out = []
    for index, body in enumerate(bodies):
        flags = ofp.OFPMPF_REPLY_MORE if index < len(bodies) - 1 else 0
        out.append(message(ofp.OFPT_MULTIPART_REPLY, xid, struct.pack("!HH4x", kind, flags) + body))
    return out


def _text(value: str, size: int) -> bytes:
    return value.encode("utf-8", "replace")[: size - 1].ljust(size, b"\0")


def desc(manufacturer: str, hardware: str, software: str, serial: str, datapath: str) -> bytes:
    return struct.pack(
        ofp.OFP_DESC_PACK_STR,
        _text(manufacturer, 256),
        _text(hardware, 256),
        _text(software, 256),
        _text(serial, 32),
        _text(datapath, 256),
    )


#: What every port advertises: a 10 Gb/s full-duplex copper port (an unknown speed confuses nobody less).
PORT_FEATURES = ofp.OFPPF_10GB_FD | ofp.OFPPF_COPPER
PORT_SPEED_KBPS = 10_000_000


def port(number: int, name: str, mac: bytes) -> bytes:
    return struct.pack(
        ofp.OFP_PORT_PACK_STR,
        number,
        mac,
        _text(name, ofp.OFP_MAX_PORT_NAME_LEN),
        0,
        ofp.OFPPS_LIVE,
        PORT_FEATURES,
        PORT_FEATURES,
        PORT_FEATURES,
        0,
        PORT_SPEED_KBPS,
        PORT_SPEED_KBPS,
    )


def port_stats(number: int, duration: float) -> bytes:
    seconds = int(duration)
    return struct.pack(ofp.OFP_PORT_STATS_PACK_STR, number, *([0] * 12), seconds, 0)


def table_stats(active: int) -> bytes:
    return struct.pack(ofp.OFP_TABLE_STATS_PACK_STR, 0, active, 0, 0)


def aggregate_stats(flow_count: int) -> bytes:
    return struct.pack(ofp.OFP_AGGREGATE_STATS_REPLY_PACK_STR, 0, 0, flow_count)


def flow_stats(
    duration: float,
    priority: int,
    idle_timeout: int,
    hard_timeout: int,
    flags: int,
    cookie: int,
    match: bytes,
    instructions: bytes,
) -> bytes:
    seconds = max(0, int(duration))
    nanoseconds = max(0, int((duration - seconds) * 1e9)) % 1_000_000_000
    length = ofp.OFP_FLOW_STATS_0_SIZE + len(match) + len(instructions)
    fixed = struct.pack(
        ofp.OFP_FLOW_STATS_0_PACK_STR,
        length,
        0,
        seconds,
        nanoseconds,
        priority,
        idle_timeout,
        hard_timeout,
        flags,
        cookie,
        0,
        0,
    )
    return fixed + match + instructions


# ---- table features -------------------------------------------------------------------------


def oxm_header(field: int, length: int, masked: bool = False) -> int:
    return (
        (ofp.OFPXMC_OPENFLOW_BASIC << 16)
        | (field << 9)
        | (int(masked) << 8)
        | (length * (2 if masked else 1))
    )


def _property(kind: int, payload: bytes) -> bytes:
    return pad8(struct.pack("!HH", kind, 4 + len(payload)) + payload)


def table_features(
    name: str,
    max_entries: int,
    instructions: Sequence[int],
    next_tables: Sequence[int],
    actions: Sequence[int],
    match: Sequence[int],
    wildcards: Sequence[int],
    setfields: Sequence[int],
) -> bytes:
    """One ofp_table_features for table 0 with the eight properties OpenFlow 1.3 requires."""
    instruction_ids = b"".join(struct.pack("!HH", i, 4) for i in instructions)
    action_ids = b"".join(struct.pack("!HH", a, 4) for a in actions)
    properties = b"".join(
        [
            _property(ofp.OFPTFPT_INSTRUCTIONS, instruction_ids),
            _property(ofp.OFPTFPT_NEXT_TABLES, bytes(next_tables)),
            _property(ofp.OFPTFPT_WRITE_ACTIONS, b""),
            _property(ofp.OFPTFPT_APPLY_ACTIONS, action_ids),
            _property(ofp.OFPTFPT_MATCH, b"".join(struct.pack("!I", h) for h in match)),
            _property(ofp.OFPTFPT_WILDCARDS, b"".join(struct.pack("!I", h) for h in wildcards)),
            _property(ofp.OFPTFPT_WRITE_SETFIELD, b""),
            _property(ofp.OFPTFPT_APPLY_SETFIELD, b"".join(struct.pack("!I", h) for h in setfields)),
        ]
    )
    fixed = struct.pack(
        ofp.OFP_TABLE_FEATURES_PACK_STR,
        ofp.OFP_TABLE_FEATURES_SIZE + len(properties),
        0,
        _text(name, ofp.OFP_MAX_TABLE_NAME_LEN),
        0,
        0,
        0,
        max_entries,
    )
    return fixed + properties
