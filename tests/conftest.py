"""Fixtures shared by every test: a real OVN sandbox per module, a fresh topology per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ovn_inject.sandbox import Sandbox
from ovn_inject.sandbox import topology as topologies

_STARTED: list[Sandbox] = []


def _leftovers(root: Path) -> list[str]:
    """Processes whose command line names a directory under ``root``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(root) in cmdline and state != "Z":
            found.append(f"{entry.name}: {cmdline.strip()}")
    return found


@pytest.fixture(scope="session")
def sandbox_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("sandboxes")
    yield root
    for box in _STARTED:
        box.down()
    leftovers = _leftovers(root)
    assert not leftovers, f"processes left running after the test session: {leftovers}"


def start_sandbox(root: Path, name: str, chassis: int = 2, **options: object) -> Sandbox:
    """Start a sandbox; with OVN_INJECT_SANDBOX_SSL=1 in the environment, every one runs over SSL."""
    if os.environ.get("OVN_INJECT_SANDBOX_SSL", "") not in ("", "0"):
        options.setdefault("ssl", True)
    box = Sandbox(root / name)
    _STARTED.append(box)
    box.up(chassis=chassis, **options)  # type: ignore[arg-type]
    return box


@pytest.fixture(scope="module")
def sandbox(sandbox_root: Path, request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A 2-chassis OVN shared by the tests of one module (``SANDBOX_OPTIONS`` there tunes ``up``)."""
    options = getattr(request.module, "SANDBOX_OPTIONS", {})
    box = start_sandbox(sandbox_root, request.module.__name__.rsplit(".", 1)[-1], **options)
    yield box
    survivors = box.down()
    assert not survivors, f"sandbox processes survived teardown: {survivors}"


@pytest.fixture
def demo(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The sandbox with a freshly built demo topology (all ports up)."""
    topologies.clear(sandbox)
    topologies.build(sandbox, topologies.DEMO)
    yield sandbox
