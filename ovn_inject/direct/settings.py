"""What the database commands' options say (remotes, timeout, format, --wait, SSL files), without click.

The click options of :mod:`ovn_inject.cli.db_options` fill a :class:`Settings`;
so does :mod:`ovn_inject.direct.dispatch`, from the same arguments.
"""

from __future__ import annotations

import os

from ovn_inject.constants import DEFAULT_TENANT_KEY, INJECT_DB_ENV, NB_DB_ENV, SB_DB_ENV
from ovn_inject.records import record

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from pathlib import Path

    from ovn_inject.db.ssl_options import SslOptions

#: How long --wait waits when no --timeout is given (it would otherwise hang
#: forever while no compiler daemon runs).
DEFAULT_WAIT_TIMEOUT = 10.0
DEFAULT_TIMEOUT = 30.0


def _default_remote(env: str, socket: str) -> str:
    rundir = os.environ.get("OVN_RUNDIR", "/var/run/ovn")
    return os.environ.get(env) or f"unix:{rundir}/{socket}"


@record
class Settings:
    inject_db: str | None = None
    nb_db: str | None = None
    sb_db: str | None = None
    timeout: float | None = None
    format: str | None = None
    wait: str | None = None
    tenant_key: str | None = None
    private_key: Path | None = None
    certificate: Path | None = None
    ca_cert: Path | None = None
    bootstrap_ca_cert: Path | None = None
    may_exist: bool = False
    if_exists: bool = False

    def ssl(self, prefix: str = "--") -> SslOptions:
        from ovn_inject.db.ssl_options import SslOptions

        return SslOptions(self.private_key, self.certificate, self.ca_cert, self.bootstrap_ca_cert, prefix)

    @property
    def inject_remote(self) -> str:
        # OVN_Inject is served by NB's ovsdb-server by default, hence NB's socket.
        return self.inject_db or _default_remote(INJECT_DB_ENV, "ovnnb_db.sock")

    @property
    def nb_remote(self) -> str:
        return self.nb_db or _default_remote(NB_DB_ENV, "ovnnb_db.sock")

    @property
    def sb_remote(self) -> str:
        return self.sb_db or _default_remote(SB_DB_ENV, "ovnsb_db.sock")

    @property
    def db_timeout(self) -> float:
        return self.timeout if self.timeout else DEFAULT_TIMEOUT

    @property
    def wait_timeout(self) -> float:
        return self.timeout if self.timeout else DEFAULT_WAIT_TIMEOUT

    @property
    def output(self) -> str:
        return self.format or "table"

    @property
    def tenant(self) -> str:
        return self.tenant_key or DEFAULT_TENANT_KEY

    @property
    def wait_column(self) -> str | None:
        """The Inject_Global column --wait follows (``sb_cfg``, ``hv_cfg``), or None without --wait."""
        wait = self.wait or "none"
        return None if wait == "none" else "sb_cfg" if wait == "sb" else "hv_cfg"

    def ssl_ready(self, *remotes: str) -> None:
        """Hand the SSL options to python-ovs before connecting to ``remotes`` (a clear error if unusable)."""
        files = (self.private_key, self.certificate, self.ca_cert, self.bootstrap_ca_cert)
        if all(f is None for f in files) and not any("ssl:" in r for r in remotes):
            return  # nothing to check: spare the import of ssl and python-ovs's SSL setup
        self.ssl().apply(remotes, self.db_timeout)

    def not_in_time(self, rows: list[str], cfg: int, current: int) -> Exception:
        """The error of a --wait that timed out: the change is committed, the daemon did not follow."""
        from ovn_inject.db.errors import InjectDbError

        column = self.wait_column
        what = "written to SB" if column == "sb_cfg" else "installed on every chassis"
        committed = f" ({', '.join(rows)})" if rows else ""
        return InjectDbError(
            f"the change is committed{committed} but was not {what} within {self.wait_timeout:g} s "
            f"(Inject_Global.{column} = {current} < cfg = {cfg}); "
            "is 'ovn-inject northd' running?"
        )
