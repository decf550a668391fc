"""Golden compiler cases: a small text form of topology, services and flows, and of the SB rows out.

A case reads::

    ## what the case shows
    switch ls-a tenant-a: vm1 vm2 vm3@tenant-b   (a port's own tenant after @)
    switch ls-a tenant-a: vm1=MAC,IP rp~router>lrp-a   (addresses after =, type after ~, peer after >)
    router lr-a tenant-a: lrp-a
    group pg-a tenant-a: vm1 vm2
    service ips tenant-a [disabled]
    attach a1 ips lsp:vm1 ls-in-port [ORDER]
    flow f1 ips PRIORITY [ATTACHMENT] | MATCH | ACTIONS
    =>
    DATAPATH PIPELINE table=?? priority=P STAGE ATTACHMENT [FLOW] | MATCH | ACTIONS
    status f1 installed

Table numbers print as ``table=??`` and rows are named by the case's names,
not uuids, as OVN's own tests strip what varies between runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ovn_inject.core import compiler as c
from ovn_inject.core.appflows import FlowCache, ServiceFlow
from ovn_inject.core.hooks import DatapathKind, Pipeline, TargetKind
from ovn_inject.core.placement import StageInfo, place_hooks
from ovn_inject.core.topology import Datapath, Port, PortGroup, Topology, ip_text, mac_text

GOLDEN_DIR = Path(__file__).parent / "golden"

#: Host stages as 23.03 places them (table ids are stripped from the output anyway).
STAGES = {
    "ls_in_pre_acl": StageInfo("ls_in_pre_acl", "ingress", 4, 110),
    "ls_in_l2_lkup": StageInfo("ls_in_l2_lkup", "ingress", 25, 110),
    "ls_out_pre_acl": StageInfo("ls_out_pre_acl", "egress", 1, 110),
    "ls_out_check_port_sec": StageInfo("ls_out_check_port_sec", "egress", 8, 100),
    "lr_in_ip_routing_pre": StageInfo("lr_in_ip_routing_pre", "ingress", 11, 0),
    "lr_in_arp_resolve": StageInfo("lr_in_arp_resolve", "ingress", 17, 500),
    "lr_out_snat": StageInfo("lr_out_snat", "egress", 3, 162),
    "lr_out_delivery": StageInfo("lr_out_delivery", "egress", 6, 100),
}
#: 23.03's router ingress pipeline uses reg9[0..6] (its egress reg9 bits are not in the way).
USED = {(DatapathKind.ROUTER, Pipeline.INGRESS): {"reg9": frozenset(range(7))}}
PLACEMENTS = place_hooks(STAGES, USED)


@dataclass
class Case:
    title: str
    given: list[str]
    expected: list[str]
    datapaths: list[Datapath] = field(default_factory=list)
    ports: list[Port] = field(default_factory=list)
    groups: list[PortGroup] = field(default_factory=list)
    services: list[c.ServiceSpec] = field(default_factory=list)
    attachments: list[c.AttachmentSpec] = field(default_factory=list)
    flows: list[ServiceFlow] = field(default_factory=list)

    def inputs(self) -> tuple[Topology, list[c.ServiceSpec], list[c.AttachmentSpec], list[ServiceFlow]]:
        return (
            Topology.build(self.datapaths, self.ports, self.groups),
            self.services,
            self.attachments,
            self.flows,
        )


def read_cases(path: Path) -> list[Case]:
    cases: list[Case] = []
    for block in re.split(r"\n(?=## )", path.read_text().strip()):
        lines = block.splitlines()
        given, _, expected = "\n".join(lines[1:]).partition("\n=>")
        case = Case(lines[0][3:].strip(), given.strip().splitlines(), expected.strip().splitlines())
        _parse_given(case)
        cases.append(case)
    return cases


def _parse_given(case: Case) -> None:
    cache = FlowCache()
    services: dict[str, c.ServiceSpec] = {}
    for line in case.given:
        word, _, rest = line.partition(" ")
        if word in ("switch", "router"):
            head, _, members = rest.partition(":")
            name, tenant = head.split()
            kind = DatapathKind.SWITCH if word == "switch" else DatapathKind.ROUTER
            case.datapaths.append(Datapath(name, kind, tenant, f"dp-{name}"))
            for member in members.split():
                case.ports.append(_port(member, name, tenant))
        elif word == "group":
            head, _, members = rest.partition(":")
            name, tenant = head.split()
            case.groups.append(PortGroup(name, tenant, tuple(members.split())))
        elif word == "service":
            name, tenant, *flags = rest.split()
            services[name] = c.ServiceSpec(name, name, tenant, "disabled" not in flags)
            case.services.append(services[name])
        elif word == "attach":
            key, service, target, hook, *order = rest.split()
            kind, _, target_name = target.partition(":")
            case.attachments.append(
                c.AttachmentSpec(
                    key, service, TargetKind(kind), target_name, hook, int(order[0]) if order else 0
                )
            )
        elif word == "flow":
            head, match, actions = (part.strip() for part in rest.split(" | "))
            key, service, priority, *attachment = head.split()
            flow = ServiceFlow(
                key,
                service,
                attachment[0] if attachment else None,
                int(priority),
                cache.check(match, actions),
            )
            case.flows.append(flow)
        else:
            raise ValueError(f"{case.title}: cannot read {line!r}")


def _port(member: str, datapath: str, tenant: str) -> Port:
    """``NAME[@TENANT][~TYPE[>PEER]][=ADDRESS,...]``."""
    head, _, addresses = member.partition("=")
    head, _, kind = head.partition("~")
    name, _, own = head.partition("@")
    kind, _, peer = kind.partition(">")
    words = [w for w in addresses.split(",") if w]
    macs = frozenset(m for m in map(mac_text, words) if m)
    ips = frozenset(i for i in map(ip_text, words) if i and not mac_text(i))
    return Port(name, datapath, own or tenant, kind, macs, ips, peer or None)


def render(compiled: c.Compiled) -> list[str]:
    """The compiled rows and statuses in the golden form, in a stable order."""
    rows = []
    for lflow in compiled.lflows.values():
        ids = dict(lflow.external_ids)
        names = " ".join(filter(None, (ids["ovn-inject-attachment"], ids.get("ovn-inject-flow"))))
        line = (
            f"{lflow.datapath.removeprefix('dp-')} {lflow.pipeline} table={lflow.table_id} "
            f"priority={lflow.priority} {ids['stage-name']} {names} | {lflow.match} | {lflow.actions}"
        )
        rows.append(re.sub(r"table=\d+", "table=??", line))
    statuses = [
        f"status {key} {status.state}" + (f" ({status.reason})" if status.reason else "")
        for table in (compiled.attachment_status, compiled.flow_status)
        for key, status in sorted(table.items())
    ]
    return sorted(rows) + statuses


def write_cases(path: Path, cases: list[Case], outputs: list[list[str]]) -> None:
    blocks = [
        "\n".join([f"## {case.title}", *case.given, "=>", *output])
        for case, output in zip(cases, outputs, strict=True)
    ]
    path.write_text("\n\n".join(blocks) + "\n")
