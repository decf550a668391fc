"""flow-add without click: the call it makes is the one click makes, or it leaves the arguments to click."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ovn_inject.cli import flow_cmd
from ovn_inject.cli import main as app
from ovn_inject.constants import AUDIT_LOG_ENV, SSL_ENV
from ovn_inject.direct import dispatch

ADD = ["--priority", "10", "--match", "ip4", "--actions", "next;"]

TAKEN = [
    ["flow-add", "svc", *ADD],
    ["--wait=sb", "flow-add", "svc", *ADD],
    ["--wait", "hv", "-t", "5", "flow-add", "svc", *ADD, "--wait=none"],
    ["--db", "unix:/a", "--nb-db=unix:/b", "--sb-db", "unix:/c", "flow-add", *ADD, "svc", "--db", "unix:/d"],
    ["-f", "json", "flow-add", "svc", *ADD, "--format", "csv"],
    ["flow-add", "--priority=7", "svc", "--match=tcp.dst == 80", "--actions", "drop;", "--priority", "8"],
    ["flow-add", "svc", *ADD, "--cookie", "0x10", "--hard-timeout", "30", "--tenant-key", "k"],
    ["flow-add", "svc", *ADD, "--attachment", "ls:ls-a", "--hook", "ls-in-port"],
    ["flow-add", "svc", *ADD, "--attachment", "1234", "--all-attachments"],
    ["flow-add", "svc", *ADD, "--all-attachments", "--all-attachments"],
    ["flow-add", "svc", "--priority", " 12 ", "--match", "--actions", "--actions", "-x"],
    ["flow-add", "-", *ADD],
    ["flow-add", "", *ADD, "--match", ""],
    ["--timeout", "0", "flow-add", "svc", *ADD, "--timeout=2.5"],
    ["--inject-db", "", "flow-add", "svc", *ADD],
    ["flow-add", "svc", *ADD, "--private-key", "key.pem", "-c", "cert.pem", "-C", "ca.pem"],
    ["--bootstrap-ca-cert", "boot.pem", "--ca-cert", "x.pem", "flow-add", "svc", *ADD],
    ["flow-add", "svc", *ADD, "--hard-timeout", "-1", "--priority", "-5"],
]

LEFT = [
    ["flow-add", "svc", *ADD, "--dry-run"],
    ["flow-add", "--help"],
    ["-h", "flow-add", "svc", *ADD],
    ["--version", "flow-add", "svc", *ADD],
    ["--may-exist", "flow-add", "svc", *ADD],
    ["--detach", "flow-add", "svc", *ADD],
    ["--audit-log", "audit.log", "flow-add", "svc", *ADD],
    ["flow-add", "svc", "extra", *ADD],
    ["flow-add", *ADD],
    ["flow-add", "svc", "--priority", "10", "--match", "ip4"],
    ["flow-add", "svc", *ADD, "--priority"],
    ["flow-add", "svc", *ADD, "--priority", "ten"],
    ["flow-add", "svc", *ADD, "--hard-timeout", "1.5"],
    ["flow-add", "svc", *ADD, "-fjson"],
    ["flow-add", "svc", *ADD, "-t=5"],
    ["flow-add", "svc", *ADD, "--format", "yaml"],
    ["flow-add", "svc", *ADD, "--wait", "SB"],
    ["flow-add", "svc", *ADD, "--timeout", "-1"],
    ["flow-add", "svc", *ADD, "--timeout", "soon"],
    ["flow-add", "svc", *ADD, "--all-attachments=yes"],
    ["flow-add", "svc", *ADD, "--prio", "1"],
    ["flow-add", "--", "svc", *ADD],
    ["flow-add", "svc", *ADD, "-v"],
    ["--db", "unix:/a", "service-list", "flow-add"],
    ["--db", "flow-add", "service-list"],
    ["flow-list", "flow-add"],
    ["flow-add", "svc", *ADD, "--private-key", "."],
]


def _clicks_call(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    """What click's flow-add hands the write: settings, service, attachment, every, fields."""
    calls: list[tuple[Any, ...]] = []

    def add(*args: Any) -> None:
        calls.append(args)

    monkeypatch.setattr(flow_cmd, "add", add)
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    [call] = calls
    return call


def _direct_call(argv: list[str]) -> tuple[Any, ...]:
    call = dispatch.parse(argv)
    assert call is not None, argv
    fields = (call.priority, call.match, call.actions, call.cookie, call.hard_timeout)
    from ovn_inject.direct.flow_add import attachment_named

    attachment = attachment_named(call.attachment, call.hook)
    return (call.config, call.service, attachment, call.all_attachments, fields)


@pytest.fixture(autouse=True)
def _files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory with readable SSL files, and none of the environment's SSL or audit settings."""
    monkeypatch.chdir(tmp_path)
    for name in ("key.pem", "cert.pem", "ca.pem", "x.pem"):
        (tmp_path / name).write_text("-")
    for env in (*SSL_ENV.values(), AUDIT_LOG_ENV):
        monkeypatch.delenv(env, raising=False)


@pytest.mark.parametrize("argv", TAKEN, ids=" ".join)
def test_the_direct_call_is_clicks(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert _direct_call(argv) == _clicks_call(argv, monkeypatch)


@pytest.mark.parametrize("argv", LEFT, ids=" ".join)
def test_what_it_does_not_take_is_left_to_click(argv: list[str]) -> None:
    assert dispatch.parse(argv) is None


def test_ssl_files_from_the_environment_as_click_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """An SSL option not given at a level takes its variable there: given before the command only, the
    variable wins (click fills the command's option from it after the group's)."""
    monkeypatch.setenv(SSL_ENV["private_key"], "key.pem")
    monkeypatch.setenv(SSL_ENV["ca_cert"], "")  # empty: as if unset
    for argv in (
        ["flow-add", "svc", *ADD],
        ["--private-key", "x.pem", "flow-add", "svc", *ADD],
        ["flow-add", "svc", *ADD, "--private-key", "x.pem"],
        ["--ca-cert", "ca.pem", "flow-add", "svc", *ADD],
    ):
        assert _direct_call(argv) == _clicks_call(argv, monkeypatch), argv


def test_an_audit_log_goes_through_click(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AUDIT_LOG_ENV, "audit.log")
    assert dispatch.run(["flow-add", "svc", *ADD]) is None
