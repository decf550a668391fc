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
    assert "ExecStart=/opt/ovn-inject/bin/ovn-inject northd --nb-db tcp:192.0.2.1:6641" in northd
    assert "--sb-db tcp:192.0.2.1:6642,tcp:192.0.2.2:6642" in northd
    gate = (tmp_path / "ovn-inject-sbgate.service").read_text()
    assert "sbgate --listen punix:/run/ovn/gate.sock" in gate
    gateway = (tmp_path / "ovn-inject-gateway.service").read_text()
    assert "gateway --listen 127.0.0.1:8470 --inject-db tcp:192.0.2.1:6641" in gateway
    assert "--private-key" not in gateway
    tls = units.render(dataclasses.replace(SITE, private_key="/etc/ovn/k.pem", certificate="/etc/ovn/c.pem"))
    assert "--private-key /etc/ovn/k.pem --certificate /etc/ovn/c.pem" in tls["ovn-inject-gateway.service"]
    dropin = (tmp_path / "ovn-northd.service.d" / "ovn-inject-gate.conf").read_text()
    assert "--ovn-northd-sb-db=unix:/run/ovn/gate.sock" in dropin
    assert "Environment=OVN_SYSCONFDIR=/run/ovn/ovn-inject-sysconf\n" in dropin
    assert (
        "northd-db-params --gate unix:/run/ovn/gate.sock --source /etc/ovn/ovn-northd-db-params.conf"
        in dropin
    )


def test_gate_remote_follows_the_listen_address() -> None:
    assert units.Site(*(["x"] * 4), "ptcp:6699:127.0.0.1", "k").gate_remote == "tcp:127.0.0.1:6699"  # type: ignore[arg-type]
    with pytest.raises(OvnInjectError, match="punix:PATH or ptcp"):
        _ = units.Site(*(["x"] * 4), "unix:/x", "k").gate_remote  # type: ignore[arg-type]


def test_units_run_as_the_site_user_hardened_after_the_databases() -> None:
    rendered = units.render(dataclasses.replace(SITE, user="ovn-inject", group="ovn-inject"))
    for name in ("ovn-inject-ovsdb.service", "ovn-inject-sbgate.service", "ovn-inject-northd.service"):
        text = rendered[name]
        assert "User=ovn-inject\nGroup=ovn-inject\n" in text
        assert "NoNewPrivileges=yes" in text and "ProtectSystem=strict" in text
    northd = rendered["ovn-inject-northd.service"]
    assert (
        "Requires=ovn-ovsdb-server-nb.service ovn-ovsdb-server-sb.service ovn-inject-ovsdb.service" in northd
    )
    assert "After=network.target ovn-northd.service ovn-inject-sbgate.service ovn-ovsdb-server-nb" in northd
    remote = units.render(dataclasses.replace(SITE, own_db=False, requires=()))
    assert "ovn-inject-ovsdb.service" not in remote
    assert "Requires=" not in remote["ovn-inject-northd.service"]


def test_the_database_unit_standalone_and_clustered() -> None:
    standalone = units.render(SITE)["ovn-inject-ovsdb.service"]
    assert (
        "ExecStartPre=/opt/ovn-inject/bin/ovn-inject db-create /var/lib/ovn-inject/ovn-inject.db\n"
        in standalone
    )
    assert "--remote=punix:/run/ovn/ovn-inject_db.sock" in standalone
    joining = units.render(
        dataclasses.replace(SITE, cluster_local="tcp:192.0.2.2:6646", cluster_remote="tcp:192.0.2.1:6646")
    )["ovn-inject-ovsdb.service"]
    assert "--cluster-local tcp:192.0.2.2:6646 --cluster-remote tcp:192.0.2.1:6646" in joining


THREADS = "--ovnnb-db=tcp:a:6641 --n-threads=4 --ovnsb-db=unix:/g.sock\n"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("--ovnnb-db=tcp:a:6641 --ovnsb-db=tcp:a:6642\n", "--ovnnb-db=tcp:a:6641 --ovnsb-db=unix:/g.sock\n"),
        ("--ovnsb-db tcp:a:6642 --ovnnb-db=tcp:a:6641", "--ovnnb-db=tcp:a:6641 --ovnsb-db=unix:/g.sock\n"),
        (
            "--ovnnb-db=tcp:a:6641\n  --n-threads=4\n",
            "--ovnnb-db=tcp:a:6641 --n-threads=4 --ovnsb-db=unix:/g.sock\n",
        ),
        ("", "--ovnsb-db=unix:/g.sock\n"),
    ],
)
def test_northd_db_params_point_sb_at_the_gate(given: str, expected: str) -> None:
    assert units.northd_db_params(given, "unix:/g.sock") == expected
