"""The optional northd features of the ``full`` topology, declared as data.

Each feature is what an operator turns on in NB (the ``ovn-nbctl`` commands of
one transaction), what the NB schema must offer for it (so a release without
it skips it instead of failing), and a proof that northd really computed it:
a Logical_Flow of a named stage whose match or actions says so, or a Southbound
row. The point of the ``full`` topology is that every register bit northd can
use is in use somewhere, so free bits are measured, not guessed.

Names refer to the demo topology (``ls-a`` with vm1..vm3, ``ls-b`` with vm4 and
vm5, router ``lr-a``) plus the ``full`` topology's external switch ``ls-ext``,
whose router port ``lrp-a-ext`` is a distributed gateway port on chassis hv1.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ovn_inject.sandbox.release import schema_has


@dataclass(frozen=True)
class FlowProof:
    """A northd flow of a stage fully matching regex ``stage`` whose match or actions contain ``text``."""

    stage: str
    text: str


@dataclass(frozen=True)
class RowProof:
    """A Southbound row of ``table`` (with a non-empty ``column`` if given)."""

    table: str
    column: str = ""


Proof = FlowProof | RowProof


@dataclass(frozen=True)
class Feature:
    name: str
    commands: tuple[tuple[str, ...], ...]
    proofs: tuple[Proof, ...]
    #: What the NB schema must have: ``Table``, ``Table.column`` or ``Table.column=enum value``.
    needs: tuple[str, ...] = ()

    def supported(self, schema: dict[str, Any]) -> bool:
        return all(schema_has(schema, need) for need in self.needs)


def _acl(owner: str, name: str, *columns: str) -> tuple[tuple[str, ...], ...]:
    """Create one ACL row with ``columns`` and attach it to a switch or port group."""
    table = "port_group" if owner.startswith("pg_") else "logical_switch"
    return (
        ("--id=@" + name, "create", "acl", f"name={name}", *columns),
        ("add", table, owner, "acls", "@" + name),
    )


#: A network function's two ports: no flooding to them, no MAC learning on them.
NF_PORT_OPTIONS = ("receive_multicast=false", "lsp_learn_mac=false", "is-nf=true")
ACL_EVAL_IN = r"ls_in_acl(_eval)?"
ACL_EVAL_OUT = r"ls_out_acl(_eval)?"

FEATURES: tuple[Feature, ...] = (
    Feature(
        "gateway-port",
        (
            ("lrp-set-gateway-chassis", "lrp-a-ext", "hv1", "10"),
            ("set", "logical_router_port", "lrp-a-ext", "options:gateway_mtu=1400"),
            ("lsp-add", "ls-ext", "ln-ext"),
            ("lsp-set-type", "ln-ext", "localnet"),
            ("lsp-set-addresses", "ln-ext", "unknown"),
            ("lsp-set-options", "ln-ext", "network_name=phys"),
        ),
        (
            FlowProof(r"lr_in_gw_redirect", "cr-lrp-a-ext"),
            FlowProof(r"lr_in_chk_pkt_len", "check_pkt_larger"),
        ),
    ),
    Feature(
        "acl-log",
        (
            ("meter-add", "acl-meter", "drop", "100", "pktps"),
            ("pg-add", "pg_a", "vm1", "vm3"),
            ("create", "address_set", "name=as_a", 'addresses="10.0.1.11","10.0.1.13"'),
            *_acl(
                "pg_a",
                "acl_ssh",
                "direction=to-lport",
                "priority=1000",
                'match="outport == @pg_a && ip4.src == $as_a && tcp.dst == 22"',
                "action=drop",
                "log=true",
                "severity=info",
                "meter=acl-meter",
            ),
            *_acl(
                "ls-a",
                "acl_dns",
                "direction=to-lport",
                "priority=900",
                'match="udp.dst == 53"',
                "action=reject",
                "log=true",
                "severity=warning",
            ),
        ),
        (FlowProof(ACL_EVAL_OUT, 'log(name="acl_ssh"'), FlowProof(ACL_EVAL_OUT, 'log(name="acl_dns"')),
    ),
    Feature(
        "acl-stateful",
        (
            *_acl(
                "ls-a",
                "acl_web",
                "direction=from-lport",
                "priority=1001",
                'match="ip4 && tcp.dst == 80"',
                "action=allow-related",
                "label=1234",
            ),
            *_acl(
                "ls-a",
                "acl_after_lb",
                "direction=from-lport",
                "priority=1002",
                'match="ip4 && tcp.dst == 8080"',
                "action=allow-related",
                "options:apply-after-lb=true",
            ),
            *_acl(
                "ls-a",
                "acl_stateless",
                "direction=from-lport",
                "priority=1003",
                'match="ip4 && udp.dst == 4789"',
                "action=allow-stateless",
            ),
        ),
        (
            FlowProof(ACL_EVAL_IN, "tcp.dst == 80"),
            FlowProof(r"ls_in_acl_after_lb(_eval)?", "tcp.dst == 8080"),
            FlowProof(ACL_EVAL_IN, "= 1234;"),  # the ACL's label, kept in a register for the commit
            FlowProof(r"ls_in_stateful", "ct_commit"),
        ),
    ),
    Feature(
        "acl-sample",
        (
            (
                "--id=@collector",
                "create",
                "sample_collector",
                "id=1",
                "name=coll",
                "probability=65535",
                "set_id=42",
            ),
            ("create", "sampling_app", "type=drop", "id=1"),
            ("create", "sampling_app", "type=acl-new", "id=2"),
            ("create", "sampling_app", "type=acl-est", "id=3"),
            ("--id=@sample_new", "create", "sample", "collectors=@collector", "metadata=4001"),
            ("--id=@sample_est", "create", "sample", "collectors=@collector", "metadata=4002"),
            *_acl(
                "ls-b",
                "acl_sampled",
                "direction=from-lport",
                "priority=1100",
                'match="ip4 && tcp.dst == 443"',
                "action=allow-related",
                "sample_new=@sample_new",
                "sample_est=@sample_est",
            ),
            (
                "set",
                "nb_global",
                ".",
                "options:debug_drop_domain_id=1",
                "options:debug_drop_collector_set=42",
            ),
        ),
        (FlowProof(r"ls_in_acl_(eval|sample)", "sample("),),
        needs=("ACL.sample_new", "Sampling_App"),
    ),
    Feature(
        "acl-tier",
        (
            *_acl(
                "ls-b",
                "acl_tier1",
                "direction=from-lport",
                "priority=1200",
                'match="ip4 && tcp.dst == 25"',
                "action=pass",
                "tier=1",
            ),
            *_acl(
                "ls-b",
                "acl_tier2",
                "direction=from-lport",
                "priority=1200",
                'match="ip4 && tcp.dst == 25"',
                "action=drop",
                "tier=2",
            ),
        ),
        (FlowProof(ACL_EVAL_IN, "reg8[30..31]"),),
        needs=("ACL.tier", "ACL.action=pass"),
    ),
    Feature(
        "lb-affinity",
        (
            ("lb-add", "lb-a", "10.0.1.100:80", "10.0.1.11:8080,10.0.1.13:8080", "tcp"),
            ("set", "load_balancer", "lb-a", "options:affinity_timeout=60"),
            ("ls-lb-add", "ls-a", "lb-a"),
            ("lr-lb-add", "lr-a", "lb-a"),
            ("lb-add", "lb-ext", "172.16.0.50:443", "10.0.1.12:443", "tcp"),
            ("lr-lb-add", "lr-a", "lb-ext"),
        ),
        (
            FlowProof(r"ls_in_lb", "10.0.1.100"),
            FlowProof(r"ls_in_lb_aff_check", "chk_lb_aff"),
            FlowProof(r"lr_in_lb_aff_learn", "commit_lb_aff"),
            FlowProof(r"lr_in_dnat", "172.16.0.50"),
        ),
    ),
    Feature(
        "lb-health-check",
        (
            ("set", "nb_global", ".", "options:svc_monitor_mac=02:00:00:00:fe:fe"),
            ("--id=@hc", "create", "load_balancer_health_check", 'vip="10.0.1.100:80"', "options:interval=5"),
            ("add", "load_balancer", "lb-a", "health_check", "@hc"),
            (
                "set",
                "load_balancer",
                "lb-a",
                'ip_port_mappings:"10.0.1.11"="vm1:10.0.1.1"',
                'ip_port_mappings:"10.0.1.13"="vm3:10.0.1.1"',
            ),
        ),
        (RowProof("Service_Monitor"),),
    ),
    Feature(
        "mirror",
        (
            ("mirror-add", "mirror-gre", "gre", "7", "to-lport", "172.16.0.200"),
            ("lsp-attach-mirror", "vm1", "mirror-gre"),
        ),
        (RowProof("Port_Binding", "mirror_rules"),),
    ),
    Feature(
        "mirror-lport",
        # The mirrored port is one of its own, not a VM: on 26.03.1 northd at times never sets
        # NB up=true on a bound port that has an lport mirror (SB says up; a recompute does not help).
        (
            ("lsp-add", "ls-a", "tap-a"),
            ("lsp-add", "ls-a", "mirrored"),
            ("lsp-set-addresses", "mirrored", "02:00:00:00:01:20 10.0.1.20"),
            (
                "--id=@m",
                "create",
                "mirror",
                "name=mirror-lport",
                "type=lport",
                "sink=tap-a",
                "filter=both",
                "index=0",
            ),
            ("add", "logical_switch_port", "mirrored", "mirror_rules", "@m"),
        ),
        (FlowProof(r"ls_(in|out)_mirror", "mirror("),),
        needs=("Mirror.type=lport",),
    ),
    Feature(
        "router-policy",
        (
            (
                "lr-policy-add",
                "lr-a",
                "1000",
                "ip4.src == 10.0.1.11 && ip4.dst == 10.0.2.0/24",
                "reroute",
                "172.16.0.2,172.16.0.3",
            ),
            ("lr-policy-add", "lr-a", "900", "ip4.src == 10.0.1.13 && tcp.dst == 23", "drop"),
            ("lr-policy-add", "lr-a", "800", "ip4.src == 10.0.1.12", "allow", "pkt_mark=5"),
        ),
        (FlowProof(r"lr_in_policy", "10.0.1.11"), FlowProof(r"lr_in_policy_ecmp", "172.16.0.3")),
    ),
    Feature(
        "router-policy-chain",
        (
            (
                "--id=@jump",
                "create",
                "logical_router_policy",
                "priority=700",
                'match="ip4.src == 10.0.1.0/24"',
                "action=jump",
                "jump_chain=chain-a",
            ),
            (
                "--id=@chained",
                "create",
                "logical_router_policy",
                "priority=100",
                "chain=chain-a",
                'match="tcp.dst == 8443"',
                "action=drop",
            ),
            ("add", "logical_router", "lr-a", "policies", "@jump", "@chained"),
        ),
        (FlowProof(r"lr_in_policy", "reg9[16..31]"),),
        needs=("Logical_Router_Policy.action=jump", "Logical_Router_Policy.chain"),
    ),
    Feature(
        "ecmp",
        (
            ("--ecmp", "lr-route-add", "lr-a", "192.168.0.0/24", "172.16.0.2"),
            ("--ecmp", "lr-route-add", "lr-a", "192.168.0.0/24", "172.16.0.3"),
            ("--ecmp-symmetric-reply", "lr-route-add", "lr-a", "192.168.1.0/24", "172.16.0.4"),
            ("--ecmp-symmetric-reply", "lr-route-add", "lr-a", "192.168.1.0/24", "172.16.0.5"),
        ),
        (FlowProof(r"lr_in_ip_routing", "select("), FlowProof(r"lr_in_ip_routing_ecmp", "172.16.0.3")),
    ),
    Feature(
        "nat",
        (
            ("lr-nat-add", "lr-a", "snat", "172.16.0.1", "10.0.1.0/24"),
            ("lr-nat-add", "lr-a", "dnat", "172.16.0.120", "10.0.1.13"),
            ("lr-nat-add", "lr-a", "dnat_and_snat", "172.16.0.110", "10.0.1.11"),
            ("lr-nat-add", "lr-a", "dnat_and_snat", "172.16.0.111", "10.0.1.12", "vm2", "02:00:00:00:ff:12"),
        ),
        (
            FlowProof(r"lr_out_snat", "ip4.src == 10.0.1.0/24"),
            FlowProof(r"lr_in_dnat", "ip4.dst == 172.16.0.120"),
            FlowProof(r"lr_in_dnat", "ip4.dst == 172.16.0.110"),
            FlowProof(r"lr_out_snat", "eth.src = 02:00:00:00:ff:12"),
        ),
    ),
    Feature(
        "qos-dhcp-dns",
        (
            (
                "qos-add",
                "ls-a",
                "from-lport",
                "100",
                "ip4.src == 10.0.1.11",
                "rate=1000",
                "burst=100",
                "dscp=10",
            ),
            (
                "--id=@dhcp",
                "create",
                "dhcp_options",
                "cidr=10.0.1.0/24",
                'options:lease_time="3600"',
                'options:router="10.0.1.1"',
                'options:server_id="10.0.1.1"',
                'options:server_mac="02:00:00:00:01:ff"',
            ),
            ("set", "logical_switch_port", "vm1", "dhcpv4_options=@dhcp"),
            ("--id=@dns", "create", "dns", 'records:"vm1.example"="10.0.1.11"'),
            ("add", "logical_switch", "ls-a", "dns_records", "@dns"),
        ),
        (
            FlowProof(r"ls_in_qos(_mark)?", "ip.dscp = 10"),
            FlowProof(r"ls_in_dhcp_options", "put_dhcp_opts"),
            FlowProof(r"ls_in_dns_lookup", "dns_lookup"),
        ),
    ),
    Feature(
        "network-function",
        (
            ("lsp-add", "ls-a", "nf-p1"),
            ("lsp-add", "ls-a", "nf-p2"),
            ("lsp-set-options", "nf-p1", *NF_PORT_OPTIONS, "nf-linked-port=nf-p2"),
            ("lsp-set-options", "nf-p2", *NF_PORT_OPTIONS, "nf-linked-port=nf-p1"),
            ("nf-add", "nf-a", "101", "nf-p1", "nf-p2"),
            ("nfg-add", "nfg-a", "201", "inline", "nf-a"),
            (
                "acl-add",
                "pg_a",
                "from-lport",
                "1300",
                "inport == @pg_a && ip4.dst == 10.0.2.0/24",
                "allow-related",
                "nfg-a",
            ),
        ),
        (FlowProof(r"ls_in_network_function", 'outport = "nf-p1"'),),
        needs=("Network_Function", "ACL.network_function_group"),
    ),
)


#: Root NB tables the features add rows to (beyond switches, routers, port groups, address sets,
#: load balancers and mirrors), which clearing a topology destroys where the release has them.
ROOT_TABLES = (
    "Meter",
    "DHCP_Options",
    "DNS",
    "Sample_Collector",
    "Sampling_App",
    "Network_Function_Group",
    "Network_Function",
)
#: NB_Global options the features set, which clearing a topology removes.
NB_GLOBAL_OPTIONS = ("debug_drop_domain_id", "debug_drop_collector_set")


def supported(schema: dict[str, Any]) -> tuple[list[Feature], list[Feature]]:
    """The features this NB schema offers, and those it does not (skipped).

    Features are applied in this order: later ones use rows earlier ones made (pg_a, lb-a).
    """
    on = [feature for feature in FEATURES if feature.supported(schema)]
    off = [feature for feature in FEATURES if not feature.supported(schema)]
    return on, off


def unproven(
    feature: Feature, flows: Iterable[tuple[str, str, str]], has_row: Callable[[RowProof], bool]
) -> list[str]:
    """The proofs of ``feature`` that northd's ``flows`` ((stage, match, actions) each) and SB do not show."""
    flows = list(flows)
    missing = []
    for proof in feature.proofs:
        if isinstance(proof, RowProof):
            if not has_row(proof):
                what = f"{proof.table} row" + (f" with {proof.column}" if proof.column else "")
                missing.append(f"{feature.name}: no SB {what}")
        elif not any(
            re.fullmatch(proof.stage, stage) and (proof.text in match or proof.text in actions)
            for stage, match, actions in flows
        ):
            missing.append(f"{feature.name}: no flow in stage {proof.stage} with {proof.text!r}")
    return missing
