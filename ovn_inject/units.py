"""systemd units for a real deployment, rendered from the templates in ``templates/systemd``.

Units are templates rather than files because every site names its
databases, run directory and program path differently. Nothing is taken
from the renderer's environment: every value is an option of
``ovn-inject systemd-units`` with a default that fits Debian's packaging.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jinja2

from ovn_inject.errors import OvnInjectError

_CANDIDATES = (
    Path(__file__).resolve().parent / "data" / "templates",
    Path(__file__).resolve().parents[1] / "templates",
)
#: template -> where the rendered file goes, relative to the output directory
UNITS = {
    "ovn-inject-ovsdb.service.j2": "ovn-inject-ovsdb.service",
    "ovn-inject-sbgate.service.j2": "ovn-inject-sbgate.service",
    "ovn-inject-northd.service.j2": "ovn-inject-northd.service",
    "ovn-inject-gateway.service.j2": "ovn-inject-gateway.service",
    "ovn-northd-gate.conf.j2": "ovn-northd.service.d/ovn-inject-gate.conf",
}
INJECT_UNIT = "ovn-inject-ovsdb.service"
#: Debian's units of OVN's own databases (ovn-central).
OVN_DB_UNITS = ("ovn-ovsdb-server-nb.service", "ovn-ovsdb-server-sb.service")
#: Where Debian's ovn-ctl reads ovn-northd's database options from, when the file exists.
NORTHD_DB_PARAMS = "/etc/ovn/ovn-northd-db-params.conf"


@dataclass(frozen=True)
class Site:
    ovn_inject: str  # the ovn-inject program, e.g. /usr/bin/ovn-inject or /opt/ovn-inject/bin/ovn-inject
    nb: str
    sb: str
    inject_db: str
    gate_listen: str  # where the gate listens, e.g. punix:/run/ovn/ovn-inject-sbgate.sock
    tenant_key: str
    rundir: str = "/run/ovn"
    logdir: str = "/var/log/ovn"
    gateway_listen: str = "127.0.0.1:8470"
    private_key: str | None = None  # TLS for the gateway, with certificate
    certificate: str | None = None
    ca_cert: str | None = None  # client certificates required, signed by this CA
    user: str = "root"
    group: str = "root"
    dbdir: str = "/var/lib/ovn-inject"
    ovsdb_server: str = "/usr/sbin/ovsdb-server"
    own_db: bool = True  # render ovn-inject-ovsdb.service and make the daemons require it
    inject_listen: tuple[str, ...] = ()  # more remotes of that server, e.g. ptcp:6645
    cluster_local: str | None = None  # RAFT: this member's address, e.g. tcp:10.0.0.1:6646
    cluster_remote: str | None = None  # RAFT: a member of the cluster to join (none: create it)
    requires: tuple[str, ...] = field(default=OVN_DB_UNITS)  # units the daemons need (After= too)
    northd_db_params: str = NORTHD_DB_PARAMS
    params_dir: str = "/run/ovn/ovn-inject-sysconf"
    northd_metrics: str | None = None
    gateway_metrics: str | None = None

    @property
    def gate_remote(self) -> str:
        """What ovn-northd connects to: the gate's listen address as a client remote."""
        kind, _, rest = self.gate_listen.partition(":")
        if kind == "punix":
            return f"unix:{rest}"
        if kind == "ptcp":
            port, _, host = rest.partition(":")
            return f"tcp:{host or '127.0.0.1'}:{port}"
        raise OvnInjectError(f"--gate-listen must be punix:PATH or ptcp:PORT[:IP], not '{self.gate_listen}'")


def _environment() -> jinja2.Environment:
    for directory in _CANDIDATES:
        if (directory / "systemd").is_dir():
            return jinja2.Environment(
                loader=jinja2.FileSystemLoader(str(directory / "systemd")),
                undefined=jinja2.StrictUndefined,
                keep_trailing_newline=True,
                autoescape=False,
            )
    raise OvnInjectError("the systemd templates are missing from this installation")


def render(site: Site) -> dict[str, str]:
    """Relative file name -> rendered text, for every unit."""
    env = _environment()
    values = {
        **asdict(site),
        "gate_remote": site.gate_remote,
        "requires": list(site.requires),
        "requires_all": [*site.requires, *([INJECT_UNIT] if site.own_db else [])],
    }
    return {
        target: env.get_template(name).render(**values)
        for name, target in UNITS.items()
        if site.own_db or target != INJECT_UNIT
    }


def write(site: Site, output: Path) -> list[Path]:
    written = []
    for relative, text in render(site).items():
        path = output / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


_SB_OPTION = re.compile(r"^--ovnsb-db(=.*)?$")


def northd_db_params(text: str, gate: str) -> str:
    """ovn-northd's database options (ovn-northd-db-params.conf) with SB replaced by the gate.

    ovn-ctl pastes the file's text into northd's command line unquoted, so
    it is read here as shell words: ``--ovnsb-db=X`` and ``--ovnsb-db X``
    become ``--ovnsb-db=GATE``; every other option stays as it was.
    """
    try:
        words = shlex.split(text, comments=False)
    except ValueError as exc:
        raise OvnInjectError(f"cannot read ovn-northd's database options: {exc}") from None
    out: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        found = _SB_OPTION.match(word)
        if found:
            skip = found.group(1) is None  # the value is the next word
            continue
        out.append(word)
    out.append(f"--ovnsb-db={gate}")
    return " ".join(shlex.quote(w) for w in out) + "\n"
