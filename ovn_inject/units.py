"""systemd units for a real deployment, rendered from the templates in ``templates/systemd``.

Units are templates rather than files because every site names its
databases, run directory and Python environment differently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import jinja2

from ovn_inject.errors import OvnInjectError

_CANDIDATES = (
    Path(__file__).resolve().parent / "data" / "templates",
    Path(__file__).resolve().parents[1] / "templates",
)
#: template -> where the rendered file goes, relative to the output directory
UNITS = {
    "ovn-inject-sbgate.service.j2": "ovn-inject-sbgate.service",
    "ovn-inject-northd.service.j2": "ovn-inject-northd.service",
    "ovn-inject-gateway.service.j2": "ovn-inject-gateway.service",
    "ovn-northd-gate.conf.j2": "ovn-northd.service.d/ovn-inject-gate.conf",
}


@dataclass(frozen=True)
class Site:
    ovn_inject: str  # the ovn-inject executable (in its virtualenv)
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
    values = {**asdict(site), "gate_remote": site.gate_remote}
    return {target: env.get_template(name).render(**values) for name, target in UNITS.items()}


def write(site: Site, output: Path) -> list[Path]:
    written = []
    for relative, text in render(site).items():
        path = output / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
