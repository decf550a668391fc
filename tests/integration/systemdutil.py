"""Start a unit's commands the way systemd would, without systemd: a harness for the rendered units.

It reads a unit and its drop-ins as systemd does (sections, continuation
lines, lists that an empty assignment resets, Environment= and
EnvironmentFile=), expands ``$VAR``/``${VAR}`` and ``%t`` in Exec lines as
systemd documents, and runs ExecStartPre then ExecStart: a ``forking``
service must exit 0 and leave its PIDFile, a ``simple`` one keeps running.
Sandboxing directives (User=, ProtectSystem=...) are not applied here;
``systemd-analyze verify`` checks them where it is installed.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

_VAR = re.compile(r"\$\{(\w+)\}")


@dataclass
class Unit:
    sections: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def get(self, section: str, key: str) -> list[str]:
        return self.sections.get(section, {}).get(key, [])

    def one(self, section: str, key: str, default: str = "") -> str:
        values = self.get(section, key)
        return values[-1] if values else default


def parse(*paths: Path) -> Unit:
    """A unit file and its drop-ins, in order (later assignments add to or reset earlier ones)."""
    unit = Unit()
    for path in paths:
        section = ""
        text = re.sub(r"\\\n", " ", path.read_text())
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            key, _, value = line.partition("=")
            values = unit.sections.setdefault(section, {}).setdefault(key.strip(), [])
            if value.strip():
                values.append(value.strip())
            else:
                values.clear()
    return unit


def environment(unit: Unit, base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    for assignment in unit.get("Service", "Environment"):
        for word in shlex.split(assignment):
            name, _, value = word.partition("=")
            env[name] = value
    for name in unit.get("Service", "EnvironmentFile"):
        optional = name.startswith("-")
        path = Path(name.lstrip("-"))
        if not path.exists():
            assert optional, f"EnvironmentFile {path} is missing"
            continue
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                env[key.strip()] = value.strip().strip('"')
    return env


def command(line: str, env: dict[str, str], runtime_dir: str = "/run") -> tuple[list[str], bool]:
    """argv of an Exec line, and whether its failure is ignored (the ``-`` prefix)."""
    ignore = False
    while line and line[0] in "-@:+!":
        ignore = ignore or line[0] == "-"
        line = line[1:]
    line = line.replace("%t", runtime_dir).replace("%%", "%")
    argv: list[str] = []
    for word in shlex.split(line):
        if re.fullmatch(r"\$\w+", word):
            argv += env.get(word[1:], "").split()  # $VAR alone: its value's words
        else:
            argv.append(_VAR.sub(lambda m: env.get(m.group(1), ""), word))
    return argv, ignore


def start(unit: Unit, base_env: dict[str, str], runtime_dir: str = "/run") -> subprocess.Popen[bytes] | int:
    """Run ExecStartPre and ExecStart; the process of a simple service, the PIDFile's pid of a forking one."""
    env = environment(unit, base_env)
    for line in unit.get("Service", "ExecStartPre"):
        argv, ignore = command(line, env, runtime_dir)
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert ignore or done.returncode == 0, f"ExecStartPre {argv} failed: {done.stderr}"
    [line] = unit.get("Service", "ExecStart")
    argv, _ = command(line, env, runtime_dir)
    kind = unit.one("Service", "Type", "simple")
    if kind == "simple":
        return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert kind == "forking", kind
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"ExecStart {argv} failed ({done.returncode}): {done.stderr}{done.stdout}"
    pidfile = Path(command(unit.one("Service", "PIDFile"), env, runtime_dir)[0][0])
    return int(pidfile.read_text().strip())


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0")


def base_environment() -> dict[str, str]:
    """What systemd gives a service before its own settings: a PATH, no shell's OVN_* variables."""
    return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LANG": "C.UTF-8"}
