"""Sandbox topologies declared as data, and the code that builds them in NB.

The ``demo`` topology is what tests, benchmarks and ``make run`` share: two
tenants on one cloud, as OpenStack would create them (the tenant of every row
in ``external_ids:neutron:project_id``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ovn_inject.constants import DEFAULT_TENANT_KEY
from ovn_inject.errors import SandboxError
from ovn_inject.sandbox import features, release
from ovn_inject.sandbox.sandbox import Sandbox


@dataclass(frozen=True)
class Vm:
    name: str
    mac: str
    ip: str
    chassis: int  # 1-based; folded onto the chassis that exist
    tenant: str | None = None  # a port of another tenant than its switch's (a shared switch)


@dataclass(frozen=True)
class RouterPort:
    name: str
    mac: str
    cidr: str  # e.g. 10.0.1.1/24

    @property
    def ip(self) -> str:
        return self.cidr.split("/")[0]


@dataclass(frozen=True)
class Switch:
    name: str
    tenant: str
    vms: tuple[Vm, ...]
    router: str | None = None
    router_port: RouterPort | None = None
    localnet: str | None = None  # a localnet port's name (network "physnet1", no bridge mapping)


@dataclass(frozen=True)
class Topology:
    name: str
    switches: tuple[Switch, ...] = ()
    routers: dict[str, str] = field(default_factory=dict)  # router name -> tenant
    #: Turn on every optional northd feature the release has (ovn_inject.sandbox.features).
    features: bool = False

    def vm(self, name: str) -> Vm:
        for switch in self.switches:
            for vm in switch.vms:
                if vm.name == name:
                    return vm
        raise SandboxError(f"no VM '{name}' in topology '{self.name}'")

    def switch_of(self, name: str) -> Switch:
        for switch in self.switches:
            if any(vm.name == name for vm in switch.vms):
                return switch
        raise SandboxError(f"no VM '{name}' in topology '{self.name}'")

    @property
    def vms(self) -> list[Vm]:
        return [vm for switch in self.switches for vm in switch.vms]


def _vm(n: int, subnet: int, chassis: int) -> Vm:
    return Vm(f"vm{n}", f"02:00:00:00:{subnet:02x}:{n:02x}", f"10.0.{subnet}.{10 + n}", chassis)


DEMO = Topology(
    name="demo",
    switches=(
        Switch(
            "ls-a",
            "tenant-a",
            (_vm(1, 1, 1), _vm(2, 1, 2), _vm(3, 1, 1)),
            router="lr-a",
            router_port=RouterPort("lrp-a-ls-a", "02:00:00:00:01:ff", "10.0.1.1/24"),
        ),
        Switch("ls-b", "tenant-b", (_vm(4, 2, 1), _vm(5, 2, 2))),
    ),
    routers={"lr-a": "tenant-a"},
)

#: The demo plus an external network behind a distributed gateway port, and every optional northd
#: feature that uses registers turned on (so that free register bits are measured, not guessed).
FULL = Topology(
    name="full",
    switches=(
        *DEMO.switches,
        Switch(
            "ls-ext",
            "tenant-a",
            (),
            router="lr-a",
            router_port=RouterPort("lrp-a-ext", "02:00:00:00:ff:01", "172.16.0.1/24"),
        ),
    ),
    routers=DEMO.routers,
    features=True,
)

#: The demo with a shared switch: tenant-b's vm6 on tenant-a's ls-a (on the other chassis
#: than vm1), and tenant-a's router lr-a serving both tenants (ls-b is joined to it too).
SHARED = Topology(
    name="shared",
    switches=(
        Switch(
            "ls-a",
            "tenant-a",
            (
                _vm(1, 1, 1),
                _vm(2, 1, 2),
                _vm(3, 1, 1),
                Vm("vm6", "02:00:00:00:01:06", "10.0.1.16", 2, tenant="tenant-b"),
            ),
            router="lr-a",
            router_port=RouterPort("lrp-a-ls-a", "02:00:00:00:01:ff", "10.0.1.1/24"),
            localnet="ln-a",
        ),
        Switch(
            "ls-b",
            "tenant-b",
            (_vm(4, 2, 1), _vm(5, 2, 2)),
            router="lr-a",
            router_port=RouterPort("lrp-a-ls-b", "02:00:00:00:02:ff", "10.0.2.1/24"),
        ),
    ),
    routers={"lr-a": "tenant-a"},
)

NONE = Topology(name="none")

TOPOLOGIES = {"demo": DEMO, "full": FULL, "shared": SHARED, "none": NONE}


def nb_commands(topology: Topology, tenant_key: str = DEFAULT_TENANT_KEY) -> list[list[str]]:
    """The ovn-nbctl commands that create ``topology`` (one transaction)."""
    commands: list[list[str]] = []
    for router, tenant in topology.routers.items():
        commands.append(["lr-add", router])
        commands.append(["set", "logical_router", router, f'external_ids:"{tenant_key}"="{tenant}"'])
    for switch in topology.switches:
        tenancy = f'external_ids:"{tenant_key}"="{switch.tenant}"'
        commands.append(["ls-add", switch.name])
        commands.append(["set", "logical_switch", switch.name, tenancy])
        for vm in switch.vms:
            commands += [
                ["lsp-add", switch.name, vm.name],
                ["lsp-set-addresses", vm.name, f"{vm.mac} {vm.ip}"],
                ["lsp-set-port-security", vm.name, f"{vm.mac} {vm.ip}"],
                [
                    "set",
                    "logical_switch_port",
                    vm.name,
                    f'external_ids:"{tenant_key}"="{vm.tenant or switch.tenant}"',
                ],
            ]
        if switch.localnet:
            commands += [
                ["lsp-add", switch.name, switch.localnet],
                ["lsp-set-type", switch.localnet, "localnet"],
                ["lsp-set-addresses", switch.localnet, "unknown"],
                ["lsp-set-options", switch.localnet, "network_name=physnet1"],
                ["set", "logical_switch_port", switch.localnet, tenancy],
            ]
        if switch.router and switch.router_port:
            rp = switch.router_port
            peer = f"{switch.name}-{switch.router}"
            router_tenancy = (
                f'external_ids:"{tenant_key}"="{topology.routers.get(switch.router, switch.tenant)}"'
            )
            commands += [
                ["lrp-add", switch.router, rp.name, rp.mac, rp.cidr],
                ["set", "logical_router_port", rp.name, router_tenancy],
                ["lsp-add", switch.name, peer],
                ["lsp-set-type", peer, "router"],
                ["lsp-set-addresses", peer, "router"],
                ["lsp-set-options", peer, f"router-port={rp.name}"],
                ["set", "logical_switch_port", peer, tenancy],
            ]
    return commands


def build(sandbox: Sandbox, topology: Topology, wait: bool = True) -> None:
    """Create ``topology`` in NB, bind its VMs to chassis and wait until they are up."""
    if not topology.switches:
        return
    args: list[str] = []
    for command in nb_commands(topology):
        args += ["--", *command]
    sandbox.nbctl(*args[1:])
    chassis = sandbox.state.chassis
    for vm in topology.vms:
        sandbox.bind_port(vm.name, chassis[(vm.chassis - 1) % len(chassis)])
    sandbox.state.extra["topology"] = topology.name
    if topology.features:
        on, off = features.supported(release.nb_schema())
        for feature in on:
            feature_args: list[str] = []
            for step in feature.commands:
                feature_args += ["--", *step]
            sandbox.nbctl(*feature_args[1:])
        sandbox.state.extra["features"] = [feature.name for feature in on]
        sandbox.state.extra["features_skipped"] = [feature.name for feature in off]
    sandbox.save()
    if wait:
        sandbox.wait_ports_up(vm.name for vm in topology.vms)
        sandbox.nbctl("--wait=hv", "sync")


def by_name(name: str) -> Topology:
    try:
        return TOPOLOGIES[name]
    except KeyError:
        raise SandboxError(f"unknown topology '{name}'; choose one of {', '.join(TOPOLOGIES)}") from None


def clear(sandbox: Sandbox) -> None:
    """Remove every root NB row a topology may have made (the features' too) and unbind all ports."""
    for lport in list(sandbox.state.bindings):
        sandbox.unbind_port(lport)
    # Two transactions: a Sample_Collector stays referenced by its Sample rows until the ACLs that
    # hold those are gone.
    schema = release.nb_schema()
    for tables in (
        ("logical_switch", "logical_router", "port_group", "address_set", "load_balancer", "acl", "mirror"),
        tuple(table for table in features.ROOT_TABLES if release.schema_has(schema, table)),
    ):
        args: list[str] = []
        for table in tables:
            for uuid in sandbox.nbctl("--bare", "--columns=_uuid", "list", table).split():
                args += ["--", "--if-exists", "destroy", table, uuid]
        if args:
            sandbox.nbctl(*args[1:])
    sandbox.nbctl("remove", "nb_global", ".", "options", *features.NB_GLOBAL_OPTIONS)
    sandbox.state.extra.pop("topology", None)
    sandbox.state.extra.pop("features", None)
    sandbox.state.extra.pop("features_skipped", None)
    sandbox.save()
