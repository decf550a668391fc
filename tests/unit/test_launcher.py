"""The thin client's JSON, made with the json module's C functions alone (no OVN needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ovn_inject import cjson, launcher

STRINGS = ["", "plain", 'quote " and \\ backslash', "tab\tnew\nline\x01", "é ü 漢字 🙂", "\udcff surrogate"]


@pytest.mark.parametrize("text", STRINGS)
def test_requests_are_json_the_daemon_reads(text: str) -> None:
    value = {"argv": [text, "--x"], "env": {"K": text}, "cwd": text, "id": 0, "flag": True, "none": None}
    assert json.loads(cjson.dumps(value)) == value


@pytest.mark.parametrize("text", STRINGS)
def test_replies_are_read_as_json_reads_them(text: str) -> None:
    reply = {"error": None, "id": 0, "result": json.dumps({"status": 2, "output": [[1, text], [2, text]]})}
    encoded = json.dumps(reply, separators=(",", ":"), sort_keys=True)  # as python-ovs sends it
    decoded = launcher._loads(encoded)
    assert decoded == reply and launcher._loads(decoded["result"]) == json.loads(reply["result"])


@pytest.mark.parametrize("text", ['{"a": 1', '{"a": 1} {', "[1]", '{"a": "}', '{"a": "x}\\n'])
def test_a_partial_or_other_message_is_not_a_reply(text: str) -> None:
    with pytest.raises(ValueError):
        launcher._loads(text)


def test_the_request_carries_env_and_cwd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OVN_NB_DB", "unix:/nb.sock")
    monkeypatch.setenv("COLUMNS", "97")
    monkeypatch.setenv("LINES", "31")
    sent = launcher.request(["service-list"])
    assert sent["argv"] == ["service-list"] and sent["cwd"] == str(tmp_path)
    env = sent["env"]
    assert isinstance(env, dict) and env["OVN_NB_DB"] == "unix:/nb.sock" and env["COLUMNS"] == "97"


def test_the_program_is_a_script_that_imports_only_the_launcher() -> None:
    """``ovn-inject`` is scripts/ovn-inject, not an entry point whose generated script imports re."""
    import ast
    import tomllib

    root = Path(__file__).resolve().parents[2]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert "scripts" not in project["project"]
    assert project["tool"]["setuptools"]["script-files"] == ["scripts/ovn-inject"]
    script = (root / "scripts" / "ovn-inject").read_text()
    assert script.startswith("#!python\n")  # pip writes the interpreter's path there
    tree = ast.parse(script)
    imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"sys", "ovn_inject.launcher"}
