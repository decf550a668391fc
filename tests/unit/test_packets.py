"""Packet building and the pcap reader that tests rely on."""

from __future__ import annotations

import struct
from pathlib import Path

from ovn_inject.sandbox import packets as pk


def _pcap(frames: list[bytes], truncate_last: int = 0) -> bytes:
    data = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for frame in frames:
        data += struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame
    return data[: len(data) - truncate_last]


def test_read_pcap_returns_complete_frames(tmp_path: Path) -> None:
    one = pk.icmp_echo("02:00:00:00:00:01", "02:00:00:00:00:02", "10.0.0.1", "10.0.0.2")
    two = pk.tcp_segment("02:00:00:00:00:01", "02:00:00:00:00:02", "10.0.0.1", "10.0.0.2", 1234, 80)
    path = tmp_path / "x.pcap"
    path.write_bytes(_pcap([one, two]))
    assert pk.read_pcap(path) == [one, two]
    path.write_bytes(_pcap([one, two], truncate_last=3))
    assert pk.read_pcap(path) == [one]
    assert pk.read_pcap(tmp_path / "missing.pcap") == []


def test_summaries_name_what_tests_check() -> None:
    tcp = pk.summarize(
        pk.tcp_segment(
            "02:00:00:00:00:01",
            "02:00:00:00:00:02",
            "10.0.0.1",
            "10.0.0.2",
            1234,
            80,
            tos=46 << 2,
            payload=b"hi",
        )
    )
    assert (tcp.proto, tcp.sport, tcp.dport, tcp.dscp, tcp.payload) == (6, 1234, 80, 46, b"hi")
    icmp = pk.summarize(pk.icmp_echo("02:00:00:00:00:01", "02:00:00:00:00:02", "10.0.0.1", "10.0.0.2", ttl=9))
    assert (icmp.icmp_type, icmp.ttl, icmp.eth_dst) == (8, 9, "02:00:00:00:00:02")
    udp = pk.summarize(
        pk.udp_datagram("02:00:00:00:00:01", "02:00:00:00:00:02", "10.0.0.1", "10.0.0.2", 5, 53)
    )
    assert (udp.proto, udp.dport) == (17, 53)
    assert str(udp).startswith("udp 10.0.0.1:5 > 10.0.0.2:53")
