"""A complete OVN in userspace: NB/SB ovsdb-servers, ovn-northd and N chassis.

Each chassis has its own Open_vSwitch database, an ``ovs-vswitchd`` with the
dummy datapath and an ``ovn-controller``. Chassis reach each other through
geneve tunnels whose outer packets travel over a hub bridge in a separate
vswitchd, connected by unix-socket streams (as in OVN's own test suite), so
no packet ever touches the host's network.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from ovn_inject.constants import INJECT_DB_ENV
from ovn_inject.db.ssl_options import ENV as SSL_ENV
from ovn_inject.errors import SandboxError
from ovn_inject.sandbox import processes
from ovn_inject.sandbox.central import CentralServices
from ovn_inject.sandbox.layout import (
    HUB_BRIDGE,
    INTEGRATION_BRIDGE,
    PHYS_BRIDGE,
    Layout,
    State,
    chassis_name,
    encap_ip,
)
from ovn_inject.sandbox.processes import find_schema

DEFAULT_DIR = Path(".sandbox")


class Sandbox(CentralServices):
    """One sandbox OVN rooted at a directory; every method talks to real daemons."""

    def __init__(self, directory: Path | str = DEFAULT_DIR) -> None:
        self.layout = Layout(Path(directory).resolve())
        self.state = State()
        if self.layout.state_file.exists():
            self.state = State.from_json(self.layout.state_file.read_text())

    # ---- life cycle -------------------------------------------------------

    @property
    def root(self) -> Path:
        return self.layout.root

    def is_up(self) -> bool:
        return any(processes.is_alive(pid) for pid in self.state.pids.values())

    def up(
        self,
        chassis: int = 2,
        gate: bool = True,
        sb_cluster: int = 0,
        gate_record: bool = False,
        inject: bool = True,
        ssl: bool = False,
    ) -> None:
        """Start NB, SB, the northd gate, northd, ovn-inject's daemon, the tunnel hub and the chassis.

        ``gate=False`` connects northd straight to SB; ``sb_cluster=3`` runs SB as a
        3-member RAFT cluster; ``gate_record`` makes the gate log what it sends northd;
        ``inject=False`` leaves ovn-inject's compiler daemon out; ``ssl`` makes a PKI with
        ``ovs-pki`` and runs every connection of a daemon to a database over SSL.
        """
        if chassis < 1:
            raise SandboxError("a sandbox needs at least one chassis (--chassis 1 or more)")
        if sb_cluster not in (0, 1, 3, 5):
            raise SandboxError("a clustered SB has 1, 3 or 5 members (0 = standalone)")
        for program in (
            "ovsdb-server",
            "ovsdb-tool",
            "ovs-vswitchd",
            "ovn-northd",
            "ovn-controller",
            *(["ovs-pki"] if ssl else []),
        ):
            processes.require(program)
        self._prepare_directory()
        self.state = State()
        self.state.extra.update(gate=gate, sb_cluster=sb_cluster, gate_record=gate_record, ssl=ssl)
        try:
            # ovn-inject's daemons get ready while the chassis' switches start (see _start_central).
            self._start_central(inject=inject)
            self._start_hub()
            for index in range(1, chassis + 1):
                self._start_chassis(index)
            self._set_tunnel_neighbours()
            self._start_northd_when_gated()
            for name in self.state.chassis:
                self._start_controller(name)
            self._finish_central()
        except BaseException:
            pending = getattr(self, "_gate", None)
            for daemon in [*([pending] if pending is not None else []), *getattr(self, "_launched", [])]:
                daemon.abandon()
            self.save()
            self.down()
            raise
        self.save()

    def down(self) -> list[int]:
        """Stop every process this sandbox started; return pids that survived SIGKILL."""
        pids = list(self.state.pids.values())
        pids += [pid for pid in self._pidfile_pids() if pid not in pids]
        survivors = processes.stop_pids(list(reversed(pids)))
        self.state.pids = {}
        if self.layout.state_file.exists():
            self.save()
        return survivors

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.layout.state_file.write_text(self.state.to_json())

    def _prepare_directory(self) -> None:
        root = self.root
        if root.exists() and any(root.iterdir()):
            if not self.layout.state_file.exists():
                raise SandboxError(f"{root} is not empty and holds no sandbox; choose another --dir")
            if self.is_up():
                raise SandboxError(
                    f"a sandbox is already up in {root}; run 'ovn-inject sandbox down --dir {root}' first"
                )
            shutil.rmtree(root)
        root.mkdir(parents=True, exist_ok=True)

    def _pidfile_pids(self) -> list[int]:
        """Pids of pidfiles under our directory whose process runs from it (restarted daemons)."""
        found: list[int] = []
        if not self.root.exists():
            return found
        for pidfile in self.root.glob("*/*.pid"):
            pid = processes.read_pid(pidfile)
            if pid is not None and processes.is_alive(pid) and self._owns(pid):
                found.append(pid)
        return found

    def _owns(self, pid: int) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return False
        return str(self.root) in cmdline

    # ---- chassis ------------------------------------------------------------

    def _start_vswitch(self, rundir: Path, key: str) -> None:
        """An Open_vSwitch database plus ovs-vswitchd with the dummy datapath in ``rundir``."""
        rundir.mkdir(parents=True, exist_ok=True)
        env = self.layout.rundir_env(rundir)
        db = rundir / "conf.db"
        processes.run(["ovsdb-tool", "create", str(db), str(find_schema("vswitch.ovsschema"))])
        self.state.pids[f"{key}/ovsdb-server"] = processes.start_daemon(
            ["ovsdb-server", f"--remote=punix:{rundir / 'db.sock'}", str(db)],
            rundir,
            "ovsdb-server",
            env=env,
        )
        processes.run(["ovs-vsctl", f"--db=unix:{rundir / 'db.sock'}", "--no-wait", "init"])
        self.state.pids[f"{key}/ovs-vswitchd"] = processes.start_daemon(
            [
                "ovs-vswitchd",
                "--enable-dummy=system",
                "--disable-system-route",
                f"unix:{rundir / 'db.sock'}",
            ],
            rundir,
            "ovs-vswitchd",
            env=env,
        )

    def _start_hub(self) -> None:
        self._start_vswitch(self.layout.hub, "net")
        self._vsctl_at(
            self.layout.hub,
            "add-br",
            HUB_BRIDGE,
            "--",
            "set",
            "bridge",
            HUB_BRIDGE,
            "fail-mode=standalone",
            "other-config:mac-aging-time=3600",
        )

    def _start_chassis(self, index: int) -> None:
        """The chassis' switches, tunnel port and OVN settings; its ovn-controller comes later."""
        name = chassis_name(index)
        rundir = self.layout.chassis(name)
        self.state.chassis.append(name)
        self._start_vswitch(rundir, name)
        hub_socket = self.layout.hub / f"{name}.sock"
        hub_port = f"{HUB_BRIDGE}-{name}"
        self._vsctl_at(
            self.layout.hub,
            "add-port",
            HUB_BRIDGE,
            hub_port,
            "--",
            "set",
            "interface",
            hub_port,
            f"options:pstream=punix:{hub_socket}",
        )
        uplink = f"{PHYS_BRIDGE}_{HUB_BRIDGE}"
        self._vsctl_at(
            rundir,
            "add-br",
            PHYS_BRIDGE,
            "--",
            "add-port",
            PHYS_BRIDGE,
            uplink,
            "--",
            "set",
            "interface",
            uplink,
            f"options:stream=unix:{hub_socket}",
        )
        ip = encap_ip(index)
        self.appctl(name, "netdev-dummy/ip4addr", PHYS_BRIDGE, f"{ip}/8")
        self.appctl(name, "ovs/route/add", "127.0.0.0/8", PHYS_BRIDGE)
        self._vsctl_at(
            rundir,
            "set",
            "open_vswitch",
            ".",
            f"external-ids:system-id={name}",
            f"external-ids:hostname={name}",
            f"external-ids:ovn-remote={self.sb_daemon_remote}",
            "external-ids:ovn-encap-type=geneve",
            f"external-ids:ovn-encap-ip={ip}",
            "--",
            "add-br",
            INTEGRATION_BRIDGE,
            "--",
            "set",
            "bridge",
            INTEGRATION_BRIDGE,
            "fail-mode=secure",
            "other-config:disable-in-band=true",
        )

    def _start_controller(self, name: str) -> None:
        """The chassis' ovn-controller (after northd: see _start_central)."""
        rundir = self.layout.chassis(name)
        self.state.pids[f"{name}/ovn-controller"] = processes.start_daemon(
            ["ovn-controller", *self._ssl_args(), f"unix:{rundir / 'db.sock'}"],
            rundir,
            "ovn-controller",
            env=self.layout.rundir_env(rundir),
        )

    def _set_tunnel_neighbours(self) -> None:
        """Static neighbour entries: the dummy datapath answers no ARP for tunnel endpoints."""
        macs = {
            name: self._vsctl_at(self.layout.chassis(name), "get", "interface", PHYS_BRIDGE, "mac_in_use")
            .strip()
            .strip('"')
            for name in self.state.chassis
        }
        for name in self.state.chassis:
            for other_index, other in enumerate(self.state.chassis, start=1):
                if other != name:
                    self.appctl(name, "tnl/neigh/set", PHYS_BRIDGE, encap_ip(other_index), macs[other])

    # ---- commands against the sandbox ------------------------------------

    def chassis_env(self, chassis: str) -> dict[str, str]:
        if chassis not in self.state.chassis:
            raise SandboxError(
                f"no chassis '{chassis}' in this sandbox; it has {', '.join(self.state.chassis)}"
            )
        return self.layout.rundir_env(self.layout.chassis(chassis))

    def env(self) -> dict[str, str]:
        """Variables that point ovn-nbctl, ovn-sbctl, ovn-trace, ovn-inject and hv1's OVS tools here.

        In an SSL sandbox the databases are reached over SSL: ovn-nbctl and ovn-sbctl
        take the files from ``OVN_NBCTL_OPTIONS``/``OVN_SBCTL_OPTIONS``, ovn-inject from
        ``OVN_INJECT_PRIVATE_KEY``.. (other OVN tools take ``$OVN_SBCTL_OPTIONS`` as arguments).
        """
        env = {
            "OVN_NB_DB": self.nb_daemon_remote,
            "OVN_SB_DB": self.sb_daemon_remote,
            INJECT_DB_ENV: self.inject_daemon_remote,
        }
        if self.ssl is not None:
            args = " ".join(self.ssl.ovs_args())
            env.update(OVN_NBCTL_OPTIONS=args, OVN_SBCTL_OPTIONS=args)
            for field, variable in SSL_ENV.items():
                if getattr(self.ssl, field) is not None:
                    env[variable] = str(getattr(self.ssl, field))
        env.update(self.layout.rundir_env(self.layout.central))
        for key, value in self.state.extra.items():
            if key.startswith("env:"):
                env[key[4:]] = str(value)
        return env

    def nbctl(self, *args: str, timeout: float = 30.0) -> str:
        return processes.run(
            ["ovn-nbctl", f"--db={self.nb_remote}", f"--timeout={timeout:g}", *args],
            timeout=timeout + 5,
        ).stdout

    def sbctl(self, *args: str, timeout: float = 30.0) -> str:
        return processes.run(
            ["ovn-sbctl", f"--db={self.sb_remote}", f"--timeout={timeout:g}", *args],
            timeout=timeout + 5,
        ).stdout

    def vsctl(self, chassis: str, *args: str) -> str:
        self.chassis_env(chassis)
        return self._vsctl_at(self.layout.chassis(chassis), *args)

    def _vsctl_at(self, rundir: Path, *args: str) -> str:
        return processes.run(["ovs-vsctl", f"--db=unix:{rundir / 'db.sock'}", "--timeout=20", *args]).stdout

    def appctl(self, chassis: str, *args: str, target: str = "ovs-vswitchd") -> str:
        return processes.run(["ovs-appctl", "-t", target, *args], env=self.chassis_env(chassis)).stdout

    def ofctl(self, chassis: str, *args: str) -> str:
        return processes.run(["ovs-ofctl", *args], env=self.chassis_env(chassis)).stdout

    def northd_appctl(self, *args: str) -> str:
        return processes.run(
            ["ovn-appctl", "-t", "ovn-northd", *args],
            env=self.layout.rundir_env(self.layout.central),
        ).stdout

    def controller_appctl(self, chassis: str, *args: str) -> str:
        return processes.run(
            ["ovn-appctl", "-t", "ovn-controller", *args], env=self.chassis_env(chassis)
        ).stdout

    # ---- ports and packets ---------------------------------------------------

    def bind_port(self, lport: str, chassis: str) -> None:
        """Plug an OVS interface named after ``lport`` into ``chassis``'s br-int, with pcaps."""
        rundir = self.layout.chassis(chassis)
        self.vsctl(
            chassis,
            "add-port",
            INTEGRATION_BRIDGE,
            lport,
            "--",
            "set",
            "interface",
            lport,
            f"external-ids:iface-id={lport}",
            f"options:tx_pcap={rundir / (lport + '-tx.pcap')}",
            f"options:rxq_pcap={rundir / (lport + '-rx.pcap')}",
        )
        self.state.bindings[lport] = chassis
        self.save()

    def unbind_port(self, lport: str) -> None:
        chassis = self.chassis_of(lport)
        self.vsctl(chassis, "--if-exists", "del-port", INTEGRATION_BRIDGE, lport)
        del self.state.bindings[lport]
        self.save()

    def chassis_of(self, lport: str) -> str:
        try:
            return self.state.bindings[lport]
        except KeyError:
            raise SandboxError(f"logical port '{lport}' is not bound in this sandbox") from None

    def wait_ports_up(self, lports: Iterable[str], timeout: float = 10.0) -> None:
        args: list[str] = []
        for lport in lports:
            args += ["--", "wait-until", "logical_switch_port", lport, "up=true"]
        if args:
            self.nbctl(*args[1:], timeout=timeout)

    def send(self, lport: str, packet: bytes | str) -> None:
        """Inject one packet (bytes, or an OVS datapath flow string) as if ``lport``'s VM sent it."""
        text = packet.hex() if isinstance(packet, bytes) else packet
        self.appctl(self.chassis_of(lport), "netdev-dummy/receive", lport, text)

    def tx_pcap(self, lport: str) -> Path:
        return self.layout.chassis(self.chassis_of(lport)) / f"{lport}-tx.pcap"

    def transmitted(self, lport: str) -> list[bytes]:
        """Every frame OVS has delivered to ``lport``'s VM so far, oldest first."""
        from ovn_inject.sandbox.packets import read_pcap

        return read_pcap(self.tx_pcap(lport))

    def ofproto_trace(self, chassis: str, flow: str, bridge: str = INTEGRATION_BRIDGE) -> str:
        return self.appctl(chassis, "ofproto/trace", bridge, flow)

    def ovn_trace(self, datapath: str, microflow: str, *options: str) -> str:
        return processes.run(["ovn-trace", f"--db={self.sb_remote}", *options, datapath, microflow]).stdout

    def status(self) -> list[tuple[str, int, bool]]:
        return [(name, pid, processes.is_alive(pid)) for name, pid in self.state.pids.items()]

    def processes_alive(self) -> Sequence[int]:
        return [pid for pid in self.state.pids.values() if processes.is_alive(pid)]
