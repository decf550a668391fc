"""What the daemons import before they are ready: their start-up is mostly imports (docs/design.md, Tests)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from ovn_inject.sandbox import central

ROOT = Path(__file__).resolve().parents[2]


def _imported(code: str) -> set[str]:
    run = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return set(run.stdout.split())


def test_the_openflow_daemon_imports_os_ken_only_for_openflow() -> None:
    """os-ken imports every OpenFlow version's parsers: not before a controller or an OpenFlow flow."""
    modules = _imported("import ovn_inject.cli.ofswitch_cmd, ovn_inject.ofswitch.daemon")
    assert not [m for m in modules if m.split(".")[0] == "os_ken"]


def test_the_gate_imports_no_package_metadata() -> None:
    """importlib.metadata (the control socket's ``version``) is imported when asked.

    The other daemons import it anyway, through ovsdbapp (pbr) and pydantic.
    """
    assert "importlib.metadata" not in _imported("import ovn_inject.cli.sbgate_cmd, ovn_inject.gate.proxy")


@pytest.mark.parametrize("module", [*central.COMMON_MODULES, *central.SHARED_MODULES, *central.STATE_MODULES])
def test_what_a_sandbox_imports_for_its_daemons_exists(module: str) -> None:
    """A sandbox imports these once for all its daemons (ovn_inject.prefork): a module gone fails here."""
    importlib.import_module(module)
