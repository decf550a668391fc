"""Checks of the arguments of some generic actions, where OVN validates them when it parses.

Each checker takes the argument words of :class:`~ovn_inject.lang.ast.Generic`
and returns an error message or None. Actions without a checker are checked
for balanced brackets only (what OVN refuses beyond that surfaces in the
corpus test against ovn-controller).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from ovn_inject import cjson

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from ovn_inject.lang.releases import Release
    from ovn_inject.lang.symbols import Symbol

LOG_VERDICTS = frozenset(("drop", "reject", "allow"))
LOG_SEVERITIES = frozenset(("alert", "warning", "notice", "info", "debug"))
EVENTS = frozenset(("empty_lb_backends",))


def _pairs(words: tuple[str, ...]) -> list[tuple[str, str]] | str:
    """``key=value, key=value`` (commas optional) as pairs, or an error message."""
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(words):
        if words[i] == ",":
            i += 1
            continue
        if i + 2 > len(words) - 1 or words[i + 1] != "=":
            return f"expected key=value, found '{' '.join(words[i : i + 3])}'"
        pairs.append((words[i], words[i + 2]))
        i += 3
    return pairs


def _string(word: str) -> str | None:
    if not word.startswith('"'):
        return None
    try:
        value = cjson.loads(word)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def check_log(words: tuple[str, ...] | None, verdicts: Collection[str] = LOG_VERDICTS) -> str | None:
    pairs = _pairs(words or ())
    if isinstance(pairs, str):
        return pairs
    verdict = None
    for key, value in pairs:
        if key == "verdict":
            if value not in verdicts:
                return f"unknown log verdict '{value}'; expected one of {', '.join(sorted(verdicts))}"
            verdict = value
        elif key == "severity":
            if value not in LOG_SEVERITIES:
                return f"unknown log severity '{value}'"
        elif key in ("name", "meter"):
            text = _string(value)
            if text is None:
                return f"log {key} must be a quoted string"
            if key == "name" and len(text.encode()) >= 64:
                return "log name must be shorter than 64 characters"
        else:
            return f"unknown log argument '{key}'"
    if verdict is None:
        return f"log needs a verdict (verdict={', '.join(sorted(verdicts))})"
    return None


def check_trigger_event(words: tuple[str, ...] | None) -> str | None:
    pairs = _pairs(words or ())
    if isinstance(pairs, str):
        return pairs
    if not pairs or pairs[0][0] != "event":
        return 'trigger_event needs event="..." first'
    event = _string(pairs[0][1])
    if event not in EVENTS:
        return f"unknown event {pairs[0][1]}"
    for key, value in pairs[1:]:
        text = _string(value)
        if text is None:
            return f"trigger_event option {key} must be a quoted string"
        if key == "load_balancer":
            import uuid  # for this check alone: its import costs a flow-add more than the check

            try:
                uuid.UUID(text)
            except ValueError:
                return f"load balancer '{text}' is not a UUID"
    return None


CHECKS: dict[str, Callable[[tuple[str, ...] | None], str | None]] = {
    "log": check_log,
    "trigger_event": check_trigger_event,
}


# ---- typed argument lists ------------------------------------------------------

#: Argument types: "port" (a string field: inport/outport), N (an N-bit field or
#: subfield), "field" (any assignable field), "int" (a decimal/hex number).
Signature = tuple[str | int, ...]

SIGNATURES: dict[str, Signature] = {
    "get_arp": ("port", 32),
    "put_arp": ("port", 32, 48),
    "get_nd": ("port", 128),
    "put_nd": ("port", 128, 48),
    "put_fdb": ("port", 48),
    "handle_svc_check": ("port",),
    "push": ("field",),
    "pop": ("field",),
    "set_queue": ("int",),
}

#: Result actions (``dst = name(args)``): (destination rule, argument signature or None: unchecked).
#: The destination is an N-bit field, a string field ("port") or, for select, 16 bits or more.
RESULT_SIGNATURES: dict[str, tuple[int | str, Signature | None]] = {
    "dhcp_relay_req_chk": (1, None),
    "dhcp_relay_resp_chk": (1, None),
    "ct_nw_dst": (32, ()),
    "ct_ip6_dst": (128, ()),
    "ct_tp_dst": (16, ()),
    "ct_proto": (8, ()),
    "ct_state_save": (8, ()),
    "get_remote_fdb": ("port", (48,)),
    "check_in_port_sec": (1, ()),
    "check_out_port_sec": (1, ()),
    "chk_lb_hairpin": (1, ()),
    "chk_lb_hairpin_reply": (1, ()),
    "chk_ecmp_nh_mac": (1, ()),
    "chk_ecmp_nh": (1, ()),
    "chk_lb_aff": (1, ()),
    "dns_lookup": (1, ()),
    "check_pkt_larger": (1, ("int",)),
    "lookup_arp": (1, ("port", 32, 48)),
    "lookup_nd": (1, ("port", 128, 48)),
    "lookup_arp_ip": (1, ("port", 32)),
    "lookup_nd_ip": (1, ("port", 128)),
    "lookup_fdb": (1, ("port", 48)),
    "get_fdb": ("port", (48,)),
    "put_dhcp_opts": (1, None),
    "put_dhcpv6_opts": (1, None),
    "put_nd_ra_opts": (1, None),
    "select": ("select", None),
}


def split_arguments(words: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Words split at top-level commas."""
    parts: list[list[str]] = [[]]
    depth = 0
    for word in words:
        if word in ("(", "[", "{"):
            depth += 1
        elif word in (")", "]", "}"):
            depth -= 1
        if word == "," and depth == 0:
            parts.append([])
        else:
            parts[-1].append(word)
    return [tuple(p) for p in parts] if words else []


def _is_number(word: str) -> bool:
    if word.isdigit():
        return True
    return word[:2] in ("0x", "0X") and len(word) > 2 and all(c in "0123456789abcdefABCDEF" for c in word[2:])


def field_argument(part: tuple[str, ...], table: Mapping[str, Symbol] | None = None) -> tuple[str, int] | str:
    """(name, width) of a field written as words (``reg0``, ``reg0 [ 1 .. 3 ]``), or an error."""
    from ovn_inject.lang.symbols import SYMBOLS

    known = SYMBOLS if table is None else table
    if not part or part[0] not in known:
        return f"expected a field, found '{' '.join(part)}'" if part else "expected a field"
    symbol = known[part[0]]
    if symbol.predicate is not None:
        return f"predicate {part[0]} cannot be used where a field is required"
    if len(part) == 1:
        return part[0], symbol.width
    rest = part[1:]
    ok = (len(rest) == 3 and rest[0] == "[" and rest[2] == "]" and _is_number(rest[1])) or (
        len(rest) == 5 and rest[0] == "[" and rest[2] == ".." and rest[4] == "]"
    )
    if not ok or not all(_is_number(w) for w in rest[1:-1] if w != ".."):
        return f"expected a field, found '{' '.join(part)}'"
    low = int(rest[1], 0)
    high = int(rest[3], 0) if len(rest) == 5 else low
    if not 0 <= low <= high < max(symbol.width, 1) or symbol.width == 0:
        return f"invalid bit range of field {part[0]}"
    return part[0], high - low + 1


def check_signature(
    name: str, signature: Signature, words: tuple[str, ...] | None, table: Mapping[str, Symbol] | None = None
) -> str | None:
    parts = split_arguments(words or ())
    if len(parts) != len(signature):
        if not signature:
            return f"{name} takes no arguments"
        return f"{name} takes {len(signature)} argument{'s' if len(signature) > 1 else ''}"
    for part, kind in zip(parts, signature, strict=True):
        if kind == "int":
            if len(part) != 1 or not _is_number(part[0]):
                return f"{name} expects a number, found '{' '.join(part)}'"
            continue
        found = field_argument(part, table)
        if isinstance(found, str):
            return found
        field, width = found
        if kind == "port" and width != 0:
            return f"{name} needs a string field (inport or outport), not {field}"
        if isinstance(kind, int) and width != kind:
            what = "string field" if width == 0 else f"{width}-bit field"
            return f"{name} needs a {kind}-bit field here, not {what} {field}"
    return None


def check_result(
    name: str,
    dst_width: int,
    words: tuple[str, ...] | None,
    table: Mapping[str, Symbol] | None = None,
    features: Collection[str] = (),
) -> str | None:
    """Check ``dst = name(args)`` given the destination's width (0 for a string field)."""
    rule, signature = RESULT_SIGNATURES[name]
    if rule == "port" and dst_width != 0:
        return f"{name} stores a port name: assign it to inport or outport"
    if rule == 1 and dst_width != 1:
        return f"{name} stores one bit: assign it to a 1-bit field, not a {dst_width or 'string'}-bit one"
    if isinstance(rule, int) and dst_width != rule:
        what = f"{dst_width} bits" if dst_width else "a string field"
        return f"{name} stores {rule} bits: assign it to a field of {rule} bits, not {what}"
    if rule == "select":
        if dst_width < 16:
            return f"select needs a destination of at least 16 bits, not {dst_width}"
        words = words or ()
        if features and "select_values" in features and words[:3] == ("values", "=", "("):
            return _select_values(words)
        for part in split_arguments(words):
            if not (len(part) == 1 and _is_number(part[0])) and not (
                len(part) == 3 and _is_number(part[0]) and part[1] == "=" and _is_number(part[2])
            ):
                return f"select expects numbers (optionally =weight), found '{' '.join(part)}'"
        return None
    if signature is None:
        return None
    return check_signature(name, signature, words, table)


def _select_values(words: tuple[str, ...]) -> str | None:
    """25.03's ``select(values=(1, 2); hash_fields="ip_src,ip_dst")``."""
    try:
        close = words.index(")")
    except ValueError:
        return "expected ')' after select's values"
    for part in split_arguments(words[3:close]):
        if not (len(part) == 1 and _is_number(part[0])) and not (
            len(part) == 3 and _is_number(part[0]) and part[1] == "=" and _is_number(part[2])
        ):
            return f"select expects numbers (optionally =weight), found '{' '.join(part)}'"
    rest = words[close + 1 :]
    if len(rest) != 4 or rest[:3] != (";", "hash_fields", "=") or _string(rest[3]) is None:
        return 'select(values=(...)) needs ; hash_fields="..." after the values'
    return None


def check_ct_nat(words: tuple[str, ...] | None) -> str | None:
    if words is None:
        return None
    from ovn_inject.lang.errors import LanguageError
    from ovn_inject.lang.lexer import parse_integer

    parts = split_arguments(words)
    if not parts or len(parts[0]) != 1:
        return "expected an IPv4 or IPv6 address"
    try:
        address = parse_integer(parts[0][0])
    except LanguageError:
        return "expected an IPv4 or IPv6 address"
    if address.fmt not in ("ipv4", "ipv6") or address.mask is not None:
        return "expected an IPv4 or IPv6 address"
    if len(parts) == 1:
        return None
    if len(parts) > 2:
        return "expected an address and a port range"
    ports = parts[1]
    if not ports or not ports[0].isdigit():
        return "expected a port number or range"
    low = int(ports[0])
    if low == 0:
        return "port range cannot start at 0"
    if len(ports) == 1:
        return None
    if len(ports) != 3 or ports[1] != "-" or not ports[2].isdigit():
        return "expected a port range low-high"
    if int(ports[2]) <= low:
        return "port range high must be greater than low"
    return None


def check_ct_lb(words: tuple[str, ...] | None) -> str | None:
    if not words:
        return None
    if words[0] != "backends" or len(words) < 2 or words[1] != "=":
        return "expected backends=..."
    return None


def check_commit_ecmp_nh(words: tuple[str, ...] | None) -> str | None:
    pairs = _pairs(words or ())
    if isinstance(pairs, str):
        return pairs
    keys = dict(pairs)
    if set(keys) != {"ipv6", "proto"}:
        return "commit_ecmp_nh needs ipv6=true|false and proto=tcp|udp|sctp"
    if keys["ipv6"] not in ("true", "false"):
        return "ipv6 must be true or false"
    if keys["proto"] not in ("tcp", "udp", "sctp"):
        return "proto must be tcp, udp or sctp"
    return None


def _set_meter(words: tuple[str, ...] | None) -> str | None:
    parts = split_arguments(words or ())
    if len(parts) not in (1, 2) or not all(len(p) == 1 and _is_number(p[0]) for p in parts):
        return "set_meter takes a rate and an optional burst (numbers)"
    return None


def _zone(name: str, required: bool) -> Callable[[tuple[str, ...] | None], str | None]:
    """``name(dnat)`` or ``name(snat)`` (ct_commit_to_zone, and ct_commit_nat from 24.09)."""

    def check(words: tuple[str, ...] | None) -> str | None:
        if words is None and not required:
            return None
        if words not in (("dnat",), ("snat",)):
            return f'"{name}" accepts only "dnat" or "snat" as its argument'
        return None

    return check


def _mirror(words: tuple[str, ...] | None) -> str | None:
    if not words or len(words) != 1 or _string(words[0]) is None:
        return "mirror takes a port name (a quoted string)"
    return None


def check_generic(name: str, words: tuple[str, ...] | None, release: Release) -> str | None:
    """Check a generic action's arguments by the rules of ``release``."""
    if name == "log":
        return check_log(words, release.log_verdicts)
    if release.actions[name][0] == "none":
        return None
    signature = SIGNATURES.get(name)
    if signature is not None:
        return check_signature(name, signature, words, release.symbols)
    check = CHECKS.get(name)
    return check(words) if check else None


for _name in ("ct_dnat", "ct_snat", "ct_dnat_in_czone", "ct_snat_in_czone"):
    CHECKS[_name] = check_ct_nat
CHECKS["ct_lb"] = CHECKS["ct_lb_mark"] = CHECKS["ct_lb_mark_local"] = check_ct_lb
CHECKS["ct_commit_to_zone"] = _zone("ct_commit_to_zone", True)
CHECKS["ct_commit_nat"] = _zone("ct_commit_nat", False)
CHECKS["ct_next"] = _zone("ct_next", False)
CHECKS["mirror"] = _mirror
CHECKS["commit_ecmp_nh"] = check_commit_ecmp_nh
CHECKS["set_meter"] = _set_meter
