"""``sandbox send`` packet specs and ``sandbox capture`` lines."""

from __future__ import annotations

import pytest

from ovn_inject.errors import SandboxError
from ovn_inject.sandbox import packets
from ovn_inject.sandbox.ports import build, describe, parse_spec

A, B = "02:00:00:00:01:01/10.0.1.11", "02:00:00:00:01:02/10.0.1.12"


def test_a_spec_names_the_protocol_and_key_values_with_shell_quoting() -> None:
    spec = parse_spec("tcp dst=vm2 dport=80 flags=PA payload='GET /etc/passwd'")
    assert spec.proto == "tcp"
    assert spec.fields == {"dst": "vm2", "dport": "80", "flags": "PA", "payload": "GET /etc/passwd"}
    with pytest.raises(SandboxError, match="starts with one of tcp, udp, icmp"):
        parse_spec("http dst=vm2")
    with pytest.raises(SandboxError, match="bad 'port=80'"):
        parse_spec("tcp dst=vm2 port=80")
    with pytest.raises(SandboxError, match="needs dst="):
        parse_spec("icmp")


def test_frames_built_from_specs_read_back_in_capture_lines() -> None:
    frame = build(None, "vm1", f"tcp src={A} dst={B} sport=41000 dport=22 flags=SA dscp=46 payload=hi")  # type: ignore[arg-type]
    assert frame == packets.tcp_segment(
        "02:00:00:00:01:01",
        "02:00:00:00:01:02",
        "10.0.1.11",
        "10.0.1.12",
        41000,
        22,
        flags="SA",
        payload=b"hi",
        tos=46 << 2,
    )
    assert describe(frame) == (
        "02:00:00:00:01:01 > 02:00:00:00:01:02, tcp 10.0.1.11:41000 > 10.0.1.12:22 [SA] ttl 64 dscp 46 'hi'"
    )
    icmp = build(None, "vm1", f"icmp src={A} dst={B} ttl=5")  # type: ignore[arg-type]
    assert (
        describe(icmp)
        == "02:00:00:00:01:01 > 02:00:00:00:01:02, icmp 10.0.1.11 > 10.0.1.12 type 8 ttl 5 dscp 0"
    )
    udp = build(None, "vm1", f"udp src={A} dst={B} dport=53")  # type: ignore[arg-type]
    assert ", udp 10.0.1.11:40000 > 10.0.1.12:53 " in describe(udp)
    assert build(None, "vm1", frame.hex()) == frame  # type: ignore[arg-type]
    with pytest.raises(SandboxError, match="both ends need an IP"):
        build(None, "vm1", f"icmp src={A} dst=02:00:00:00:01:02")  # type: ignore[arg-type]
