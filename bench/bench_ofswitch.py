"""flow_mods per second through one OpenFlow connection, against the HTTP API with the same flows.

Starts a 1-chassis sandbox without the compiler daemon (only OVN_Inject's
ovsdb-server, the gateway and ``ovn-inject ofswitch`` work), the demo
topology, and per shape two services of tenant-a attached to ls-a: one
served on a passive OpenFlow endpoint, one with a gateway token. The same
flows (``ip4.src``, ``tcp.dst``, drop or continue) go through one OpenFlow
connection with a BARRIER after every N flow_mods (waiting for its reply),
and through one HTTP client in requests of N flows. Every flow is
translated (OpenFlow only), parsed, policed and written either way; the
ratio is OpenFlow's rate over HTTP's, measured in the same run.
"""

from __future__ import annotations

import socket
import struct
import sys
import tempfile
import time
from pathlib import Path

import httpx
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser
from os_ken.ofproto.ofproto_protocol import ProtocolDesc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ovn_inject.core import tokens
from ovn_inject.db.commands import now_ms
from ovn_inject.db.impl_idl import connect
from ovn_inject.ofswitch import wire
from ovn_inject.ofswitch.store import SetTargetsCommand
from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import topology as topologies
from ovn_inject.sandbox.processes import free_tcp_port

FLOWS = 3000
BARRIER_EVERY = [1000, 100, 10, 1]
_DP = ProtocolDesc(ofp.OFP_VERSION)


def _address(i: int) -> str:
    return f"10.9.{(i >> 8) & 255}.{i & 255}"


def _flow_mod(i: int) -> bytes:
    match = parser.OFPMatch(eth_type=0x800, ip_proto=6, ipv4_src=_address(i), tcp_dst=i % 65536)
    instructions = [] if i % 2 else [parser.OFPInstructionGotoTable(1)]
    mod = parser.OFPFlowMod(_DP, cookie=i, priority=i % 1000, match=match, instructions=instructions)
    mod.set_xid(i + 1)
    mod.serialize()
    return bytes(mod.buf)


def _http_flow(i: int) -> dict[str, object]:
    return {
        "priority": i % 1000,
        "match": f"eth.type == 0x0800 && ip.proto == 6 && ip4.src == {_address(i)} && tcp.dst == {i % 65536}",
        "actions": "drop;" if i % 2 else "next;",
        "cookie": i,
    }


def _read(sock: socket.socket, buffer: bytearray) -> bytes:
    while True:
        if len(buffer) >= 8:
            length = struct.unpack_from("!H", buffer, 2)[0]
            if len(buffer) >= length:
                message = bytes(buffer[:length])
                del buffer[:length]
                return message
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise RuntimeError("the switch closed the connection")
        buffer += chunk


def _through_openflow(port: int, every: int) -> float:
    mods = [_flow_mod(i) for i in range(FLOWS)]
    buffer = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(wire.hello())
        _read(sock, buffer)
        began = time.perf_counter()
        for start in range(0, FLOWS, every):
            sock.sendall(b"".join(mods[start : start + every]) + wire.message(ofp.OFPT_BARRIER_REQUEST, 0))
            while True:
                reply = _read(sock, buffer)
                if reply[1] == ofp.OFPT_ERROR:
                    raise RuntimeError(f"flow_mod refused: {reply[8:12].hex()}")
                if reply[1] == ofp.OFPT_BARRIER_REPLY:
                    break
        return FLOWS / (time.perf_counter() - began)


def _through_http(url: str, token: str, every: int) -> float:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        began = time.perf_counter()
        for start in range(0, FLOWS, every):
            body = [_http_flow(i) for i in range(start, min(start + every, FLOWS))]
            response = http.post("/v1/flows", json=body if every > 1 else body[0])
            if response.status_code != 201:
                raise RuntimeError(response.text)
        return FLOWS / (time.perf_counter() - began)


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def main() -> None:
    box = Sandbox(Path(tempfile.mkdtemp(prefix="bench-ofswitch-")) / "sandbox")
    box.up(chassis=1, inject=False)
    try:
        topologies.build(box, topologies.DEMO)
        box.start_gateway()
        box.start_ofswitch()
        print(f"{FLOWS} flows per run, one connection / one HTTP client; 'ip4.src && tcp.dst' matches")
        for every in BARRIER_EVERY:
            port = free_tcp_port()
            api = connect(box.inject_remote, 30)
            try:
                for name in (f"of{every}", f"http{every}"):
                    api.commit(api.service_add(name, "tenant-a"))
                    api.commit(api.attach_add(name, "ls", "ls-a", "ls-in-port"))
                api.commit(SetTargetsCommand(api, f"of{every}", [f"ptcp:{port}"]))
                new = tokens.new_token()
                api.commit(api.token_add(f"http{every}", new.public_id, new.secret_hash, now_ms()))
            finally:
                api.close()
            _wait_listening(port)
            of_rate = _through_openflow(port, every)
            http_rate = _through_http(box.gateway_url, new.token, every)
            print(
                f"barrier every {every:>4} flow_mods: OpenFlow {of_rate:7.0f} flow_mods/s | "
                f"HTTP ({every:>4} flows/request) {http_rate:7.0f} flows/s | ratio {of_rate / http_rate:.2f}x"
            )
    finally:
        box.down()


if __name__ == "__main__":
    main()
