"""The demo topology as data: tenants on every row, unique addresses."""

from __future__ import annotations

from ovn_inject.sandbox import topology


def test_demo_rows_carry_their_tenant() -> None:
    commands = topology.nb_commands(topology.DEMO)
    sets = [c for c in commands if c[0] == "set"]
    assert len(sets) == 2 + 5 + 1 + 1 + 1  # switches, vms, router, router port, its peer
    assert all('"neutron:project_id"=' in c[-1] for c in sets)


def test_demo_addresses_are_unique() -> None:
    demo = topology.DEMO
    macs = [vm.mac for vm in demo.vms] + [s.router_port.mac for s in demo.switches if s.router_port]
    ips = [vm.ip for vm in demo.vms] + [s.router_port.ip for s in demo.switches if s.router_port]
    assert len(set(macs)) == len(macs) and len(set(ips)) == len(ips)
    assert demo.switch_of("vm4").tenant == "tenant-b"
