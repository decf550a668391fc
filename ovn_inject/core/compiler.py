"""Services + attachments + flows -> the hook lflows SB must hold (pure, no I/O).

For every datapath and hook point, the ports there are grouped by the
ordered chain of services whose attachments cover them (a *scope*). A
per-hook cursor counts how many services of the chain a packet has passed:

* continuation, service j of a scope: ``cursor == j && scope`` ->
  ``cursor = j+1; next(pipeline=P, table=K);``
* the service's own flows: ``cursor == j && scope && (app match)`` at a
  higher priority; ``next;`` in the app's actions is that continuation.

Once the cursor reached the chain's length no hook flow matches, and
northd's own flows of table K run as if nothing happened.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from json.encoder import encode_basestring_ascii
from typing import Protocol

from ovn_inject.constants import OWNER_KEY, OWNER_VALUE
from ovn_inject.core.hooks import HOOKS_BY_NAME, Pipeline, TargetKind
from ovn_inject.core.placement import Placement, Unusable
from ovn_inject.core.reach import Write, rewrite_problem, scope_match
from ovn_inject.core.status import AttachmentState, FlowState, Status
from ovn_inject.core.topology import TargetError, Topology

#: uuid5 namespace of our Logical_Flow rows: same identity, same row uuid.
LFLOW_NAMESPACE = uuid.UUID("6f0e6a4e-8a0b-5d0e-9a57-0c1d2b3e4f50")
_NAMESPACE_BYTES = LFLOW_NAMESPACE.bytes
_json_str = encode_basestring_ascii  # json.dumps's encoder of a str (ensure_ascii)


@dataclass(frozen=True)
class ServiceSpec:
    uuid: str
    name: str
    tenant: str
    enabled: bool = True


@dataclass(frozen=True)
class AttachmentSpec:
    uuid: str
    service: str  # ServiceSpec.uuid
    kind: TargetKind
    target: str
    hook: str
    order: int = 0


class AppFlow(Protocol):
    """A service flow, already parsed and checked against the policy.

    ``render_actions`` prints the actions with every plain ``next;`` replaced
    by ``continuation`` (canonical action text), from the parsed tree.
    """

    @property
    def uuid(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def attachment(self) -> str | None: ...
    @property
    def priority(self) -> int: ...
    @property
    def ports(self) -> frozenset[str]: ...
    @property
    def writes(self) -> tuple[Write, ...]: ...
    def problem(self, pipeline: Pipeline) -> str | None: ...
    def render_match(self) -> str: ...
    def render_actions(self, continuation: str) -> str: ...


@dataclass(frozen=True)
class LogicalFlow:
    """One SB Logical_Flow row of ours; its uuid is a function of its content."""

    datapath: str
    pipeline: str
    table_id: int
    priority: int
    match: str
    actions: str
    external_ids: tuple[tuple[str, str], ...]

    @cached_property
    def uuid(self) -> uuid.UUID:
        """``uuid5(LFLOW_NAMESPACE, json.dumps([datapath, ..., external_ids], separators=(",", ":")))``.

        The same text, put together from its strings' JSON (the encoder
        json.dumps uses) instead of through json.dumps, which cost twice as
        much per row: a pass computes one per row it compiles. The text must
        never change: the uuid is a row's identity in SB across versions.
        """
        ids = ",".join(f"[{_json_str(key)},{_json_str(value)}]" for key, value in self.external_ids)
        identity = (
            f"[{_json_str(self.datapath)},{_json_str(self.pipeline)},{int.__repr__(self.table_id)},"
            f"{int.__repr__(self.priority)},{_json_str(self.match)},{_json_str(self.actions)},[{ids}]]"
        )
        digest = hashlib.sha1(_NAMESPACE_BYTES + identity.encode()).digest()
        return uuid.UUID(bytes=digest[:16], version=5)  # what uuid.uuid5 does

    @property
    def service(self) -> str:
        return dict(self.external_ids).get("ovn-inject-service", "")


#: What compiling one scope chain did to a Compiled, in order, to replay it:
#: ("lflow", "", row) or ("flow" | "flow-if-not-installed" | "attachment", uuid, status).
_Step = tuple[str, str, "LogicalFlow | Status"]


@dataclass
class Compiled:
    lflows: dict[uuid.UUID, LogicalFlow] = field(default_factory=dict)
    flow_status: dict[str, Status] = field(default_factory=dict)
    attachment_status: dict[str, Status] = field(default_factory=dict)
    #: the steps of the chain being compiled, when a ChainMemo records them
    recording: list[_Step] | None = None

    def add(self, lflow: LogicalFlow) -> None:
        self.lflows[lflow.uuid] = lflow
        if self.recording is not None:
            self.recording.append(("lflow", "", lflow))

    def set_flow(self, key: str, status: Status, unless_installed: bool = False) -> None:
        if self.recording is not None:  # recorded even when skipped: a replay decides again
            self.recording.append(("flow-if-not-installed" if unless_installed else "flow", key, status))
        if unless_installed and self.flow_status[key].state == FlowState.INSTALLED:
            return
        self.flow_status[key] = status

    def set_attachment(self, key: str, status: Status) -> None:
        self.attachment_status[key] = status
        if self.recording is not None:
            self.recording.append(("attachment", key, status))

    def replay(self, steps: list[_Step]) -> None:
        for kind, key, value in steps:
            if isinstance(value, LogicalFlow):
                self.add(value)
            elif kind == "attachment":
                self.set_attachment(key, value)
            else:
                self.set_flow(key, value, kind == "flow-if-not-installed")


class ChainMemo:
    """Chains compiled in the previous pass, to replay instead of recompiling.

    A chain's rows depend only on its key (datapath, placement, services,
    ports, the flow objects of its services) and on the topology; the memo is
    dropped whenever the topology object changes. Flow objects are keyed by
    identity, so a caller must hand the same object for an unchanged flow.
    Keeps only what the last pass used.
    """

    def __init__(self) -> None:
        self.topology: Topology | None = None
        self.previous: dict[Hashable, list[_Step]] = {}
        self.current: dict[Hashable, list[_Step]] = {}
        self.hits = 0

    def start(self, topology: Topology) -> None:
        if topology is not self.topology:
            self.topology = topology
            self.current = {}
        self.previous, self.current = self.current, {}
        self.hits = 0


@dataclass(frozen=True)
class _Link:
    """One service in one scope chain."""

    attachment: AttachmentSpec
    service: ServiceSpec


def compile_hooks(
    topology: Topology,
    placements: Mapping[str, Placement | Unusable],
    services: Iterable[ServiceSpec],
    attachments: Iterable[AttachmentSpec],
    flows: Iterable[AppFlow],
    memo: ChainMemo | None = None,
) -> Compiled:
    """The desired hook lflows, plus the status of every attachment and flow.

    With a ``memo``, chains whose inputs did not change since the previous
    call are replayed rather than compiled again (same result, less work).
    """
    out = Compiled()
    if memo is not None:
        memo.start(topology)
    by_uuid = {s.uuid: s for s in services}
    flows_by_service: dict[str, list[AppFlow]] = defaultdict(list)
    for flow in flows:
        flows_by_service[flow.service].append(flow)
        out.flow_status[flow.uuid] = Status(FlowState.PENDING, "no active attachment")

    # (datapath, hook) -> port -> links covering it
    chains: dict[tuple[str, str], dict[str, list[_Link]]] = defaultdict(lambda: defaultdict(list))
    for att in sorted(attachments, key=lambda a: (a.order, a.uuid)):
        service = by_uuid.get(att.service)
        if service is None:
            continue
        if not service.enabled:
            out.set_attachment(
                att.uuid, Status(AttachmentState.PENDING, f"service '{service.name}' is disabled")
            )
            continue
        placement = placements.get(att.hook)
        if placement is None or isinstance(placement, Unusable):
            reason = placement.reason if placement else f"unknown hook point '{att.hook}'"
            out.set_attachment(
                att.uuid, Status(AttachmentState.INVALID, f"hook '{att.hook}' unusable: {reason}")
            )
            continue
        if not HOOKS_BY_NAME[att.hook].accepts(att.kind):
            out.set_attachment(
                att.uuid,
                Status(AttachmentState.INVALID, f"hook '{att.hook}' does not fit a {att.kind} target"),
            )
            continue
        try:
            scope = topology.scope(att.kind, att.target, service.tenant)
        except TargetError as exc:
            out.set_attachment(att.uuid, Status(AttachmentState.INVALID, str(exc)))
            continue
        out.set_attachment(att.uuid, Status(AttachmentState.ACTIVE))
        for datapath, ports in scope.items():
            for port in ports:
                links = chains[(datapath, att.hook)][port]
                if all(link.service.uuid != service.uuid for link in links):
                    links.append(_Link(att, service))

    for (datapath, hook_name), port_links in sorted(chains.items()):
        placement = placements[hook_name]
        assert isinstance(placement, Placement)
        groups: dict[tuple[_Link, ...], set[str]] = defaultdict(set)
        for port, links in port_links.items():
            groups[tuple(links)].add(port)
        for chain, members in sorted(groups.items(), key=lambda item: sorted(item[1])):
            ports = frozenset(members)
            if memo is None:
                _compile_chain(out, topology, placement, datapath, chain, ports, flows_by_service)
                continue
            key = (
                datapath,
                placement,
                chain,
                ports,
                tuple(tuple(flows_by_service.get(link.service.uuid, ())) for link in chain),
            )
            steps = memo.previous.get(key)
            if steps is not None:
                memo.hits += 1
                out.replay(steps)
            else:
                steps = out.recording = []
                _compile_chain(out, topology, placement, datapath, chain, ports, flows_by_service)
                out.recording = None
            memo.current[key] = steps
    return out


def _compile_chain(
    out: Compiled,
    topology: Topology,
    placement: Placement,
    datapath_name: str,
    chain: tuple[_Link, ...],
    ports: frozenset[str],
    flows_by_service: Mapping[str, list[AppFlow]],
) -> None:
    hook = placement.hook
    datapath = topology.datapath(datapath_name)
    assert datapath is not None
    cursor = placement.cursor
    tenant = chain[0].service.tenant  # a chain covers ports of one tenant: its services are that tenant's
    scope = scope_match(topology, hook, datapath_name, ports, tenant)
    pipeline = hook.pipeline.value
    if scope is None:
        for link in chain:
            for flow in flows_by_service.get(link.service.uuid, ()):
                if flow.attachment in (None, link.attachment.uuid):
                    reason = f"no packet of tenant '{tenant}''s own ports passes {', '.join(sorted(ports))}"
                    out.set_flow(flow.uuid, Status(FlowState.PENDING, reason), True)
        return
    for j, link in enumerate(chain):
        service, att = link.service, link.attachment
        if j >= cursor.capacity:
            out.set_attachment(
                att.uuid,
                Status(
                    AttachmentState.INVALID,
                    f"more than {cursor.capacity} services at hook '{hook.name}' on port(s) "
                    f"{', '.join(sorted(ports))}: widen the cursor",
                ),
            )
            continue
        ids = (
            (OWNER_KEY, OWNER_VALUE),
            ("ovn-inject-attachment", att.uuid),
            ("ovn-inject-hook", hook.name),
            ("ovn-inject-service", service.name),
            ("stage-name", hook.stage_name),
        )
        continuation = f"{cursor.assign(j + 1)} next(pipeline={pipeline}, table={placement.table_id});"
        at_cursor = f"{cursor.match(j)} && {scope}"
        out.add(
            LogicalFlow(
                datapath.sb_uuid,
                pipeline,
                placement.table_id,
                placement.base_priority,
                at_cursor,
                continuation,
                ids,
            )
        )
        for flow in flows_by_service.get(service.uuid, ()):
            if flow.attachment is not None and flow.attachment != att.uuid:
                continue
            problem = (
                flow.problem(hook.pipeline)
                or _port_problem(topology, flow, service.tenant)
                or rewrite_problem(
                    flow.writes,
                    hook,
                    topology.target_reach(att.kind, att.target, service.tenant),
                    f"{att.kind}:{att.target}",
                )
            )
            if problem:
                out.set_flow(flow.uuid, Status(FlowState.INVALID, problem))
                continue
            if any(topology.port(p).datapath != datapath_name for p in flow.ports):  # type: ignore[union-attr]
                out.set_flow(
                    flow.uuid, Status(FlowState.PENDING, "its ports sit on no attached datapath"), True
                )
                continue
            out.add(
                LogicalFlow(
                    datapath.sb_uuid,
                    pipeline,
                    placement.table_id,
                    placement.priority(flow.priority),
                    f"{at_cursor} && ({flow.render_match()})",
                    flow.render_actions(continuation),
                    (*ids[:2], ("ovn-inject-flow", flow.uuid), *ids[2:]),
                )
            )
            out.set_flow(flow.uuid, Status(FlowState.INSTALLED))


def _port_problem(topology: Topology, flow: AppFlow, tenant: str) -> str | None:
    for name in sorted(flow.ports):
        port = topology.port(name)
        if port is None:
            return f"port '{name}' does not exist"
        if port.tenant != tenant:
            return f"port '{name}' does not belong to tenant '{tenant}'"
    return None
