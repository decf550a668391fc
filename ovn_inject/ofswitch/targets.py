"""OVS's connection target syntax for a service's OpenFlow endpoints (pure).

``tcp:IP:PORT`` / ``ssl:IP:PORT``: ovn-inject dials the service's controller
(how Ryu/os-ken applications listen). ``ptcp:PORT[:IP]`` / ``pssl:PORT[:IP]``:
ovn-inject listens and the application (or ``ovs-ofctl``) dials in. Unlike
OVS, a passive target without an address binds to 127.0.0.1 only: anything
wider is the operator's explicit choice. IPv6 addresses go in brackets.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ovn_inject.errors import OvnInjectError

#: Service's column of its endpoints.
TARGETS_COLUMN = "openflow_targets"
#: Service.options key: "sb" or "hv" makes a BARRIER wait until the flows are in SB / on every chassis.
BARRIER_WAIT_OPTION = "openflow_barrier_wait"
#: Service.options key: the common name a pssl client's certificate must have (default: the service name).
PEER_CN_OPTION = "openflow_peer_cn"
DEFAULT_PASSIVE_HOST = "127.0.0.1"
KINDS = ("tcp", "ssl", "ptcp", "pssl")


class TargetSyntaxError(OvnInjectError):
    pass


@dataclass(frozen=True)
class Target:
    text: str
    ssl: bool
    passive: bool
    host: str
    port: int

    @property
    def endpoint(self) -> tuple[str, int]:
        return self.host, self.port


def _host(text: str, target: str) -> str:
    host = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        raise TargetSyntaxError(f"'{target}': '{text}' is not an IP address") from None


def _port(text: str, target: str, passive: bool) -> int:
    if not text.isdigit() or not (0 if passive else 1) <= int(text) <= 65535:
        raise TargetSyntaxError(f"'{target}': '{text}' is not a TCP port")
    return int(text)


def _split_last(text: str) -> tuple[str, str]:
    """``IP:PORT`` with an IPv6 address in brackets -> (IP, PORT)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        return "", text
    return host, port


def parse_target(text: str) -> Target:
    kind, sep, rest = text.strip().partition(":")
    if not sep or kind not in KINDS:
        raise TargetSyntaxError(
            f"'{text}' is not an OpenFlow target; "
            "use tcp:IP:PORT, ssl:IP:PORT, ptcp:PORT[:IP] or pssl:PORT[:IP]"
        )
    passive = kind.startswith("p")
    ssl = kind.endswith("ssl")
    if passive:
        port_text, _, host_text = rest.partition(":")
        host = _host(host_text, text) if host_text else DEFAULT_PASSIVE_HOST
        port = _port(port_text, text, passive)
    else:
        host_text, port_text = _split_last(rest)
        if not host_text:
            raise TargetSyntaxError(f"'{text}': an active target needs IP:PORT")
        host = _host(host_text, text)
        port = _port(port_text, text, passive)
    return Target(text.strip(), ssl, passive, host, port)
