"""Where each file of a sandbox lives; the one place that knows the layout.

``DIR/hv1`` is the run directory of the central services (NB and SB
ovsdb-servers, ovn-northd and, later, ovn-inject's own daemons) and of
chassis ``hv1``, as on a controller node that is also a compute node. This
way ``ovn-appctl -t ovn-northd`` and ``ovs-appctl -t ovs-vswitchd`` work
unchanged with the environment ``sandbox env`` prints. Chassis ``hvN`` (N>1)
get ``DIR/hvN``; ``DIR/net`` holds the hub switch that carries the geneve
tunnels between chassis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

STATE_FILE = "sandbox.json"
CENTRAL = "hv1"
HUB = "net"
HUB_BRIDGE = "n1"
PHYS_BRIDGE = "br-phys"
INTEGRATION_BRIDGE = "br-int"


def chassis_name(index: int) -> str:
    return f"hv{index}"


def encap_ip(index: int) -> str:
    """Tunnel endpoint of chassis ``hv<index>``: loopback addresses, never on a wire."""
    return f"127.0.0.{index + 1}"


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / STATE_FILE

    @property
    def central(self) -> Path:
        return self.root / CENTRAL

    @property
    def hub(self) -> Path:
        return self.root / HUB

    def chassis(self, name: str) -> Path:
        return self.root / name

    @property
    def nb_socket(self) -> Path:
        return self.central / "ovnnb_db.sock"

    @property
    def inject_db(self) -> Path:
        """The OVN_Inject database file, next to NB's (the NB ovsdb-server serves both)."""
        return self.central / "ovn_inject.db"

    @property
    def sb_socket(self) -> Path:
        return self.central / "ovnsb_db.sock"

    @property
    def sbgate_socket(self) -> Path:
        return self.central / "sbgate.sock"

    @property
    def pki(self) -> Path:
        """The PKI of an SSL sandbox (``ovs-pki --dir``), its shared key and certificate."""
        return self.root / "pki"

    def sb_member_socket(self, member: int) -> Path:
        """Client socket of member ``member`` (1-based) of a clustered SB."""
        return self.central / f"ovnsb_db{member}.sock"

    def rundir_env(self, rundir: Path) -> dict[str, str]:
        """The variables that point OVS/OVN tools at one run directory."""
        kinds = ("RUNDIR", "LOGDIR", "DBDIR", "SYSCONFDIR")
        return {f"{tool}_{kind}": str(rundir) for tool in ("OVS", "OVN") for kind in kinds}


@dataclass
class State:
    """What ``up`` started, saved as JSON so that other processes can find it."""

    chassis: list[str] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)
    nb_tcp: int = 0
    sb_tcp: int = 0
    bindings: dict[str, str] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2)

    @classmethod
    def from_json(cls, text: str) -> State:
        return cls(**json.loads(text))
