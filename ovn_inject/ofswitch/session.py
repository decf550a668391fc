"""One OpenFlow connection to a service's switch, as a state machine over whole messages.

:meth:`Session.receive` takes one message and says what to do: replies to
send, a flow_mod to commit, a barrier to answer once the flow_mods before
it are committed, or that the connection must close. It reads the service
through a :class:`Switch` (memory only: the daemon's IDL copies) and does no
I/O itself, so every message of the protocol is testable without a socket.
Any message that cannot be understood is answered with an OpenFlow ERROR
that carries it back; only a broken HELLO closes the connection.
"""

from __future__ import annotations

import dataclasses
import logging
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from os_ken.ofproto import ofproto_parser
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto.ofproto_protocol import ProtocolDesc

from ovn_inject.core.hooks import APP_PRIORITY_MAX
from ovn_inject.core.validate import FlowRequest, FlowValidationError, ServiceView, validate_flow
from ovn_inject.ofswitch import oxm, table, wire
from ovn_inject.ofswitch.errors import OfError
from ovn_inject.ofswitch.identity import port_mac
from ovn_inject.ofswitch.translate import NEXT_TABLE, translate_instructions, translate_match

LOG = logging.getLogger("ovn_inject.ofswitch")
_DATAPATH = ProtocolDesc(ofp.OFP_VERSION)
FLOW_MOD_FIXED = struct.Struct("!QQBBHHHIIIH2x")  # after the header, up to the match
MISS_SEND_LEN = 128
SOFTWARE = "ovn-inject ofswitch"


class Switch(Protocol):
    """What a session reads of its service (the daemon answers from its IDL copies)."""

    name: str
    datapath_id: int

    def view(self) -> ServiceView: ...

    def ports(self) -> dict[str, int]: ...

    def flows(self) -> list[table.StoredFlow]: ...


@dataclass
class Step:
    replies: list[bytes] = field(default_factory=list)
    mod: table.FlowMod | None = None
    barrier: int | None = None  # xid of a BARRIER_REQUEST
    close: bool = False


def error_reply(raw: bytes, exc: OfError) -> bytes:
    xid = wire.parse_header(raw).xid if len(raw) >= wire.HEADER_SIZE else 0
    return wire.error(xid, exc.kind, exc.code, raw)


class Session:
    def __init__(self, switch: Switch, peer: str = "") -> None:
        self.switch = switch
        self.peer = peer
        self.negotiated = False
        self.role = ofp.OFPCR_ROLE_EQUAL
        self.generation_id = 0
        self.config = (0, MISS_SEND_LEN)
        self.started = time.monotonic()

    def greeting(self) -> bytes:
        return wire.hello()

    def receive(self, raw: bytes) -> Step:
        try:
            return self._receive(raw)
        except OfError as exc:
            LOG.info("%s: %s: refused: %s", self.switch.name, self.peer, exc.reason)
            return Step(replies=[error_reply(raw, exc)])
        except Exception as exc:  # a message no handler foresaw must not end the connection
            LOG.warning(
                "%s: %s: cannot handle a message: %s", self.switch.name, self.peer, exc, exc_info=True
            )
            return Step(
                replies=[error_reply(raw, OfError(ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_LEN, str(exc)))]
            )

    def _receive(self, raw: bytes) -> Step:
        header = wire.parse_header(raw)
        if not self.negotiated:
            return self._hello(raw, header)
        if header.version != ofp.OFP_VERSION:
            raise OfError(
                ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_VERSION, f"version {header.version} after 1.3"
            )
        kind, xid, body = header.type, header.xid, raw[wire.HEADER_SIZE :]
        if kind == ofp.OFPT_FLOW_MOD:
            return Step(mod=self.flow_mod(raw))
        if kind == ofp.OFPT_BARRIER_REQUEST:
            return Step(barrier=xid)
        if kind == ofp.OFPT_ECHO_REQUEST:
            return Step(replies=[wire.echo_reply(raw)])
        if kind in (ofp.OFPT_ECHO_REPLY, ofp.OFPT_HELLO):
            return Step()
        if kind == ofp.OFPT_ERROR:
            LOG.info("%s: %s: the controller sent an error: %s", self.switch.name, self.peer, body[:4].hex())
            return Step()
        if kind == ofp.OFPT_FEATURES_REQUEST:
            return Step(replies=[wire.features_reply(xid, self.switch.datapath_id)])
        if kind == ofp.OFPT_GET_CONFIG_REQUEST:
            return Step(replies=[wire.config_reply(xid, *self.config)])
        if kind == ofp.OFPT_SET_CONFIG:
            if len(body) != 4:
                raise OfError(ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_LEN, "SET_CONFIG of the wrong length")
            self.config = struct.unpack("!HH", body)
            return Step()
        if kind == ofp.OFPT_ROLE_REQUEST:
            return Step(replies=[self._role(xid, body)])
        if kind == ofp.OFPT_MULTIPART_REQUEST:
            return Step(replies=self._multipart(xid, body))
        if kind == ofp.OFPT_PACKET_OUT:
            raise OfError(ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_EPERM, "PACKET_OUT is not supported at a hook")
        if kind in (ofp.OFPT_GROUP_MOD, ofp.OFPT_METER_MOD, ofp.OFPT_PORT_MOD, ofp.OFPT_TABLE_MOD):
            raise OfError(ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_EPERM, f"message type {kind} is not supported")
        raise OfError(ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_TYPE, f"unknown message type {kind}")

    def _hello(self, raw: bytes, header: wire.Header) -> Step:
        if header.type != ofp.OFPT_HELLO:
            exc = OfError(ofp.OFPET_HELLO_FAILED, ofp.OFPHFC_INCOMPATIBLE, "expected HELLO first")
            return Step(replies=[error_reply(raw, exc)], close=True)
        versions = wire.hello_versions(raw)
        agreed = ofp.OFP_VERSION in versions if versions is not None else header.version >= ofp.OFP_VERSION
        if not agreed:
            text = b"ovn-inject's switches speak OpenFlow 1.3 (version 0x04) only"
            reply = wire.error(
                header.xid, ofp.OFPET_HELLO_FAILED, ofp.OFPHFC_INCOMPATIBLE, text, header.version
            )
            LOG.info("%s: %s: no common OpenFlow version; closing", self.switch.name, self.peer)
            return Step(replies=[reply], close=True)
        self.negotiated = True
        return Step()

    def _role(self, xid: int, body: bytes) -> bytes:
        if len(body) != 16:
            raise OfError(ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_LEN, "ROLE_REQUEST of the wrong length")
        role, generation = struct.unpack("!I4xQ", body)
        if role != ofp.OFPCR_ROLE_NOCHANGE:
            if role not in (ofp.OFPCR_ROLE_EQUAL, ofp.OFPCR_ROLE_MASTER, ofp.OFPCR_ROLE_SLAVE):
                raise OfError(ofp.OFPET_ROLE_REQUEST_FAILED, ofp.OFPRRFC_BAD_ROLE, f"role {role}")
            self.role, self.generation_id = role, generation
        return wire.role_reply(xid, self.role, self.generation_id)

    # ---- flow_mod ------------------------------------------------------------------------

    def flow_mod(self, raw: bytes) -> table.FlowMod:
        """Parse, translate and (for ADD) validate a flow_mod; raise OfError if refused."""
        if self.role == ofp.OFPCR_ROLE_SLAVE:
            raise OfError(ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_IS_SLAVE, "this connection is a slave")
        fixed_end = wire.HEADER_SIZE + FLOW_MOD_FIXED.size
        if len(raw) < fixed_end + 4:
            raise OfError(ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_LEN, "FLOW_MOD is truncated")
        (cookie, cookie_mask, table_id, command, idle, hard, priority, buffer_id, out_port, _, flags) = (
            FLOW_MOD_FIXED.unpack_from(raw, wire.HEADER_SIZE)
        )
        if command > table.DELETE_STRICT:
            raise OfError(ofp.OFPET_FLOW_MOD_FAILED, ofp.OFPFMFC_BAD_COMMAND, f"command {command}")
        deleting = command in (table.DELETE, table.DELETE_STRICT)
        if table_id != 0 and not (deleting and table_id == ofp.OFPTT_ALL):
            raise OfError(ofp.OFPET_FLOW_MOD_FAILED, ofp.OFPFMFC_BAD_TABLE_ID, f"table {table_id}: only 0")
        if priority > APP_PRIORITY_MAX and (command == table.ADD or command in table.STRICT):
            raise OfError(
                ofp.OFPET_FLOW_MOD_FAILED,
                ofp.OFPFMFC_EPERM,
                f"priority {priority}: a service's priorities are 0..{APP_PRIORITY_MAX}",
            )
        if command == table.ADD and buffer_id != ofp.OFP_NO_BUFFER:
            raise OfError(ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BUFFER_UNKNOWN, "there are no buffered packets")
        match, padded = oxm.parse_match(raw[fixed_end:])
        instructions_bytes = raw[fixed_end + padded :]
        mod = table.FlowMod(
            xid=wire.parse_header(raw).xid,
            raw=raw,
            command=command,
            cookie=cookie,
            cookie_mask=cookie_mask if command != table.ADD else 0,
            priority=priority,
            flags=flags,
            idle_timeout=idle,
            hard_timeout=hard,
            out_port=out_port,
            match=match,
            match_bytes=raw[fixed_end : fixed_end + padded],
            instructions=instructions_bytes,
        )
        if deleting:
            return mod
        ports = {number: name for name, number in self.switch.ports().items()}
        actions = translate_instructions(parse_instructions(raw), ports)
        view = self.switch.view()
        if command != table.ADD:
            return _with(mod, actions=actions.text, output=actions.output)
        request = FlowRequest(priority, translate_match(match, ports), actions.text, cookie, None, hard)
        try:
            valid = validate_flow(request, view)
        except FlowValidationError as exc:
            raise table.policy_error(exc) from None
        return _with(mod, actions=actions.text, output=actions.output, valid=valid)

    # ---- multipart -------------------------------------------------------------------------

    def _multipart(self, xid: int, body: bytes) -> list[bytes]:
        if len(body) < 8:
            raise OfError(ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_LEN, "MULTIPART_REQUEST is truncated")
        kind, _ = struct.unpack_from("!HH", body)
        request = body[8:]
        items: Sequence[bytes]
        if kind == ofp.OFPMP_DESC:
            name = self.switch.name
            items = [
                wire.desc("ovn-inject", "OVN hook", SOFTWARE, name, f"service {name}: table 0 is its hook")
            ]
        elif kind == ofp.OFPMP_FLOW:
            now = time.time()
            items = [
                wire.flow_stats(
                    now - f.created_ms / 1000,
                    f.priority,
                    f.idle_timeout,
                    f.hard_timeout,
                    f.flags,
                    f.cookie,
                    f.match_bytes,
                    f.instructions,
                )
                for f in self._selected(request)
            ]
        elif kind == ofp.OFPMP_AGGREGATE:
            items = [wire.aggregate_stats(len(self._selected(request)))]
        elif kind == ofp.OFPMP_TABLE:
            items = [wire.table_stats(len(self.switch.flows()))]
        elif kind == ofp.OFPMP_PORT_DESC:
            items = [wire.port(n, name, port_mac(n)) for name, n in sorted(self.switch.ports().items())]
        elif kind == ofp.OFPMP_PORT_STATS:
            if len(request) < 8:
                raise OfError(ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_LEN, "PORT_STATS request is truncated")
            (wanted,) = struct.unpack_from("!I", request)
            numbers = sorted(self.switch.ports().values())
            if wanted != ofp.OFPP_ANY:
                if wanted not in numbers:
                    raise OfError(ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_PORT, f"no port {wanted}")
                numbers = [wanted]
            items = [wire.port_stats(n, time.monotonic() - self.started) for n in numbers]
        elif kind == ofp.OFPMP_TABLE_FEATURES:
            if request:
                raise OfError(
                    ofp.OFPET_TABLE_FEATURES_FAILED, ofp.OFPTFFC_EPERM, "table features cannot be changed"
                )
            items = [table_features()]
        else:
            raise OfError(ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_MULTIPART, f"multipart type {kind}")
        return wire.multipart_replies(xid, kind, items)

    def _selected(self, request: bytes) -> list[table.StoredFlow]:
        """The flows a FLOW/AGGREGATE stats request names (table, out_port, cookie/mask, match)."""
        if len(request) < 32 + 4:
            raise OfError(ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_LEN, "flow stats request is truncated")
        table_id, out_port, _, cookie, cookie_mask = struct.unpack_from("!B3xII4xQQ", request)
        match, _ = oxm.parse_match(request[32:])
        if table_id not in (0, ofp.OFPTT_ALL):
            return []
        selector = table.FlowMod(0, b"", table.DELETE, cookie, cookie_mask, 0, 0, 0, 0, out_port, match, b"")
        flows = [f for f in self.switch.flows() if table.selects(selector, f)]
        flows.sort(key=lambda f: (-f.priority, f.id))
        return flows


def _with(mod: table.FlowMod, **changes: object) -> table.FlowMod:
    return dataclasses.replace(mod, **changes)  # type: ignore[arg-type]


def _check_tlvs(data: bytes, what: str, code: int, kind: int) -> list[tuple[int, int, int]]:
    """(type, offset, length) of each TLV, refusing lengths that would not advance or overrun."""
    found = []
    offset = 0
    while offset < len(data):
        if offset + 4 > len(data):
            raise OfError(kind, code, f"{what} header truncated")
        tlv_type, length = struct.unpack_from("!HH", data, offset)
        if length < 4 or length % 8 or offset + length > len(data):
            raise OfError(kind, code, f"{what} of length {length} at offset {offset}")
        found.append((tlv_type, offset, length))
        offset += length
    return found


def parse_instructions(raw: bytes) -> list[object]:
    """The flow_mod's instructions through os-ken, once their lengths are known to be sane.

    os-ken loops on each TLV's length; a zero length from a fuzzer would never end.
    """
    fixed_end = wire.HEADER_SIZE + FLOW_MOD_FIXED.size
    _, padded = oxm.parse_match(raw[fixed_end:])
    data = raw[fixed_end + padded :]
    for kind, offset, length in _check_tlvs(
        data, "instruction", ofp.OFPBIC_BAD_LEN, ofp.OFPET_BAD_INSTRUCTION
    ):
        if kind in (ofp.OFPIT_APPLY_ACTIONS, ofp.OFPIT_WRITE_ACTIONS):
            actions = data[offset + 8 : offset + length]
            _check_tlvs(actions, "action", ofp.OFPBAC_BAD_LEN, ofp.OFPET_BAD_ACTION)
        elif kind not in (ofp.OFPIT_GOTO_TABLE, ofp.OFPIT_CLEAR_ACTIONS):
            raise OfError(ofp.OFPET_BAD_INSTRUCTION, ofp.OFPBIC_UNSUP_INST, f"instruction type {kind}")
    header = wire.parse_header(raw)
    try:
        msg = ofproto_parser.msg(_DATAPATH, header.version, header.type, header.length, header.xid, raw)
    except Exception as exc:
        raise OfError(
            ofp.OFPET_BAD_ACTION, ofp.OFPBAC_BAD_TYPE, f"cannot parse the instructions: {exc}"
        ) from None
    return list(msg.instructions)


def table_features() -> bytes:
    fields = list(oxm.FIELDS.values())
    return wire.table_features(
        name="hook",
        max_entries=0xFFFFFFFF,
        instructions=[ofp.OFPIT_APPLY_ACTIONS, ofp.OFPIT_GOTO_TABLE],
        next_tables=[NEXT_TABLE],
        actions=[ofp.OFPAT_OUTPUT, ofp.OFPAT_SET_FIELD, ofp.OFPAT_DEC_NW_TTL],
        match=[wire.oxm_header(f.number, f.size, f.maskable) for f in fields],
        wildcards=[wire.oxm_header(f.number, f.size) for f in fields],
        setfields=[wire.oxm_header(f.number, f.size) for f in fields if f.settable],
    )
