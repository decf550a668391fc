"""Options every OVN_Inject command takes, before the command (on ``ovn-inject``) or after it.

``ovn-inject --wait=sb service-add ...`` and ``ovn-inject service-add ... --wait=sb``
mean the same, as with ovn-nbctl; an option given after the command wins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ovn_inject.constants import DEFAULT_TENANT_KEY, INJECT_DB_ENV, NB_DB_ENV, SB_DB_ENV, SSL_ENV
from ovn_inject.direct.settings import DEFAULT_WAIT_TIMEOUT, Settings

if TYPE_CHECKING:
    from ovn_inject.db.impl_idl import InjectDbApiIdlImpl

F = TypeVar("F", bound=Callable[..., Any])


def _store(field: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is not None:
            setattr(ctx.ensure_object(Settings), field, value)

    return callback


def _option(*decls: str, field: str, **kwargs: Any) -> click.Option:
    return click.Option(
        list(decls), expose_value=False, is_eager=True, callback=_store(field), default=None, **kwargs
    )


def _ssl_options(prefix: str = "--", short: bool = True) -> list[click.Option]:
    """--private-key, --certificate, --ca-cert, --bootstrap-ca-cert, as OVN's tools spell them."""
    helps = {
        "private_key": ("-p", "PEM private key for ssl: database remotes"),
        "certificate": ("-c", "PEM certificate of that key (signed by the CA the servers trust)"),
        "ca_cert": ("-C", "PEM CA certificate that ssl: servers must be signed by"),
        "bootstrap_ca_cert": (
            "",
            f"Like {prefix}ca-cert; if FILE is missing, trust the server's CA and write it",
        ),
    }
    return [
        _option(
            prefix + field.replace("_", "-"),
            *([flag] if short and flag else []),
            field=field,
            type=click.Path(path_type=Path, dir_okay=False),
            metavar="FILE",
            envvar=SSL_ENV[field],
            help=f"{text} (default: ${SSL_ENV[field]}).",
        )
        for field, (flag, text) in helps.items()
    ]


def ssl_options(prefix: str = "--", short: bool = True) -> Callable[[F], F]:
    """Add the SSL options to a daemon command; it reads them with ``settings().ssl(prefix)``."""

    def decorate(function: F) -> F:
        command_params = getattr(function, "__click_params__", [])
        command_params.extend(reversed(_ssl_options(prefix, short)))
        function.__click_params__ = command_params  # type: ignore[attr-defined]
        return function

    return decorate


def _connection_options() -> list[click.Option]:
    option = _option
    return [
        option(
            "--inject-db",
            "--db",
            field="inject_db",
            metavar="REMOTE",
            help=f"OVN_Inject database (default: ${INJECT_DB_ENV}, else NB's socket).",
        ),
        option("--nb-db", field="nb_db", metavar="REMOTE", help=f"OVN NB (default: ${NB_DB_ENV})."),
        option("--sb-db", field="sb_db", metavar="REMOTE", help=f"OVN SB (default: ${SB_DB_ENV})."),
        option(
            "--timeout",
            "-t",
            field="timeout",
            type=click.FloatRange(min=0),
            metavar="SECS",
            help=f"Give up after SECS (0: default; --wait defaults to {DEFAULT_WAIT_TIMEOUT:g} s).",
        ),
        option(
            "--tenant-key",
            field="tenant_key",
            metavar="KEY",
            help=f"NB external_ids key naming a row's tenant (default: {DEFAULT_TENANT_KEY}).",
        ),
        *_ssl_options(),
    ]


def _format_option() -> click.Option:
    return _option(
        "--format", "-f", field="format", type=click.Choice(["table", "json", "csv"]), help="Output format."
    )


def _wait_option() -> click.Option:
    return _option(
        "--wait",
        field="wait",
        type=click.Choice(["none", "sb", "hv"]),
        help="Return once the change is in SB (sb) or installed on every chassis (hv).",
    )


def _flag(name: str, field: str, text: str) -> click.Option:
    return _option(name, field=field, is_flag=True, flag_value=True, help=text)


def install_on_group(group: click.Group) -> None:
    """Accept the options before the command too (``ovn-inject --may-exist --db X service-add ...``)."""
    known = {opt for param in group.params for opt in param.opts}
    every = [
        *_connection_options(),
        _format_option(),
        _wait_option(),
        _flag("--may-exist", "may_exist", "With an -add command: do nothing if it exists."),
        _flag(
            "--if-exists", "if_exists", "With a -del, set, get, list command: do nothing if it is missing."
        ),
    ]
    for option in every:
        if not known.intersection(option.opts):
            group.params.append(option)


def _add(function: F, options: list[click.Option]) -> F:
    command_params = getattr(function, "__click_params__", [])
    command_params.extend(reversed(options))
    function.__click_params__ = command_params  # type: ignore[attr-defined]
    return function


def db_options(function: F) -> F:
    """The connection options (remotes, timeout, tenant key, SSL) on one command."""
    return _add(function, _connection_options())


def format_option(function: F) -> F:
    """``-f table|json|csv`` on a command that prints records."""
    return _add(function, [_format_option()])


def wait_option(function: F) -> F:
    """``--wait=none|sb|hv`` on a command that writes."""
    return _add(function, [_wait_option()])


def settings_of(ctx: click.Context) -> Settings:
    return ctx.ensure_object(Settings)


def settings() -> Settings:
    return settings_of(click.get_current_context())


def may_exist(local: bool) -> bool:
    """The command's own --may-exist, or the one given before the command."""
    return local or settings().may_exist


def if_exists(local: bool) -> bool:
    return local or settings().if_exists


def ssl_ready(*remotes: str) -> None:
    """Hand the SSL options to python-ovs before connecting to ``remotes`` (a clear error if unusable)."""
    settings().ssl_ready(*remotes)


@contextmanager
def inject_api() -> Iterator[InjectDbApiIdlImpl]:
    """An IDL on OVN_Inject for a write (reads use one-shot selects: :mod:`ovn_inject.db.wire`)."""
    from ovn_inject.db.impl_idl import connect

    config = settings()
    ssl_ready(config.inject_remote)
    api = connect(config.inject_remote, config.db_timeout)
    try:
        yield api
    finally:
        api.close()


def commit_and_wait(api: InjectDbApiIdlImpl, *commands: Any) -> list[Any]:
    """Commit ``commands`` together; with --wait, bump cfg in the same transaction and wait."""
    config = settings()
    wait = config.wait or "none"
    if wait == "none":
        return api.commit(*commands)
    bump = api.bump_cfg()
    results = api.commit(*commands, bump)
    cfg = bump.result
    column = "sb_cfg" if wait == "sb" else "hv_cfg"
    if not api.wait_cfg(column, cfg, config.wait_timeout):
        rows = [str(getattr(r, "uuid", r)) for r in _flatten(results[:-1]) if r is not None]
        raise not_in_time(rows, cfg, api.current_cfg(column))
    return results[:-1]


def wait_column() -> str | None:
    """The Inject_Global column --wait follows (``sb_cfg``, ``hv_cfg``), or None without --wait."""
    return settings().wait_column


def not_in_time(rows: list[str], cfg: int, current: int) -> Exception:
    """The error of a --wait that timed out: the change is committed, the daemon did not follow."""
    return settings().not_in_time(rows, cfg, current)


def _flatten(results: list[Any]) -> list[Any]:
    """The rows a commit's commands returned (a flow-add returns a list of uuids), in order."""
    out: list[Any] = []
    for result in results:
        out.extend(result if isinstance(result, list) else [result])
    return out


def emit(text: str) -> None:
    click.echo(text, nl=False)


def read(*tables: str, where: dict[str, list[Any]] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Rows of OVN_Inject's ``tables`` as records, in one round trip (no IDL, no ovsdbapp)."""
    from ovn_inject.db import wire

    config = settings()
    ssl_ready(config.inject_remote)
    return wire.select(config.inject_remote, config.db_timeout, tables, where)


class Renamed(click.Option):
    """An option whose first spelling is its name; the others (old names) still work, unlisted in --help."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        spellings = self.opts
        self.opts = spellings[:1]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = spellings


def daemon_nb_option(function: F) -> F:
    """``--nb-db`` (old name ``--nb``) as every daemon takes it."""
    return click.option(
        "--nb-db",
        "--nb",
        "nb",
        cls=Renamed,
        envvar=NB_DB_ENV,
        required=True,
        help=f"OVN_Northbound remote (${NB_DB_ENV}).",
    )(function)


def daemon_sb_option(required: bool, help: str) -> Callable[[F], F]:
    """``--sb-db`` (old name ``--sb``) as every daemon takes it."""
    return click.option("--sb-db", "--sb", "sb", cls=Renamed, envvar=SB_DB_ENV, required=required, help=help)


def tenant_key_option(function: F) -> F:
    """The external_ids key of NB rows that names their tenant."""
    return click.option(
        "--tenant-key",
        default=DEFAULT_TENANT_KEY,
        show_default=True,
        help="external_ids key of NB rows that names their tenant.",
    )(function)
