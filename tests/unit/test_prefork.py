"""Commands forked from one interpreter (ovn_inject.prefork) end as they would started on their own."""

from __future__ import annotations

import sys

import pytest

from ovn_inject.errors import CommandFailedError, SandboxError
from ovn_inject.prefork import Plan, Prefork


def _commands(*names: str) -> dict[str, list[str]]:
    return {name: [sys.executable, "-m", "ovn_inject", name] for name in names}


def test_each_command_reports_its_own_status_and_output() -> None:
    plan = [
        ["import", ["ovn_inject.cli"]],
        ["start", "fails", ["no-such-command"]],
        ["start", "works", ["--version"]],
    ]
    group = Prefork(plan, _commands("fails", "works"))
    works, fails = group.member("works"), group.member("fails")
    works.wait()  # reported after "fails": its result is kept meanwhile
    with pytest.raises(CommandFailedError) as failed:
        fails.wait()
    assert failed.value.returncode == 2
    assert "No such command 'no-such-command'" in failed.value.stderr
    fails.abandon()


def test_a_failed_import_fails_every_command_with_its_traceback() -> None:
    group = Prefork(
        [["import", ["ovn_inject.no_such_module"]], ["start", "a", ["--version"]]], _commands("a")
    )
    with pytest.raises(CommandFailedError) as failed:
        group.member("a").wait()
    assert "ModuleNotFoundError" in failed.value.stderr


def test_commands_past_a_wait_start_on_go() -> None:
    plan: Plan = [["import", ["ovn_inject.cli"]], ["wait"], ["start", "a", ["--version"]]]
    group = Prefork(plan, _commands("a"))
    group.go()
    group.member("a").wait()


def test_commands_past_a_wait_never_start_when_cancelled() -> None:
    plan: Plan = [["wait"], ["start", "a", ["--version"]]]
    group = Prefork(plan, _commands("a"))
    group.cancel()
    with pytest.raises(SandboxError, match="a was not started"):
        group.member("a").wait()
    group.member("a").abandon()
