"""The ``ovn-inject`` command: one click group, one module per command family, loaded on use.

The group knows its commands from the table in :mod:`ovn_inject.cli.table` (name,
module, section, one-line help), so ``--help`` and shell completion import no
command module, and a database command imports neither the daemons nor the
compiler: start-up is what an operator scripting it pays per call.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Any

import click

from ovn_inject.cli.db_options import install_on_group
from ovn_inject.cli.table import COMMANDS, DAEMONS, ONE_SHOT, SECTIONS, Entry, entry
from ovn_inject.constants import AUDIT_LOG_ENV, DAEMON_ENV
from ovn_inject.errors import OvnInjectError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


class Group(click.Group):
    """Commands from the table; every OvnInjectError becomes ``ovn-inject: <message>`` and status 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [e.name for e in COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = entry(cmd_name)
        return None if found is None else load(found)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Sections as in ovn-nbctl's usage, each command's help whole (never cut at a width)."""
        for section in SECTIONS:
            rows = [(e.name, e.help) for e in COMMANDS if e.section == section]
            with formatter.section(section):
                formatter.write_dl(rows)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        """Command names and their help from the table (click's own would import every module)."""
        from click.shell_completion import CompletionItem

        if incomplete.startswith("-"):
            return list(super().shell_complete(ctx, incomplete))
        return [CompletionItem(e.name, help=e.help) for e in COMMANDS if e.name.startswith(incomplete)]

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        found = entry(name or "")
        if found is not None:
            if _serving and found.section not in ONE_SHOT:
                raise RunLocally(found.name)
            _check_global_flags(ctx, found)
        return name, command, rest

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run a command; a one-shot one without cyclic garbage collection.

        What a command's start-up allocates lives as long as the process (modules,
        classes, the language's tables), so collections during it find nothing; on a
        ``flow-add``, which imports the language, they cost about a tenth of the call.
        A long-running command turns them back on when it is loaded (:func:`load`), a
        daemon once it is ready; an in-process caller (a test's CliRunner) gets them back
        when the call returns.
        """
        enabled = gc.isenabled()
        gc.disable()
        try:
            return super().main(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OvnInjectError as exc:
            click.echo(f"ovn-inject: {exc}", err=True)
            sys.exit(1)


class RunLocally(BaseException):
    """In the daemon (``ovn-inject --detach``): a command its client runs in its own process instead."""


_serving = False


def serving(flag: bool) -> None:
    """Whether this process is the daemon of ``ovn-inject --detach`` (see :mod:`ovn_inject.cli.server`)."""
    global _serving
    _serving = flag


_LOADED: dict[str, click.Command] = {}


def load(found: Entry) -> click.Command:
    """Import the command's module (only now) and wrap a write in the audit trail."""
    if found.name not in _LOADED:
        import importlib

        module = importlib.import_module(f"ovn_inject.cli.{found.module}")
        if found.section not in (*ONE_SHOT, DAEMONS):
            gc.enable()  # it may run for long (the demo): cyclic garbage must not pile up
        # A daemon turns them on once it is ready (daemonize.daemonized): its imports and
        # connections are made without them.
        command: click.Command = getattr(module, found.attribute)
        if found.writes:
            from ovn_inject.cli.audit_cmd import audited

            command = audited(command)
        command.context_settings = {**CONTEXT, **command.context_settings}
        _LOADED[found.name] = command
    return _LOADED[found.name]


def _check_global_flags(ctx: click.Context, found: Entry) -> None:
    """``--may-exist``/``--if-exists`` before a command that has no use for them: an error (ovn-nbctl)."""
    from ovn_inject.cli.db_options import settings_of

    config = settings_of(ctx)
    for flag, given in (("may-exist", config.may_exist), ("if-exists", config.if_exists)):
        if given and flag not in found.flags:
            raise click.UsageError(f"'--{flag}' is not a valid option for '{found.name}'", ctx)


@click.group(
    cls=Group,
    context_settings=CONTEXT,
    invoke_without_command=True,  # --detach alone
    no_args_is_help=True,
    subcommand_metavar="COMMAND [ARGS]...",
)
@click.version_option(package_name="ovn-inject")
@click.option(
    "--audit-log",
    envvar=AUDIT_LOG_ENV,
    type=click.Path(dir_okay=False),
    help=f"Append a JSON line per write or refusal to this file (default ${AUDIT_LOG_ENV}).",
)
@click.option(
    "--detach",
    is_flag=True,
    help=f"Start a daemon that runs the database commands of later calls; it prints its control "
    f"socket: export {DAEMON_ENV}=PATH.",
)
@click.option("--pidfile", type=click.Path(path_type=Path), help="With --detach: the daemon's pid file.")
@click.option("--log-file", type=click.Path(path_type=Path), help="With --detach: the daemon's log file.")
@click.option(
    "--unixctl",
    type=click.Path(path_type=Path),
    help="With --detach: its control socket (default: $OVN_RUNDIR/ovn-inject.PID.ctl).",
)
@click.option(
    "-v",
    "--verbose",
    multiple=True,
    is_flag=False,
    flag_value="dbg",
    metavar="[SPEC]",
    help="With --detach: OVS log levels, as the daemons take them (-vfile:dbg).",
)
@click.pass_context
def main(
    ctx: click.Context,
    audit_log: str | None,
    detach: bool,
    pidfile: Path | None,
    log_file: Path | None,
    unixctl: Path | None,
    verbose: tuple[str, ...],
) -> None:
    """Topology Service Injection for OVN.

    Options of the database commands may come before the command, as with ovn-nbctl
    (ovn-inject --may-exist --wait=sb service-add ...); 'man ovn-inject' has every command.
    """
    # python-ovs's JSON parser is replaced where a connection of python-ovs is made
    # (db.impl_idl, northd.tracking, db.rpc for ssl:): a command that reads with
    # db.rpc's plain sockets does not import python-ovs at all.
    if not (detach or pidfile or log_file or unixctl or verbose):
        if ctx.invoked_subcommand is None:
            ctx.fail("Missing command.")  # as click says it without --detach
        return
    if not detach:
        raise click.UsageError("--pidfile, --log-file, --unixctl and -v go with --detach", ctx)
    if ctx.invoked_subcommand is not None:
        raise click.UsageError(f"--detach starts the daemon; run '{ctx.invoked_subcommand}' after it", ctx)
    if _serving:
        raise RunLocally("--detach")
    from ovn_inject.cli.server import serve

    serve(pidfile=pidfile, log_file=log_file, unixctl=unixctl, verbose=verbose)


install_on_group(main)
