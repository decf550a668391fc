"""``ovn-inject(8)``, generated from the click commands: ``python -m ovn_inject.cli.manpage > FILE``.

The package installs the result as ``ovn_inject/data/ovn-inject.8``;
tests/unit/test_cli_table.py fails when it is not what this module makes of the
current commands (``make man`` writes it again).
"""

from __future__ import annotations

import importlib
import inspect

import click

from ovn_inject.cli.table import COMMANDS, SECTIONS

MAN_FILE = "ovn-inject.8"


def _escape(text: str) -> str:
    """Text safe for roff: backslashes doubled, a leading dot or quote kept literal, dashes as minus."""
    out = []
    for line in text.replace("\\", "\\e").replace("-", "\\-").splitlines():
        out.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(out)


def _paragraphs(text: str) -> str:
    blocks = [" ".join(b.split()) for b in inspect.cleandoc(text).split("\n\n") if b.strip()]
    return "\n.PP\n".join(_escape(b) for b in blocks)


#: Options every database command shares with the group: described once, under OPTIONS.
_SHARED = {"inject_db", "nb_db", "sb_db", "timeout", "tenant_key", "private_key", "certificate", "ca_cert"}
_SHARED |= {"bootstrap_ca_cert", "help"}


def _option_lines(command: click.Command, ctx: click.Context, shared: bool = False) -> list[str]:
    lines = []
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option) or param.hidden:
            continue
        if not shared and param.expose_value is False and param.name in _SHARED:
            continue
        if "--help" in param.opts:
            continue
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, text = record
        lines += [".TP", f"\\fB{_escape(names)}\\fR", _escape(" ".join(text.split())) or "."]
    return lines


def _command(name: str, command: click.Command, parent: click.Context) -> list[str]:
    ctx = click.Context(command, info_name=name, parent=parent)
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines = [".SS " + _escape(f"{name} {usage}".strip()), _paragraphs(command.help or "")]
    options = _option_lines(command, ctx)
    if options:
        lines += [".RS", *options, ".RE"]
    if isinstance(command, click.Group):
        for sub_name in command.list_commands(ctx):
            sub = command.get_command(ctx, sub_name)
            if sub is not None:
                lines += _command(f"{name} {sub_name}", sub, ctx)
    return lines


_DAEMON_MODE = """
As ovn-nbctl's: 'ovn-inject --detach' starts a daemon and prints its control socket; with
that path in OVN_INJECT_DAEMON, every 'ovn-inject' call sends its arguments, environment and
working directory to the daemon, which runs the command in its warm process and answers with
what it printed and its exit status. A scripted call then costs a small client's start and one
round trip, not the imports of a whole CLI. Output, errors and exit statuses are those of the
command run by itself.

The database and inspection commands run in the daemon, one at a time; the others (the
daemons, deployment, the sandbox, the demo, parse, --detach) and a command that reads stdin
(flow-replace SERVICE -) run in the calling process, as without it. --pidfile, --log-file,
--unixctl and -v go with --detach. 'ovn-appctl -t SOCKET exit' (or SIGTERM) stops it; 'ovn-appctl
-t SOCKET run COMMAND...' runs one command with the daemon's own environment. Whoever may
connect to the socket runs commands as the daemon's user.
"""


def render() -> str:
    from ovn_inject.cli import main

    root = click.Context(main, info_name="ovn-inject")
    lines = [
        '.TH ovn\\-inject 8 "" "ovn-inject" "ovn-inject Manual"',
        ".SH NAME",
        "ovn\\-inject \\- Topology Service Injection for OVN: services, attachments and flows at hook points",
        ".SH SYNOPSIS",
        "\\fBovn\\-inject\\fR [\\fIoptions\\fR] \\fIcommand\\fR [\\fIarg\\fR...]",
        ".SH DESCRIPTION",
        _paragraphs(main.help or ""),
        ".SH OPTIONS",
        "These options may be given before the command, as with \\fBovn\\-nbctl\\fR; a database",
        "command also takes them after its name.",
        *_option_lines(main, root, shared=True),
    ]
    for section in SECTIONS:
        lines.append(".SH " + _escape(section.upper()))
        for entry in (e for e in COMMANDS if e.section == section):
            module = importlib.import_module(f"ovn_inject.cli.{entry.module}")
            lines += _command(entry.name, getattr(module, entry.attribute), root)
    lines += [
        ".SH DAEMON MODE",
        _paragraphs(_DAEMON_MODE),
        ".SH ENVIRONMENT",
        ".TP",
        "\\fBOVN_INJECT_DB\\fR, \\fBOVN_NB_DB\\fR, \\fBOVN_SB_DB\\fR",
        "The default \\fB\\-\\-inject\\-db\\fR, \\fB\\-\\-nb\\-db\\fR and \\fB\\-\\-sb\\-db\\fR.",
        ".TP",
        "\\fBOVN_INJECT_DAEMON\\fR",
        "The control socket of an \\fBovn\\-inject \\-\\-detach\\fR daemon: the commands run there "
        "(see DAEMON MODE).",
        '.SH "SEE ALSO"',
        "\\fBovn\\-nbctl\\fR(8), \\fBovn\\-sbctl\\fR(8), \\fBovn\\-trace\\fR(8), \\fBovn\\-northd\\fR(8)",
    ]
    return "\n".join(line for line in lines if line) + "\n"


if __name__ == "__main__":
    print(render(), end="")
