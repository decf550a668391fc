"""The daemons' OVS-style options, and examples that need nothing but the standard library."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from ovn_inject.cli.gateway_cmd import gateway
from ovn_inject.cli.northd_cmd import northd
from ovn_inject.cli.ofswitch_cmd import ofswitch
from ovn_inject.cli.sbgate_cmd import sbgate
from ovn_inject.constants import INJECT_DB_ENV, NB_DB_ENV, SB_DB_ENV

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_v_takes_ovs_specs_repeatedly_and_alone_means_debug() -> None:
    argv = [
        "--listen",
        "punix:g.sock",
        "--sb-db",
        "unix:sb.sock",
        "-v",
        "-vconsole:off",
        "--verbose=gate:dbg",
    ]
    params = sbgate.make_context("sbgate", [*argv, "--unixctl", "g.ctl"]).params
    assert params["verbose"] == ("dbg", "console:off", "gate:dbg")
    assert str(params["unixctl"]) == "g.ctl" and params["remotes"] == ("unix:sb.sock",)


def test_the_daemons_take_the_db_option_names_of_the_cli_and_the_old_ones() -> None:
    new = northd.make_context("northd", ["--nb-db", "n", "--sb-db", "s", "--inject-db", "i"]).params
    old = northd.make_context("northd", ["--nb", "n", "--sb", "s", "--inject-db", "i"]).params
    assert (new["nb"], new["sb"]) == (old["nb"], old["sb"]) == ("n", "s")
    params = gateway.make_context("gateway", ["--nb-db", "n", "--sb-db", "s", "--inject-db", "i"]).params
    assert (params["nb"], params["sb"], params["verbose"]) == ("n", "s", ())
    legacy = sbgate.make_context("sbgate", ["--listen", "punix:g", "--remote", "unix:sb"]).params
    assert legacy["remotes"] == ("unix:sb",)


def test_the_daemons_take_the_remotes_from_the_clis_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """$OVN_NB_DB, $OVN_SB_DB and $OVN_INJECT_DB, as the CLI and OVN's own tools read them."""
    monkeypatch.setenv(NB_DB_ENV, "unix:nb")
    monkeypatch.setenv(SB_DB_ENV, "unix:sb")
    monkeypatch.setenv(INJECT_DB_ENV, "unix:inject")
    for command in (northd, gateway):
        params = command.make_context(command.name or "", []).params
        assert (params["nb"], params["sb"], params["inject_db"]) == ("unix:nb", "unix:sb", "unix:inject")
    params = ofswitch.make_context("ofswitch", []).params
    assert (params["nb"], params["inject_db"]) == ("unix:nb", "unix:inject")
    assert sbgate.make_context("sbgate", ["--listen", "punix:g"]).params["remotes"] == ("unix:sb",)


#: An os-ken application runs inside os-ken's osken-manager: the framework is its point.
FRAMEWORK_APPS = {"osken_quarantine.py"}


def test_the_examples_import_only_the_standard_library_and_each_other() -> None:
    ours = {path.stem for path in EXAMPLES.glob("*.py")}
    for path in EXAMPLES.glob("*.py"):
        if path.name in FRAMEWORK_APPS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in ours, f"{path.name} imports {name}"
