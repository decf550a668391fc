"""The CLI's command table, start-up imports, man page, conditions and table output (no OVN needed)."""

from __future__ import annotations

import importlib
import importlib.resources
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ovn_inject.cli import main
from ovn_inject.cli.conditions import ConditionError, parse_condition
from ovn_inject.cli.output import render
from ovn_inject.cli.table import COMMANDS, SECTIONS

ROOT = Path(__file__).resolve().parents[2]
#: What no database command (nor --help) may import: the daemons, the compiler, the demo, HTTP.
HEAVY = (
    "networkx",
    "asyncio",
    "dpkt",
    "jinja2",
    "ovsdbapp",
    "fastapi",
    "ovn_inject.core.compiler",
    "ovn_inject.lang",
    "ovn_inject.sandbox",
    "ovn_inject.gate",
    "ovn_inject.gateway",
    "ovn_inject.northd",
    "ovn_inject.demo",
)


@pytest.mark.parametrize("entry", COMMANDS, ids=lambda e: e.name)
def test_every_entry_names_its_command(entry) -> None:  # type: ignore[no-untyped-def]
    command = getattr(importlib.import_module(f"ovn_inject.cli.{entry.module}"), entry.attribute)
    assert isinstance(command, click.Command)
    assert command.name == entry.name
    assert entry.section in SECTIONS and entry.help and "\n" not in entry.help
    options = {o for p in command.params for o in getattr(p, "opts", [])}
    for flag in entry.flags:
        assert f"--{flag}" in options, f"{entry.name} takes --{flag} before it but not after it"
    # --wait only where something is written; --format only where something is printed.
    assert ("--wait" in options) == entry.writes, entry.name
    if entry.section == "Database commands" and not entry.writes:
        assert "--format" in options


def _imported_after(code: str) -> set[str]:
    """What ``code`` imports beyond click's test runner (it brings pdb, and on Python 3.14 asyncio)."""
    prelude = "import sys\nimport click.testing\n_before = set(sys.modules)\n"
    run = subprocess.run(
        [sys.executable, "-c", prelude + code + "\nprint('\\n'.join(set(sys.modules) - _before))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return set(run.stdout.split())


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_help_imports_no_command_module() -> None:
    modules = _imported_after(
        "from click.testing import CliRunner\nfrom ovn_inject.cli import main\n"
        "assert CliRunner().invoke(main, ['--help']).exit_code == 0"
    )
    assert not _heavy(modules)
    assert not [m for m in modules if m.startswith("ovn_inject.cli.") and m.endswith("_cmd")]


def test_shell_completion_imports_no_command_module() -> None:
    modules = _imported_after(
        "import os\nfrom click.testing import CliRunner\nfrom ovn_inject.cli import main\n"
        "env = {'_OVN_INJECT_COMPLETE': 'bash_complete', 'COMP_WORDS': 'ovn-inject flow',\n"
        "       'COMP_CWORD': '1'}\n"
        "out = CliRunner().invoke(main, [], env=env, prog_name='ovn-inject').output\n"
        "assert 'flow-add' in out and 'flow-list' in out, out"
    )
    assert not [m for m in modules if m.startswith("ovn_inject.cli.") and m.endswith("_cmd")]


@pytest.mark.parametrize("name", ["service-list", "flow-list", "attach-list", "list", "find", "get", "show"])
def test_database_commands_import_nothing_heavy(name: str) -> None:
    modules = _imported_after(
        "import click\nfrom ovn_inject.cli import main\n"
        f"main.get_command(click.Context(main), {name!r})\n"
        "import ovn_inject.db.wire, ovn_inject.db.rpc"
    )
    assert not _heavy(modules), name


@pytest.mark.parametrize(("name", "allowed"), [("service-add", ()), ("flow-add", ("ovn_inject.lang",))])
def test_writes_import_only_the_idl(name: str, allowed: tuple[str, ...]) -> None:
    """A write needs ovsdbapp's IDL (and flow-add the language to check flows), never a daemon."""
    modules = _imported_after(
        "import click\nfrom ovn_inject.cli import main\n"
        f"main.get_command(click.Context(main), {name!r})\nimport ovn_inject.db.impl_idl"
    )
    ok = ("ovsdbapp", *allowed)
    assert not [m for m in _heavy(modules) if not any(m == a or m.startswith(a + ".") for a in ok)]


def test_help_is_grouped_and_whole() -> None:
    result = CliRunner().invoke(main, ["-h"])
    assert result.exit_code == 0
    for section in SECTIONS:
        assert f"{section}:" in result.output
    for entry in COMMANDS:
        words = entry.help.split()
        assert words[-1] in result.output.replace("\n", " ")  # never cut with "..."
    assert "..." not in result.output.split("Database commands:")[1].replace("{<=} ...", "")
    assert CliRunner().invoke(main, ["service-list", "-h"]).exit_code == 0


def test_man_page_is_current() -> None:
    from ovn_inject.cli.manpage import MAN_FILE, render

    installed = ROOT / "ovn_inject" / "data" / MAN_FILE
    assert installed.read_text() == render(), "run 'make man' and commit ovn_inject/data/ovn-inject.8"


def test_the_package_installs_the_man_page() -> None:
    """In the package (data/) and where man(1) looks under the install prefix (share/man/man8)."""
    import tomllib

    from ovn_inject.cli.manpage import MAN_FILE

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["data-files"]["share/man/man8"] == [f"ovn_inject/data/{MAN_FILE}"]
    assert "data/*" in setuptools["package-data"]["ovn_inject"]
    assert (
        MAN_FILE == "ovn-inject.8" and (importlib.resources.files("ovn_inject") / "data" / MAN_FILE).is_file()
    )


def test_global_flags_only_where_they_mean_something() -> None:
    result = CliRunner().invoke(main, ["--may-exist", "service-list"])
    assert result.exit_code == 2 and "'--may-exist' is not a valid option for 'service-list'" in result.output


@pytest.mark.parametrize(
    ("argv", "name", "value"),
    [
        (["northd", "--nb", "unix:nb", "--sb", "unix:sb", "--inject-db", "unix:i"], "nb", "unix:nb"),
        (["northd", "--nb-db", "unix:nb", "--sb-db", "unix:sb", "--inject-db", "unix:i"], "sb", "unix:sb"),
        (["sbgate", "--listen", "punix:g", "--remote", "unix:sb"], "remotes", ("unix:sb",)),
        (["systemd-units", "--output", "d", "--nb-remote", "tcp:n"], "nb", "tcp:n"),
        (["systemd-units", "--output", "d", "--nb-db", "tcp:n"], "nb", "tcp:n"),
    ],
)
def test_remotes_have_one_name_and_keep_the_old_one(argv: list[str], name: str, value: object) -> None:
    command = main.get_command(click.Context(main), argv[0])
    assert command is not None
    ctx = command.make_context(argv[0], argv[1:], parent=click.Context(main))
    assert ctx.params[name] == value
    shown = CliRunner().invoke(main, [argv[0], "--help"]).output
    assert "--nb," not in shown and "--remote," not in shown and "--nb-remote" not in shown


def test_conditions_have_ovsdb_operators() -> None:
    record = {"priority": 7, "status": "installed", "options": {"max_flows": "5"}, "tokens": ["a", "b"]}
    assert parse_condition("priority>5").matches(record)
    assert not parse_condition("priority<=5").matches(record)
    assert parse_condition("priority!=5").matches(record)
    assert parse_condition("status{<=}installed,pending").matches(record)
    assert not parse_condition("status{=}pending").matches(record)
    assert parse_condition("tokens{>=}a").matches(record)
    assert parse_condition("tokens{=}[a, b]").matches(record)
    assert parse_condition("options:max_flows=5").matches(record)
    assert parse_condition("options:max_flows>=4").matches({"options": {"max_flows": 4}}) is True
    with pytest.raises(ConditionError, match="bad condition"):
        parse_condition("priority")
    with pytest.raises(ConditionError, match="not an integer"):
        parse_condition("priority>x").matches(record)


def test_wide_columns_wrap_within_their_cap() -> None:
    record = {"a": "x", "match": " && ".join(f"ip4.dst == 10.0.0.{i}" for i in range(10))}
    lines = render([record], ["a", "match"], "table", widths={"match": 30}).splitlines()
    assert len(lines) > 3 and all(len(line) <= 3 + 30 for line in lines)
    assert render([record], ["a", "match"], "table").count("\n") == 2
    assert render([{"max_flows": None}], ["max_flows"], "list") == "max_flows : \n"
