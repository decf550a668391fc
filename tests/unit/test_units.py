"""The systemd units render from the templates with every value in place."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ovn_inject import units
from ovn_inject.errors import OvnInjectError

SITE = units.Site(
    "/opt/ovn-inject/bin/ovn-inject",
    "tcp:192.0.2.1:6641",
    "tcp:192.0.2.1:6642,tcp:192.0.2.2:6642",
    "tcp:192.0.2.1:6641",
    "punix:/run/ovn/gate.sock",
    "neutron:project_id",
)


def test_units_render_with_the_site_values(tmp_path: Path) -> None:
    written = units.write(SITE, tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == sorted(units.UNITS.values())
    northd = (tmp_path / "ovn-inject-northd.service").read_text()
    assert "ExecStart=/opt/ovn-inject/bin/ovn-inject northd --nb tcp:192.0.2.1:6641" in northd
    assert "--sb tcp:192.0.2.1:6642,tcp:192.0.2.2:6642" in northd
    gate = (tmp_path / "ovn-inject-sbgate.service").read_text()
    assert "sbgate --listen punix:/run/ovn/gate.sock" in gate
    gateway = (tmp_path / "ovn-inject-gateway.service").read_text()
    assert "gateway --listen 127.0.0.1:8470 --inject-db tcp:192.0.2.1:6641" in gateway
    assert "--private-key" not in gateway
    tls = units.render(dataclasses.replace(SITE, private_key="/etc/ovn/k.pem", certificate="/etc/ovn/c.pem"))
    assert "--private-key /etc/ovn/k.pem --certificate /etc/ovn/c.pem" in tls["ovn-inject-gateway.service"]
    dropin = (tmp_path / "ovn-northd.service.d" / "ovn-inject-gate.conf").read_text()
    assert "--ovn-northd-sb-db=unix:/run/ovn/gate.sock" in dropin


def test_gate_remote_follows_the_listen_address() -> None:
    assert units.Site(*(["x"] * 4), "ptcp:6699:127.0.0.1", "k").gate_remote == "tcp:127.0.0.1:6699"  # type: ignore[arg-type]
    with pytest.raises(OvnInjectError, match="punix:PATH or ptcp"):
        _ = units.Site(*(["x"] * 4), "unix:/x", "k").gate_remote  # type: ignore[arg-type]
