"""An OpenFlow 1.3 match and instructions -> OVN's logical-flow language (pure).

Every value is printed again from integers (addresses through
:mod:`ipaddress`), port numbers become the logical port names they stand
for, and nothing of the controller's bytes is pasted into a flow. The text
produced is then checked by the same validation and policy as any flow of
the HTTP API (:func:`ovn_inject.core.validate.validate_flow`); here only
what has no meaning at a hook is refused, with the OpenFlow error that
says so.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from ovn_inject.ofswitch.errors import OfError
from ovn_inject.ofswitch.oxm import FIELDS, FIELDS_BY_NAME, Field, Match, full_mask

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
#: Output to these reserved ports lets the packet go on through the pipeline: ``next;``.
CONTINUE_PORTS = frozenset({ofp.OFPP_NORMAL, ofp.OFPP_TABLE})
#: The one table a goto may name: "the rest of OVN's pipeline" after the hook.
NEXT_TABLE = 1


def quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mac(value: int) -> str:
    return ":".join(f"{b:02x}" for b in value.to_bytes(6, "big"))


def _value(field: Field, value: int, mask: int) -> str:
    """One OXM value (and mask, unless exact) in OVN's syntax."""
    exact = mask == full_mask(field)
    if field.kind == "mac":
        return _mac(value) if exact else f"{_mac(value)}/{_mac(mask)}"
    if field.kind in ("ip4", "ip6"):
        kind = ipaddress.IPv4Address if field.kind == "ip4" else ipaddress.IPv6Address
        address, netmask = kind(value), kind(mask)
        if exact:
            return str(address)
        bits = 8 * field.size
        prefix = bin(mask).count("1")
        if mask == ((1 << prefix) - 1) << (bits - prefix):
            return f"{address}/{prefix}"
        return f"{address}/{netmask}"
    if field.name == "eth_type":
        return f"0x{value:04x}"
    return str(value) if exact else f"0x{value:x}/0x{mask:x}"


def translate_match(match: Match, ports: Mapping[int, str]) -> str:
    """The OVN match for an OpenFlow match; ``ports``: OpenFlow port number -> logical port."""
    terms: list[str] = []
    for number in sorted(match):
        field = FIELDS[number]
        value, mask = match[number]
        if field.kind == "port":
            name = ports.get(value)
            if name is None:
                raise OfError(
                    ofp.OFPET_BAD_MATCH, ofp.OFPBMC_BAD_VALUE, f"in_port {value} is not a port of this switch"
                )
            terms.append(f"inport == {quote(name)}")
        elif field.kind == "vlan":
            terms.append(_vlan(value, mask))
        else:
            terms.append(f"{field.ovn} == {_value(field, value, mask)}")
    return " && ".join(t for t in terms if t) or "1"


def _vlan(value: int, mask: int) -> str:
    """OpenFlow's vlan_vid carries OFPVID_PRESENT (0x1000) next to the 12-bit id."""
    present = ofp.OFPVID_PRESENT
    if mask & present and not value & present:
        return "!vlan.present"
    terms = ["vlan.present"] if mask & present else []
    vid_mask = mask & 0x0FFF
    if vid_mask == 0x0FFF:
        terms.append(f"vlan.vid == {value & 0x0FFF}")
    elif vid_mask:
        terms.append(f"vlan.vid == 0x{value & 0x0FFF:x}/0x{vid_mask:x}")
    return " && ".join(terms)


@dataclass(frozen=True)
class Actions:
    text: str  # OVN actions
    output: int | None  # the OpenFlow port it outputs to, if any (out_port filters)


def translate_instructions(instructions: Sequence[Any], ports: Mapping[int, str]) -> Actions:
    """os-ken's parsed instructions -> OVN actions; an empty list drops, as in OpenFlow."""
    out: list[str] = []
    output: int | None = None
    proceed = False
    for instruction in instructions:
        if isinstance(instruction, parser.OFPInstructionActions):
            if instruction.type != ofp.OFPIT_APPLY_ACTIONS:
                if instruction.type == ofp.OFPIT_CLEAR_ACTIONS:
                    continue  # the action set is always empty here
                raise OfError(
                    ofp.OFPET_BAD_INSTRUCTION,
                    ofp.OFPBIC_UNSUP_INST,
                    "only apply-actions and goto-table are available at a hook (there is no action set)",
                )
            texts, output, continues = _apply_actions(instruction.actions, ports)
            out.extend(texts)
            proceed = proceed or continues
        elif isinstance(instruction, parser.OFPInstructionGotoTable):
            if instruction.table_id != NEXT_TABLE:
                raise OfError(
                    ofp.OFPET_BAD_INSTRUCTION,
                    ofp.OFPBIC_BAD_TABLE_ID,
                    f"goto_table:{instruction.table_id}; table {NEXT_TABLE} (the rest of OVN's pipeline) "
                    "is the only one",
                )
            proceed = True
        else:
            raise OfError(
                ofp.OFPET_BAD_INSTRUCTION,
                ofp.OFPBIC_UNSUP_INST,
                f"instruction {type(instruction).__name__} is not available at a hook",
            )
    if output is not None and proceed:
        raise OfError(
            ofp.OFPET_BAD_ACTION,
            ofp.OFPBAC_UNSUPPORTED_ORDER,
            "a flow either outputs to a port or continues (NORMAL / goto_table:1), not both",
        )
    if proceed:
        out.append("next;")
    if output is None and not proceed:
        out = ["drop;"]  # whatever was rewritten, a packet that is not sent on is dropped
    return Actions(" ".join(out), output)


def _apply_actions(actions: Sequence[Any], ports: Mapping[int, str]) -> tuple[list[str], int | None, bool]:
    out: list[str] = []
    output: int | None = None
    proceed = False
    for action in actions:
        if output is not None or proceed:
            raise OfError(
                ofp.OFPET_BAD_ACTION,
                ofp.OFPBAC_UNSUPPORTED_ORDER,
                "the output must be the last action (one output per flow)",
            )
        if isinstance(action, parser.OFPActionOutput):
            if action.port in CONTINUE_PORTS:
                proceed = True
                continue
            name = ports.get(action.port)
            if name is None:
                raise OfError(
                    ofp.OFPET_BAD_ACTION,
                    ofp.OFPBAC_BAD_OUT_PORT,
                    f"output:{action.port} is not a port of this switch (NORMAL continues)",
                )
            out += [f"outport = {quote(name)};", "output;"]
            output = action.port
        elif isinstance(action, parser.OFPActionSetField):
            out.append(_set_field(action))
        elif isinstance(action, parser.OFPActionDecNwTtl):
            out.append("ip.ttl--;")
        else:
            raise OfError(
                ofp.OFPET_BAD_ACTION,
                ofp.OFPBAC_BAD_TYPE,
                f"action {type(action).__name__} is not available at a hook (output, set_field, dec_ttl are)",
            )
    return out, output, proceed


def _set_field(action: Any) -> str:
    field = FIELDS_BY_NAME.get(action.key)
    if field is None or not field.settable:
        raise OfError(
            ofp.OFPET_BAD_ACTION, ofp.OFPBAC_BAD_SET_TYPE, f"set_field of {action.key} is not allowed"
        )
    value = action.value
    if isinstance(value, tuple):
        raise OfError(ofp.OFPET_BAD_ACTION, ofp.OFPBAC_BAD_SET_ARGUMENT, "set_field takes no mask")
    try:
        if field.kind == "mac":
            text = str(value).lower()
            if not _MAC.match(text):
                raise ValueError(text)
        elif field.kind == "ip4":
            text = str(ipaddress.IPv4Address(value))
        elif field.kind == "ip6":
            text = str(ipaddress.IPv6Address(value))
        else:
            number = int(value)
            if not 0 <= number <= full_mask(field):
                raise ValueError(number)
            text = str(number)
    except (ValueError, TypeError):
        raise OfError(
            ofp.OFPET_BAD_ACTION, ofp.OFPBAC_BAD_SET_ARGUMENT, f"set_field {field.name}: bad value {value!r}"
        ) from None
    return f"{field.ovn} = {text};"
