"""A dry run: the hook lflows some validated flows would compile to, next to every attachment there is.

Pure: the caller reads the topology, the placements and the services. The
gateway's ``/v1/flows/validate`` and ``ovn-inject flow-add --dry-run`` both
call :func:`preview_flows`, so the two answers cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ovn_inject.core.appflows import FlowCache, ServiceFlow
from ovn_inject.core.compiler import AttachmentSpec, ServiceSpec, compile_hooks
from ovn_inject.core.contract import FLOW_ID, Contract
from ovn_inject.core.placement import Placement, Unusable
from ovn_inject.core.status import VERDICTS, FlowState, Verdict
from ovn_inject.core.topology import Topology
from ovn_inject.core.validate import ValidFlow
from ovn_inject.lang import Release

#: The uuid a previewed flow has in the compiler (no row exists).
DRY_RUN_PREFIX = "dry-run-"


@dataclass(frozen=True)
class PreviewLflow:
    datapath: str
    pipeline: str
    table_id: int
    priority: int
    match: str
    actions: str
    stage_name: str


@dataclass(frozen=True)
class Preview:
    flow: ValidFlow
    status: Verdict  # what a dry run can say: valid, pending or invalid (nothing is installed)
    reason: str
    lflows: tuple[PreviewLflow, ...]


def preview_flows(
    topology: Topology,
    placements: Mapping[str, Placement | Unusable],
    services: Iterable[ServiceSpec],
    attachments: Iterable[AttachmentSpec],
    service_uuid: str,
    flows: Sequence[ValidFlow],
    release: Release | None,
) -> list[Preview]:
    """Each flow's verdict and its lflows if it were added to ``service_uuid`` now."""
    cache = FlowCache(release)
    app_flows = [
        ServiceFlow(
            f"{DRY_RUN_PREFIX}{i}",
            service_uuid,
            flow.attachment,
            flow.priority,
            cache.check(flow.match, flow.actions),
        )
        for i, flow in enumerate(flows)
    ]
    services, attachments = list(services), list(attachments)
    compiled = compile_hooks(topology, placements, services, attachments, app_flows)
    # The output contract as the daemon applies it, on these flows' rows only (not every attachment's).
    dry = {f.uuid for f in app_flows}
    compiled.lflows = {
        key: row for key, row in compiled.lflows.items() if dict(row.external_ids).get(FLOW_ID) in dry
    }
    Contract().apply(compiled, placements, topology, services, attachments, release)
    lflows: dict[str, list[PreviewLflow]] = {f.uuid: [] for f in app_flows}
    for lflow in sorted(compiled.lflows.values(), key=lambda f: (f.datapath, f.table_id, -f.priority)):
        ids = dict(lflow.external_ids)
        flow_id = ids.get("ovn-inject-flow", "")
        if flow_id in lflows:
            lflows[flow_id].append(
                PreviewLflow(
                    datapath=lflow.datapath,
                    pipeline=lflow.pipeline,
                    table_id=lflow.table_id,
                    priority=lflow.priority,
                    match=lflow.match,
                    actions=lflow.actions,
                    stage_name=ids.get("stage-name", ""),
                )
            )
    out = []
    for app_flow, flow in zip(app_flows, flows, strict=True):
        status = compiled.flow_status.get(app_flow.uuid)
        out.append(
            Preview(
                flow,
                VERDICTS[FlowState(status.state)] if status is not None else Verdict.PENDING,
                status.reason if status is not None else "",
                tuple(lflows[app_flow.uuid]),
            )
        )
    return out
