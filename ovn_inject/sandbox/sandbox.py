"""A complete OVN in userspace: NB/SB ovsdb-servers, ovn-northd and N chassis.

Each chassis has its own Open_vSwitch database, an ``ovs-vswitchd`` with the
dummy datapath and an ``ovn-controller``. Chassis reach each other through
geneve tunnels whose outer packets travel over a hub bridge in a separate
vswitchd, connected by unix-socket streams (as in OVN's own test suite), so
no packet ever touches the host's network.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ovn_inject.constants import GATEWAY_ENV, INJECT_DB_ENV, INJECT_DB_NAME
from ovn_inject.errors import SandboxError
from ovn_inject.sandbox import processes
from ovn_inject.sandbox.layout import (
    HUB_BRIDGE,
    INTEGRATION_BRIDGE,
    PHYS_BRIDGE,
    Layout,
    chassis_name,
    encap_ip,
)

SCHEMA_DIRS = (
    Path("/usr/share/openvswitch"),
    Path("/usr/share/ovn"),
    Path("/usr/local/share/ovn"),
    Path("/usr/local/share/openvswitch"),
)
DEFAULT_DIR = Path(".sandbox")


def find_schema(name: str) -> Path:
    for directory in SCHEMA_DIRS:
        path = directory / name
        if path.exists():
            return path
    raise SandboxError(f"schema {name} not found in {', '.join(map(str, SCHEMA_DIRS))}; run 'make deps'")


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


class Sandbox:
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
    ) -> None:
        """Start NB, SB, the northd gate, northd, ovn-inject's daemon, the tunnel hub and the chassis.

        ``gate=False`` connects northd straight to SB; ``sb_cluster=3`` runs SB as a
        3-member RAFT cluster; ``gate_record`` makes the gate log what it sends northd;
        ``inject=False`` leaves ovn-inject's compiler daemon out.
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
        ):
            processes.require(program)
        self._prepare_directory()
        self.state = State()
        self.state.extra.update(gate=gate, sb_cluster=sb_cluster, gate_record=gate_record)
        try:
            self._start_central()
            self._start_hub()
            for index in range(1, chassis + 1):
                self._start_chassis(index)
            self._set_tunnel_neighbours()
            if inject and gate:
                self.start_inject_northd()
                self.start_gateway()
        except BaseException:
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

    # ---- central services -------------------------------------------------

    def _start_ovsdb(
        self, name: str, schema: str, tcp: bool, extra_dbs: Sequence[Path] = ()
    ) -> tuple[int, int]:
        rundir = self.layout.central
        rundir.mkdir(parents=True, exist_ok=True)
        processes.run(["ovsdb-tool", "create", str(rundir / f"{name}.db"), str(find_schema(schema))])
        return self._serve_ovsdb(name, 0 if tcp else None, extra_dbs)

    def _serve_ovsdb(
        self, name: str, tcp_port: int | None, extra_dbs: Sequence[Path] = ()
    ) -> tuple[int, int]:
        """Start ovsdb-server on ``name.db`` (existing), on ``name.sock`` and optionally TCP."""
        rundir = self.layout.central
        remotes = [f"--remote=punix:{rundir / (name + '.sock')}"]
        if tcp_port is not None:
            remotes.append(f"--remote=ptcp:{tcp_port}:127.0.0.1")
        log = rundir / f"{name}.log"
        log_size = log.stat().st_size if log.exists() else 0
        pid = processes.start_daemon(
            [
                "ovsdb-server",
                f"--unixctl={rundir / (name + '.ctl')}",
                *remotes,
                str(rundir / f"{name}.db"),
                *map(str, extra_dbs),
            ],
            rundir,
            name,
        )
        if tcp_port is None:
            return pid, 0
        if tcp_port:
            return pid, tcp_port
        return pid, processes.listening_port(log, "ptcp:0:127.0.0.1", skip=log_size)

    def _start_central(self) -> None:
        inject_db = self._create_inject_db()
        self.state.pids["nb"], self.state.nb_tcp = self._start_ovsdb(
            "ovnnb_db", "ovn-nb.ovsschema", True, extra_dbs=[inject_db]
        )
        self._init_inject_db()
        if self.sb_members:
            self._start_sb_cluster(self.sb_members)
        else:
            self.state.pids["sb"], self.state.sb_tcp = self._start_ovsdb("ovnsb_db", "ovn-sb.ovsschema", True)
        self.nbctl("init")
        if self.gated:
            self.start_gate()
        self.start_northd()

    # ---- a clustered SB -----------------------------------------------------------

    @property
    def sb_members(self) -> int:
        """Members of the clustered SB, 0 for a standalone SB."""
        members = self.state.extra.get("sb_cluster", 0)
        return members if isinstance(members, int) else 0

    @property
    def _sb_tcp_ports(self) -> list[int]:
        ports = self.state.extra.get("sb_tcp_ports")
        return [int(port) for port in ports] if isinstance(ports, list) else [self.state.sb_tcp]

    def _sb_member_name(self, member: int) -> str:
        return f"ovnsb_db{member}"

    def _start_sb_cluster(self, members: int) -> None:
        """A RAFT cluster: members talk over unix sockets, serve clients on a socket and TCP each."""
        rundir = self.layout.central
        rundir.mkdir(parents=True, exist_ok=True)
        schema = str(find_schema("ovn-sb.ovsschema"))
        raft = [f"unix:{rundir / f'ovnsb_db{m}.raft'}" for m in range(1, members + 1)]
        ports: list[int] = []
        for member in range(1, members + 1):
            db = str(rundir / f"{self._sb_member_name(member)}.db")
            if member == 1:
                processes.run(["ovsdb-tool", "create-cluster", db, schema, raft[0]])
            else:
                processes.run(["ovsdb-tool", "join-cluster", db, "OVN_Southbound", raft[member - 1], raft[0]])
            key = f"sb{member}"
            self.state.pids[key], port = self._serve_ovsdb(self._sb_member_name(member), 0)
            ports.append(port)
        self.state.extra["sb_tcp_ports"] = ports
        self.state.sb_tcp = ports[0]
        self.wait_sb_cluster()

    def wait_sb_cluster(self, timeout: float = 20.0) -> None:
        """Wait until every running member has joined and the cluster has a leader."""
        for member in range(1, self.sb_members + 1):
            if f"sb{member}" not in self.state.pids:
                continue
            processes.run(
                [
                    "ovsdb-client",
                    f"--timeout={timeout:g}",
                    "wait",
                    f"unix:{self.layout.sb_member_socket(member)}",
                    "OVN_Southbound",
                    "connected",
                ],
                timeout=timeout + 5,
            )
        self.sbctl("list", "SB_Global", timeout=timeout)

    def restart_sb(self, member: int | None = None) -> None:
        """Stop and restart the SB ovsdb-server (or one member of the cluster) on the same addresses."""
        if self.sb_members:
            chosen = [member] if member else list(range(1, self.sb_members + 1))
            ports = self._sb_tcp_ports
            for m in chosen:
                self.stop(f"sb{m}")
            for m in chosen:
                self.state.pids[f"sb{m}"], _ = self._serve_ovsdb(self._sb_member_name(m), ports[m - 1])
            self.save()
            self.wait_sb_cluster()
            return
        self.stop("sb")
        self.state.pids["sb"], _ = self._serve_ovsdb("ovnsb_db", self.state.sb_tcp)
        self.save()

    # ---- the northd gate ------------------------------------------------------------

    @property
    def gated(self) -> bool:
        return bool(self.state.extra.get("gate", False))

    @property
    def gate_record(self) -> Path:
        """Every message the gate sent northd, one per line (with ``gate_record=True``)."""
        return self.layout.central / "sbgate-record.jsonl"

    def start_gate(self) -> None:
        argv = ["sbgate", f"--listen=punix:{self.layout.sbgate_socket}", f"--remote={self.sb_remote}"]
        if self.state.extra.get("gate_record"):
            argv.append(f"--record={self.gate_record}")
        self._start_python_daemon("sbgate", argv)

    def start_inject_northd(self, name: str = "inject-northd") -> None:
        """ovn-inject's compiler daemon; a second one (another name) waits as standby."""
        rundir = self.layout.central
        self._start_python_daemon(
            name,
            [
                "northd",
                f"--nb={self.nb_remote}",
                f"--sb={self.sb_remote}",
                f"--inject-db={self.inject_remote}",
                f"--unixctl={rundir / (name + '.ctl')}",
            ],
        )

    def start_gateway(self) -> None:
        """ovn-inject's HTTP gateway on a free loopback port (``env()`` names it)."""
        port = processes.free_tcp_port()
        self._start_python_daemon(
            "gateway",
            [
                "gateway",
                f"--listen=127.0.0.1:{port}",
                f"--inject-db={self.inject_remote}",
                f"--nb={self.nb_remote}",
                f"--sb={self.sb_remote}",
            ],
        )
        self.state.extra[f"env:{GATEWAY_ENV}"] = f"http://127.0.0.1:{port}"
        self.save()

    @property
    def gateway_url(self) -> str:
        url = self.state.extra.get(f"env:{GATEWAY_ENV}")
        if not isinstance(url, str):
            raise SandboxError("this sandbox runs no gateway")
        return url

    def inject_appctl(self, *args: str, name: str = "inject-northd") -> str:
        """``ovn-appctl`` to ovn-inject's compiler daemon (status, recompute)."""
        ctl = self.layout.central / f"{name}.ctl"
        return processes.run(["ovn-appctl", "-t", str(ctl), *args]).stdout

    def _start_python_daemon(self, name: str, argv: list[str]) -> None:
        """One of ovn-inject's own daemons, started like OVS's: detached once ready, with a pidfile."""
        rundir = self.layout.central
        pidfile = rundir / f"{name}.pid"
        processes.run(
            [
                sys.executable,
                "-m",
                "ovn_inject",
                *argv,
                "--detach",
                f"--pidfile={pidfile}",
                f"--log-file={rundir / (name + '.log')}",
            ]
        )
        pid = processes.read_pid(pidfile)
        if pid is None:
            raise SandboxError(f"{name} wrote no pidfile; see {rundir / (name + '.log')}")
        self.state.pids[name] = pid
        self.save()

    def restart_gate(self) -> None:
        self.stop("sbgate")
        self.start_gate()

    def restart_gateway(self) -> None:
        if "gateway" in self.state.pids:
            self.stop("gateway")
        self.start_gateway()

    def restart_northd(self) -> None:
        self.stop("northd")
        self.start_northd()

    def restart_nb(self) -> None:
        """Restart NB's ovsdb-server (and with it OVN_Inject) on the same addresses."""
        self.stop("nb")
        self.state.pids["nb"], _ = self._serve_ovsdb("ovnnb_db", self.state.nb_tcp, [self.layout.inject_db])
        self.save()

    def restart(self, name: str) -> None:
        """Stop (if running) and start one component by its name in ``status``."""
        special = {
            "nb": self.restart_nb,
            "sb": self.restart_sb,
            "northd": self.restart_northd,
            "sbgate": self.restart_gate,
            "gateway": self.restart_gateway,
        }
        if name in special:
            special[name]()
            return
        if not name.startswith("inject-northd"):
            raise SandboxError(
                f"cannot restart '{name}'; restartable: {', '.join([*special, 'inject-northd'])}"
            )
        if name in self.state.pids:
            self.stop(name)
        self.start_inject_northd(name)

    def kill(self, name: str) -> None:
        """SIGKILL one component, as a crash would, and forget it."""
        pid = self.state.pids.pop(name, None)
        if pid is None:
            raise SandboxError(f"no process '{name}' in this sandbox")
        processes.kill(pid)
        self.save()

    def _create_inject_db(self) -> Path:
        """OVN_Inject lives in NB's ovsdb-server as a second database, never inside NB's schema."""
        from ovn_inject.db.schema import schema_path

        db = self.layout.inject_db
        db.parent.mkdir(parents=True, exist_ok=True)
        processes.run(["ovsdb-tool", "create", str(db), str(schema_path())])
        return db

    def _init_inject_db(self) -> None:
        """Insert the one Inject_Global row, as ``ovn-nbctl init`` does for NB_Global."""
        insert = json.dumps([INJECT_DB_NAME, {"op": "insert", "table": "Inject_Global", "row": {}}])
        processes.run(["ovsdb-client", "transact", self.inject_remote, insert])

    @property
    def inject_remote(self) -> str:
        """OVN_Inject is served by NB's ovsdb-server, so it shares NB's socket."""
        return self.nb_remote

    @property
    def nb_remote(self) -> str:
        return f"unix:{self.layout.nb_socket}"

    @property
    def sb_remote(self) -> str:
        if self.sb_members:
            return ",".join(f"unix:{self.layout.sb_member_socket(m)}" for m in range(1, self.sb_members + 1))
        return f"unix:{self.layout.sb_socket}"

    @property
    def nb_tcp_remote(self) -> str:
        return f"tcp:127.0.0.1:{self.state.nb_tcp}"

    @property
    def sb_tcp_remote(self) -> str:
        return ",".join(f"tcp:127.0.0.1:{port}" for port in self._sb_tcp_ports)

    @property
    def northd_sb_remote(self) -> str:
        """Where ovn-northd reads and writes SB: the northd gate, unless the sandbox runs without it."""
        if self.gated:
            return f"unix:{self.layout.sbgate_socket}"
        return self.sb_remote

    def start_northd(self, sb_remote: str | None = None) -> None:
        """Start ovn-northd on :attr:`northd_sb_remote`, or on ``sb_remote`` (benchmarks compare)."""
        rundir = self.layout.central
        self.state.pids["northd"] = processes.start_daemon(
            [
                "ovn-northd",
                f"--ovnnb-db={self.nb_remote}",
                f"--ovnsb-db={sb_remote or self.northd_sb_remote}",
            ],
            rundir,
            "ovn-northd",
            env=self.layout.rundir_env(rundir),
        )
        self.save()

    def stop(self, name: str) -> None:
        """Stop one recorded process (e.g. ``northd``, ``hv2/ovn-controller``) and forget it."""
        pid = self.state.pids.pop(name, None)
        if pid is None:
            raise SandboxError(f"no process '{name}' in this sandbox; known: {', '.join(self.state.pids)}")
        processes.stop_pids([pid])
        self.save()

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
            f"external-ids:ovn-remote={self.sb_remote}",
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
        self.state.pids[f"{name}/ovn-controller"] = processes.start_daemon(
            ["ovn-controller", f"unix:{rundir / 'db.sock'}"],
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
        """Variables that point ovn-nbctl, ovn-sbctl, ovn-trace and hv1's OVS tools here."""
        env = {"OVN_NB_DB": self.nb_remote, "OVN_SB_DB": self.sb_remote, INJECT_DB_ENV: self.inject_remote}
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
