"""The central services of a sandbox: NB (with OVN_Inject), SB (standalone or RAFT),
the northd gate, ovn-northd and ovn-inject's own daemons, with restart helpers.

A mixin of :class:`~ovn_inject.sandbox.sandbox.Sandbox`, kept apart so that
each module holds one idea: the control plane here, chassis and packets there.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from ovn_inject import prefork
from ovn_inject.constants import GATEWAY_ENV, INJECT_DB_NAME
from ovn_inject.db.ssl_options import SslOptions
from ovn_inject.errors import SandboxError
from ovn_inject.sandbox import pki, processes
from ovn_inject.sandbox.layout import Layout, State
from ovn_inject.sandbox.processes import find_schema

# What ovn-inject's daemons import in common, imported once for all of them (ovn_inject.prefork):
#: by every one;
#: The gateway's log line once it listens (it binds port 0 in a sandbox).
GATEWAY_LISTENING = re.compile(r"listening on https?://[^\s]*:(\d+)")
METRICS_LISTENING = re.compile(r"metrics on http://[^\s]*:(\d+)/metrics")
GATE_LISTENING = re.compile(r"listening on ssl:127\.0\.0\.1:(\d+)")
COMMON_MODULES = ["ovn_inject.cli", "ovn_inject.daemonize", "ovn_inject.unixctl", "ovn_inject.db.ssl_options"]
#: by the compiler daemon and the gateway (the OpenFlow daemon too, but the compiler and the metrics):
#: the IDLs, the topology, the language, the compiler, Prometheus's client;
SHARED_MODULES = [
    "ovs.db.idl",
    "ovsdbapp.backend.ovs_idl",
    "ovn_inject.lang",
    "ovn_inject.core.appflows",
    "ovn_inject.core.bound",
    "ovn_inject.core.compiler",
    "ovn_inject.core.contract",
    "ovn_inject.core.placement",
    "ovn_inject.core.policy",
    "ovn_inject.core.topology",
    "ovn_inject.core.validate",
    "ovn_inject.db.discovery",
    "ovn_inject.db.nbrows",
    "ovn_inject.db.records",
    "ovn_inject.db.rpc",
    "prometheus_client.core",
]
#: by the gateway and the OpenFlow daemon, which keeps its connections in the gateway's state.
STATE_MODULES = ["ovn_inject.gateway.state"]


class CentralServices:
    layout: Layout
    state: State

    def save(self) -> None:
        raise NotImplementedError

    def nbctl(self, *args: str, timeout: float = 30.0) -> str:
        raise NotImplementedError

    def sbctl(self, *args: str, timeout: float = 30.0) -> str:
        raise NotImplementedError

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
        """Start ovsdb-server on ``name.db`` (existing), on ``name.sock`` and optionally TCP (SSL)."""
        rundir = self.layout.central
        remotes = [f"--remote=punix:{rundir / (name + '.sock')}"]
        listen = f"p{self.net_scheme}:0:127.0.0.1"
        if tcp_port is not None:
            remotes.append(f"--remote=p{self.net_scheme}:{tcp_port}:127.0.0.1")
        if self.ssl is not None:
            # --peer-ca-cert: the CA travels with our certificate, for clients that bootstrap it.
            remotes += [*self.ssl.ovs_args(), f"--peer-ca-cert={self.ssl.ca_cert}"]
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
        return pid, processes.listening_port(log, listen, skip=log_size)

    def _start_central(self, inject: bool = False) -> None:
        """The databases; the gate and ovn-inject's own daemons (with ``inject``) launched, not waited for.

        The Python daemons' start is mostly imports: they are forked from one
        interpreter that imports what they share once (:meth:`_prefork_python_daemons`)
        and get ready while the caller brings up the
        chassis' switches; :meth:`_start_northd_when_gated` waits for the gate
        (ovn-northd's way to SB) and starts northd, :meth:`_finish_central` waits
        for the others. ovn-controllers start after northd (one started before
        it may never claim its ports on OVN 23.03).
        """
        if self.state.extra.get("ssl"):
            pki.create(self.layout.pki)
        self._launched: list[processes.Starting] = []
        self._gate: processes.Starting | None = None
        # Without SSL the daemons' remotes are sockets named in advance: their imports run
        # while the databases are created, and they start once the databases are up.
        early = self._prefork_python_daemons() if self.gated and inject and self.ssl is None else None
        inject_db = self._create_inject_db()
        self.state.pids["nb"], self.state.nb_tcp = self._start_ovsdb(
            "ovnnb_db", "ovn-nb.ovsschema", True, extra_dbs=[inject_db]
        )
        self._init_inject_db()
        if self.sb_members:
            self._start_sb_cluster(self.sb_members)
        else:
            self.state.pids["sb"], self.state.sb_tcp = self._start_ovsdb("ovnsb_db", "ovn-sb.ovsschema", True)
        if early is not None:
            early.go()
        elif self.gated and inject:
            self._prefork_python_daemons().go()
        elif self.gated:
            self._gate = self._launch_python_daemon("sbgate", self._gate_argv())
        self.nbctl("init")

    def _start_northd_when_gated(self) -> None:
        """ovn-northd, once the gate it reaches SB through (if any) is ready; return once it has run.

        ``--wait=sb sync`` returns once northd has read NB and written SB: an ovn-controller
        started before that may never claim its ports on OVN 23.03.
        """
        gate, self._gate = getattr(self, "_gate", None), None
        if gate is not None:
            try:
                self._finish_python_daemon(gate)
            finally:
                gate.abandon()
        self.start_northd()
        self.nbctl("--wait=sb", "sync")

    def _finish_central(self) -> None:
        """Wait until each daemon :meth:`_start_central` launched says it is ready."""
        launched, self._launched = getattr(self, "_launched", []), []
        gate = getattr(self, "_gate", None)
        if gate is not None:
            launched.insert(0, gate)
            self._gate = None
        try:
            for daemon in launched:
                self._finish_python_daemon(daemon)
        finally:
            for daemon in launched:
                daemon.abandon()

    @property
    def ssl(self) -> SslOptions | None:
        """The shared SSL files of an SSL sandbox (``up(ssl=True)``), else None."""
        return pki.options(self.layout.pki) if self.state.extra.get("ssl") else None

    @property
    def net_scheme(self) -> str:
        """How the TCP ports of the ovsdb-servers and the gate speak: ``ssl`` or ``tcp``."""
        return "ssl" if self.ssl is not None else "tcp"

    def _ssl_args(self, prefix: str = "--") -> list[str]:
        if self.ssl is None:
            return []
        return [prefix + arg.removeprefix("--") for arg in self.ssl.ovs_args()]

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
        """(Re)start SB's ovsdb-server, or one member of the cluster (also a killed one), on its addresses."""
        if self.sb_members:
            chosen = [member] if member else list(range(1, self.sb_members + 1))
            ports = self._sb_tcp_ports
            for m in chosen:
                if f"sb{m}" in self.state.pids:  # not if it was killed
                    self.stop(f"sb{m}")
            for m in chosen:
                self.state.pids[f"sb{m}"], _ = self._serve_ovsdb(self._sb_member_name(m), ports[m - 1])
            self.save()
            self.wait_sb_cluster()
            return
        self.stop("sb")
        self.state.pids["sb"], _ = self._serve_ovsdb("ovnsb_db", self.state.sb_tcp)
        self.save()

    @property
    def gated(self) -> bool:
        return bool(self.state.extra.get("gate", False))

    @property
    def gate_record(self) -> Path:
        """Every message the gate sent northd, one per line (with ``gate_record=True``)."""
        return self.layout.central / "sbgate-record.jsonl"

    def start_gate(self) -> None:
        self._start_python_daemon("sbgate", self._gate_argv())

    def _gate_argv(self) -> list[str]:
        listen = f"punix:{self.layout.sbgate_socket}"
        if self.ssl is not None:
            # Port 0 the first time, read back from its log (_gate_port); a restart takes the same
            # port again, the one northd was given.
            listen = f"pssl:{self.state.extra.get('sbgate_port', 0)}:127.0.0.1"
        argv = ["sbgate", f"--listen={listen}", f"--sb-db={self.sb_daemon_remote}", *self._ssl_args()]
        if self.state.extra.get("gate_record"):
            argv.append(f"--record={self.gate_record}")
        return argv

    def start_inject_northd(self, name: str = "inject-northd") -> None:
        """ovn-inject's compiler daemon; a second one (another name) waits as standby."""
        self._start_python_daemon(name, self._inject_northd_argv())

    def _inject_northd_argv(self) -> list[str]:
        return [
            "northd",
            f"--nb-db={self.nb_daemon_remote}",
            f"--sb-db={self.sb_daemon_remote}",
            f"--inject-db={self.inject_daemon_remote}",
            *self._ssl_args(),
        ]

    def start_gateway(self) -> None:
        """ovn-inject's HTTP gateway on a free loopback port (``env()`` names it)."""
        self._start_python_daemon("gateway", self._gateway_argv())

    def _gateway_argv(self) -> list[str]:
        # Port 0: the gateway binds a free port itself and logs it (read once it is ready). A port
        # picked here first could be taken by another process before the gateway binds it.
        return [
            "gateway",
            "--listen=127.0.0.1:0",
            f"--inject-db={self.inject_daemon_remote}",
            f"--nb-db={self.nb_daemon_remote}",
            f"--sb-db={self.sb_daemon_remote}",
            *self._ssl_args("--db-"),
            # Tests drive one service hard; a deployment keeps the default rate limit.
            "--rate-limit=0",
        ]

    def start_ofswitch(self) -> None:
        """ovn-inject's OpenFlow endpoints (each service with openflow_targets as a switch)."""
        self._start_python_daemon("ofswitch", self._ofswitch_argv())

    def _ofswitch_argv(self) -> list[str]:
        return ["ofswitch", f"--inject-db={self.inject_remote}", f"--nb-db={self.nb_remote}"]

    @property
    def gateway_url(self) -> str:
        url = self.state.extra.get(f"env:{GATEWAY_ENV}")
        if not isinstance(url, str):
            raise SandboxError("this sandbox runs no gateway")
        return url

    def inject_appctl(self, *args: str, name: str = "inject-northd") -> str:
        """``ovn-appctl`` to one of ovn-inject's daemons (``inject-northd``, ``sbgate``, ``gateway``)."""
        ctl = self.layout.central / f"{name}.ctl"
        return processes.run(["ovn-appctl", "-t", str(ctl), *args]).stdout

    def _start_python_daemon(self, name: str, argv: list[str]) -> None:
        """One of ovn-inject's own daemons, started like OVS's: detached once ready, with a pidfile."""
        self._finish_python_daemon(self._launch_python_daemon(name, argv))

    def _launch_python_daemon(self, name: str, argv: list[str]) -> processes.Launched:
        return processes.Launched([sys.executable, "-m", "ovn_inject", *self._daemon_args(name, argv)], name)

    def _prefork_python_daemons(self) -> prefork.Prefork:
        """The gate, the compiler daemon, the gateway and the OpenFlow daemon, forked from one
        interpreter that imports what they share once; they start on :meth:`prefork.Prefork.go`.

        Each gets ready as if launched on its own (:meth:`_launch_python_daemon`),
        the gate first: northd waits for it, the others only the end of up().
        """
        daemons = {
            "sbgate": self._gate_argv(),
            "inject-northd": self._inject_northd_argv(),
            "gateway": self._gateway_argv(),
            "ofswitch": self._ofswitch_argv(),
        }
        args = {name: self._daemon_args(name, argv) for name, argv in daemons.items()}
        plan: prefork.Plan = [
            ["import", COMMON_MODULES],
            ["import", SHARED_MODULES],
            ["wait"],
            *(["start", name, args[name]] for name in ("sbgate", "inject-northd")),
            ["import", STATE_MODULES],
            *(["start", name, args[name]] for name in ("gateway", "ofswitch")),
        ]
        commands = {name: [sys.executable, "-m", "ovn_inject", *a] for name, a in args.items()}
        group = prefork.Prefork(plan, commands)
        members: list[processes.Starting] = [group.member(name) for name in args]
        self._gate, *self._launched = members
        return group

    def _daemon_args(self, name: str, argv: list[str]) -> list[str]:
        rundir = self.layout.central
        return [
            *argv,
            "--detach",
            f"--pidfile={rundir / (name + '.pid')}",
            f"--log-file={rundir / (name + '.log')}",
            f"--unixctl={rundir / (name + '.ctl')}",
        ]

    def _finish_python_daemon(self, launched: processes.Starting) -> None:
        name, rundir = launched.name, self.layout.central
        launched.wait()
        pid = processes.read_pid(rundir / f"{name}.pid")
        if pid is None:
            raise SandboxError(f"{name} wrote no pidfile; see {rundir / (name + '.log')}")
        self.state.pids[name] = pid
        if name == "gateway":
            self.state.extra[f"env:{GATEWAY_ENV}"] = f"http://127.0.0.1:{self._gateway_port()}"
        if name == "sbgate" and self.ssl is not None:
            self.state.extra["sbgate_port"] = self._logged_port("sbgate", GATE_LISTENING)
        self.save()

    def _gateway_port(self) -> int:
        """The port the gateway logged last (``listening on http://HOST:PORT``: it binds port 0)."""
        return self._logged_port("gateway", GATEWAY_LISTENING)

    def _logged_port(self, name: str, pattern: re.Pattern[str]) -> int:
        """The port daemon ``name`` logged last, by ``pattern`` (daemons that bind port 0)."""
        return processes.logged_port(self.layout.central / f"{name}.log", pattern, name)

    def restart_gate(self) -> None:
        self.stop("sbgate")
        self.start_gate()

    def restart_gateway(self) -> None:
        if "gateway" in self.state.pids:
            self.stop("gateway")
        self.start_gateway()

    def restart_ofswitch(self) -> None:
        if "ofswitch" in self.state.pids:
            self.stop("ofswitch")
        self.start_ofswitch()

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
            "ofswitch": self.restart_ofswitch,
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
        """NB's TCP port: ``ssl:`` in an SSL sandbox, else ``tcp:``."""
        return f"{self.net_scheme}:127.0.0.1:{self.state.nb_tcp}"

    @property
    def sb_tcp_remote(self) -> str:
        return ",".join(f"{self.net_scheme}:127.0.0.1:{port}" for port in self._sb_tcp_ports)

    # Daemons (ovn-northd, the chassis, ovn-inject's) and ``env()``'s tools reach the
    # databases over SSL in an SSL sandbox; the sandbox's own helpers keep the sockets.

    @property
    def nb_daemon_remote(self) -> str:
        return self.nb_tcp_remote if self.ssl is not None else self.nb_remote

    @property
    def sb_daemon_remote(self) -> str:
        return self.sb_tcp_remote if self.ssl is not None else self.sb_remote

    @property
    def inject_daemon_remote(self) -> str:
        return self.nb_daemon_remote

    @property
    def northd_sb_remote(self) -> str:
        """Where ovn-northd reads and writes SB: the northd gate, unless the sandbox runs without it."""
        if self.gated and self.ssl is not None:
            return f"ssl:127.0.0.1:{self.state.extra['sbgate_port']}"
        if self.gated:
            return f"unix:{self.layout.sbgate_socket}"
        return self.sb_daemon_remote

    def start_northd(self, sb_remote: str | None = None) -> None:
        """Start ovn-northd on :attr:`northd_sb_remote`, or on ``sb_remote`` (benchmarks compare)."""
        rundir = self.layout.central
        self.state.pids["northd"] = processes.start_daemon(
            [
                "ovn-northd",
                f"--ovnnb-db={self.nb_daemon_remote}",
                f"--ovnsb-db={sb_remote or self.northd_sb_remote}",
                *self._ssl_args(),
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
