"""``ovn-inject [OPTIONS] flow-add SERVICE --priority P --match M --actions A ...`` without click.

The command scripts call most, once per flow: click and the CLI's command
table cost it about as much as its whole database work. :func:`parse` reads
its arguments as click would (the same options, before or after the command,
the one given last winning); :func:`run` runs the command click's ``flow-add``
runs (:func:`ovn_inject.direct.flow_add.add`) and ends as the CLI ends:
``ovn-inject: <message>`` and status 1 for an error it raises.

Anything else is left to click, which then answers as it always does: help,
another command, an option or a form of one this parser does not take
(``-fjson``, ``--``, a flag before the command), a value click would refuse
(so that click words the usage error), ``--dry-run``, an audit log, and an
OVN_Inject whose schema the one-shot write does not fit (before it writes).
tests/integration/test_cli_direct.py checks that both ways give the same
output and status.
"""

from __future__ import annotations

import os
import sys

from ovn_inject.constants import AUDIT_LOG_ENV, SSL_ENV

TYPE_CHECKING = False  # typing's own import costs more than this module
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ovn_inject.direct.settings import Settings

COMMAND = "flow-add"
#: The options of Settings (db_options): on the group and on the command alike.
SETTINGS = {
    "--inject-db": "inject_db",
    "--db": "inject_db",
    "--nb-db": "nb_db",
    "--sb-db": "sb_db",
    "--timeout": "timeout",
    "-t": "timeout",
    "--tenant-key": "tenant_key",
    "--format": "format",
    "-f": "format",
    "--wait": "wait",
    "--private-key": "private_key",
    "-p": "private_key",
    "--certificate": "certificate",
    "-c": "certificate",
    "--ca-cert": "ca_cert",
    "-C": "ca_cert",
    "--bootstrap-ca-cert": "bootstrap_ca_cert",
}
#: flow-add's own options that take a value (--dry-run is left to click).
OWN = {
    "--priority": "priority",
    "--match": "match",
    "--actions": "actions",
    "--cookie": "cookie",
    "--attachment": "attachment",
    "--hook": "hook",
    "--hard-timeout": "hard_timeout",
}
ALL_ATTACHMENTS = "--all-attachments"
REQUIRED = ("priority", "match", "actions")


class _Click(Exception):
    """Not a call this parser answers: click parses it (and words any error)."""


class Call:
    """One flow-add as click would have called it: its settings and its own arguments."""

    def __init__(self, config: Settings, service: str, own: dict[str, str], all_attachments: bool) -> None:
        self.config = config
        self.service = service
        self.all_attachments = all_attachments
        self.priority = _integer(own["priority"])
        self.match = own["match"]
        self.actions = own["actions"]
        self.cookie = own.get("cookie", "0")
        self.attachment = own.get("attachment")
        self.hook = own.get("hook")
        self.hard_timeout = _integer(own.get("hard_timeout", "0"))


def parse(argv: list[str]) -> Call | None:
    """The call ``argv`` makes, or None to leave it to click."""
    try:
        return _parse(argv)
    except _Click:
        return None


def _parse(argv: list[str]) -> Call:
    group: dict[str, str] = {}
    at = 0
    while at < len(argv) and _is_option(argv[at]):  # before the command: Settings' options alone
        at = _option(argv, at, SETTINGS, group)
    if at >= len(argv) or argv[at] != COMMAND:
        raise _Click
    own: dict[str, str] = {}
    mine: dict[str, str] = {}
    positional: list[str] = []
    every = False
    at += 1
    while at < len(argv):  # after it, options and the argument in any order, as click takes them
        arg = argv[at]
        if not _is_option(arg):
            positional.append(arg)
            at += 1
        elif arg == ALL_ATTACHMENTS:
            every = True
            at += 1
        elif arg.partition("=")[0] in OWN:
            at = _option(argv, at, OWN, own)
        else:
            at = _option(argv, at, SETTINGS, mine)
    if len(positional) != 1 or any(name not in own for name in REQUIRED):
        raise _Click  # click says what is missing or extra
    return Call(_settings(group, mine), positional[0], own, every)


def _is_option(arg: str) -> bool:
    """click's test: a leading ``-`` and more (``-`` alone is an argument)."""
    return arg[:1] == "-" and len(arg) > 1


def _option(argv: list[str], at: int, names: dict[str, str], found: dict[str, str]) -> int:
    """The option at ``argv[at]`` and its value into ``found``; the index after them.

    The value is what follows ``=`` in a long option, else the next argument whatever
    it is, as click takes it.
    """
    arg = argv[at]
    name, equals, value = arg.partition("=") if arg[:2] == "--" else (arg, "", "")
    if name not in names:
        raise _Click  # help, --, a flag before the command, --dry-run, -fjson, a misspelling...
    if not equals:
        if at + 1 >= len(argv):
            raise _Click  # no value: click says so
        at += 1
        value = argv[at]
    found[names[name]] = value
    return at + 1


def _settings(group: dict[str, str], command: dict[str, str]) -> Settings:
    """The Settings click's callbacks fill: the group's options, then the command's (an SSL file
    option not given at a level takes its environment variable there)."""
    from ovn_inject.direct.settings import Settings

    config = Settings()
    for given in (group, command):
        for field, env in SSL_ENV.items():
            if field not in given and os.environ.get(env):
                given = {**given, field: os.environ[env]}
        for field, text in given.items():
            setattr(config, field, _CONVERT.get(field, str)(text))
    return config


def _integer(text: str) -> int:
    try:
        return int(text)  # what click.INT does
    except ValueError:
        raise _Click from None


def _seconds(text: str) -> float:
    try:
        value = float(text)  # click.FloatRange(min=0)
    except ValueError:
        raise _Click from None
    if value < 0:
        raise _Click
    return value


def _choice(*choices: str) -> Callable[[str], str]:
    def convert(text: str) -> str:
        if text not in choices:
            raise _Click
        return text

    return convert


def _file(text: str) -> Any:
    """click.Path(path_type=Path, dir_okay=False): a file that may not exist yet, else a readable one."""
    import stat
    from pathlib import Path

    try:
        mode = os.stat(text).st_mode
    except OSError:
        return Path(text)
    except ValueError:
        raise _Click from None
    if stat.S_ISDIR(mode) or not os.access(text, os.R_OK):
        raise _Click
    return Path(text)


_CONVERT: dict[str, Callable[[str], Any]] = {
    "timeout": _seconds,
    "format": _choice("table", "json", "csv"),
    "wait": _choice("none", "sb", "hv"),
    "private_key": _file,
    "certificate": _file,
    "ca_cert": _file,
    "bootstrap_ca_cert": _file,
}


def run(argv: list[str]) -> int | None:
    """Run ``argv`` if it is a flow-add this module answers; its exit status, or None for click."""
    if os.environ.get(AUDIT_LOG_ENV):
        return None  # the audit trail is click's wrapper (audit_cmd): through it
    call = parse(argv)
    if call is None:
        return None
    import gc

    # As the CLI's group runs a command: nothing it allocates is garbage until it exits.
    gc.disable()
    from ovn_inject.errors import OvnInjectError

    try:
        from ovn_inject.db.oneshot import Fallback
        from ovn_inject.direct.flow_add import add, attachment_named

        fields = (call.priority, call.match, call.actions, call.cookie, call.hard_timeout)
        add(
            call.config,
            call.service,
            attachment_named(call.attachment, call.hook),
            call.all_attachments,
            fields,
        )
    except Fallback:
        return None  # nothing written: click's command writes through the IDL
    except OvnInjectError as exc:
        _stderr(f"ovn-inject: {exc}\n")
        return 1
    except (EOFError, KeyboardInterrupt):
        _stderr("\nAborted!\n")  # as click ends on an interrupt
        return 1
    except BrokenPipeError:
        # The reader went away (ovn-inject ... | head): quietly and status 1, as click does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 0


def _stderr(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()
