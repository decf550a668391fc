"""Test packets in, captured packets out: the proof that a flow acts.

Frames are built with dpkt and injected with ``netdev-dummy/receive``;
netdev-dummy appends every frame it transmits to the port's ``tx_pcap``,
which :func:`read_pcap` reads even while OVS is still writing it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import dpkt

PCAP_HEADER = 24
RECORD_HEADER = 16


def read_pcap(path: Path) -> list[bytes]:
    """All complete frames in a pcap file; a record still being written is ignored."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    if len(data) < PCAP_HEADER:
        return []
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    frames = []
    offset = PCAP_HEADER
    while offset + RECORD_HEADER <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[offset : offset + RECORD_HEADER])
        end = offset + RECORD_HEADER + caplen
        if end > len(data):
            break
        frames.append(data[offset + RECORD_HEADER : end])
        offset = end
    return frames


def mac_bytes(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


def ip4_bytes(ip: str) -> bytes:
    return bytes(int(part) for part in ip.split("."))


def _ethernet(src_mac: str, dst_mac: str, ip: dpkt.ip.IP) -> bytes:
    eth = dpkt.ethernet.Ethernet(
        src=mac_bytes(src_mac), dst=mac_bytes(dst_mac), type=dpkt.ethernet.ETH_TYPE_IP, data=ip
    )
    return bytes(eth)


def _ip(src_ip: str, dst_ip: str, proto: int, payload: dpkt.Packet, ttl: int, tos: int) -> dpkt.ip.IP:
    ip = dpkt.ip.IP(src=ip4_bytes(src_ip), dst=ip4_bytes(dst_ip), p=proto, ttl=ttl, tos=tos, data=payload)
    ip.len = len(ip)
    return ip


def icmp_echo(
    src_mac: str,
    dst_mac: str,
    src_ip: str,
    dst_ip: str,
    *,
    ttl: int = 64,
    tos: int = 0,
    ident: int = 1,
    seq: int = 1,
    reply: bool = False,
) -> bytes:
    echo = dpkt.icmp.ICMP.Echo(id=ident, seq=seq, data=b"ovn-inject")
    icmp = dpkt.icmp.ICMP(type=dpkt.icmp.ICMP_ECHOREPLY if reply else dpkt.icmp.ICMP_ECHO, data=echo)
    return _ethernet(src_mac, dst_mac, _ip(src_ip, dst_ip, dpkt.ip.IP_PROTO_ICMP, icmp, ttl, tos))


def tcp_segment(
    src_mac: str,
    dst_mac: str,
    src_ip: str,
    dst_ip: str,
    sport: int,
    dport: int,
    *,
    flags: str = "S",
    seq: int = 1000,
    ack: int = 0,
    payload: bytes = b"",
    ttl: int = 64,
    tos: int = 0,
) -> bytes:
    bits = {
        "F": dpkt.tcp.TH_FIN,
        "S": dpkt.tcp.TH_SYN,
        "R": dpkt.tcp.TH_RST,
        "P": dpkt.tcp.TH_PUSH,
        "A": dpkt.tcp.TH_ACK,
    }
    tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, win=65535, data=payload)
    tcp.flags = sum(bits[f] for f in flags)
    return _ethernet(src_mac, dst_mac, _ip(src_ip, dst_ip, dpkt.ip.IP_PROTO_TCP, tcp, ttl, tos))


def udp_datagram(
    src_mac: str,
    dst_mac: str,
    src_ip: str,
    dst_ip: str,
    sport: int,
    dport: int,
    *,
    payload: bytes = b"",
    ttl: int = 64,
    tos: int = 0,
) -> bytes:
    udp = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    udp.ulen = len(udp)
    return _ethernet(src_mac, dst_mac, _ip(src_ip, dst_ip, dpkt.ip.IP_PROTO_UDP, udp, ttl, tos))


@dataclass(frozen=True)
class Summary:
    """The fields of a captured frame that tests and demos talk about."""

    eth_src: str
    eth_dst: str
    ip_src: str | None = None
    ip_dst: str | None = None
    proto: int | None = None
    ttl: int | None = None
    dscp: int | None = None
    sport: int | None = None
    dport: int | None = None
    icmp_type: int | None = None
    payload: bytes = b""

    def __str__(self) -> str:
        if self.ip_src is None:
            return f"{self.eth_src} > {self.eth_dst}"
        ports = (
            f":{self.sport} > {self.ip_dst}:{self.dport}" if self.sport is not None else f" > {self.ip_dst}"
        )
        kind = {1: "icmp", 6: "tcp", 17: "udp"}.get(self.proto or 0, f"proto {self.proto}")
        return f"{kind} {self.ip_src}{ports} ttl {self.ttl} dscp {self.dscp}"


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def summarize(frame: bytes) -> Summary:
    eth = dpkt.ethernet.Ethernet(frame)
    ip = eth.data
    if not isinstance(ip, dpkt.ip.IP):
        return Summary(_mac(eth.src), _mac(eth.dst))
    l4 = ip.data
    ports = isinstance(l4, dpkt.tcp.TCP | dpkt.udp.UDP)
    return Summary(
        eth_src=_mac(eth.src),
        eth_dst=_mac(eth.dst),
        ip_src=".".join(map(str, ip.src)),
        ip_dst=".".join(map(str, ip.dst)),
        proto=ip.p,
        ttl=ip.ttl,
        dscp=ip.tos >> 2,
        sport=l4.sport if ports else None,
        dport=l4.dport if ports else None,
        icmp_type=l4.type if isinstance(l4, dpkt.icmp.ICMP) else None,
        payload=bytes(l4.data) if ports else b"",
    )
