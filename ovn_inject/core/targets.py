"""What an attachment may name: ``KIND:NAME`` targets, their tenant, the hooks they fit (pure).

Reading NB is the caller's job (:mod:`ovn_inject.db.readers`); this module
only decides, with the one tenancy rule of :mod:`ovn_inject.core.topology`,
so the CLI, the gateway and the compiler daemon agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ovn_inject.core.hooks import TARGET_DATAPATH, DatapathKind, HookPoint, TargetKind
from ovn_inject.core.topology import Topology, tenant_of
from ovn_inject.errors import OvnInjectError


class AttachmentRefusedError(OvnInjectError):
    """An attachment names a target that does not exist, is foreign, or does not fit the hook."""


@dataclass(frozen=True)
class TargetRow:
    """One NB row that can be a target, with the external_ids of the row that holds it."""

    external_ids: Mapping[str, str]
    parent_external_ids: Mapping[str, str] | None = None  # a port's switch or router


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    name: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.name}"


def parse_target(text: str) -> Target:
    kind_text, colon, name = text.partition(":")
    kinds = ", ".join(k.value for k in TargetKind)
    if not colon or not name:
        raise AttachmentRefusedError(f"bad target '{text}': expected KIND:NAME with KIND one of {kinds}")
    try:
        kind = TargetKind(kind_text)
    except ValueError:
        raise AttachmentRefusedError(
            f"bad target '{text}': unknown kind '{kind_text}' (kinds: {kinds})"
        ) from None
    return Target(kind, name)


def check_attachment(
    target: Target, row: TargetRow | None, hook: HookPoint, service_tenant: str, tenant_key: str
) -> None:
    """Refuse an unknown or foreign target and a hook of the other datapath kind."""
    if not hook.accepts(target.kind):
        raise AttachmentRefusedError(
            f"hook {hook.name} is a logical {'switch' if hook.datapath.value == 'ls' else 'router'} hook; "
            f"it does not fit target {target}"
        )
    if row is None:
        raise AttachmentRefusedError(f"target {target} does not exist in OVN_Northbound")
    tenant = tenant_of(row.external_ids, row.parent_external_ids, tenant_key)
    if tenant is None:
        raise AttachmentRefusedError(f"target {target} has no tenant (external_ids:{tenant_key} is not set)")
    if tenant != service_tenant:
        raise AttachmentRefusedError(
            f"target {target} belongs to another tenant than the service's ('{service_tenant}')"
        )


class TargetNotFoundError(AttachmentRefusedError):
    """No such element of the tenant's: another tenant's element is refused with the very same words."""


class ForeignTargetError(AttachmentRefusedError):
    """The tenant's own element, but it reaches ports of other tenants."""


def check_own_target(target: Target, hook: HookPoint, tenant: str, topology: Topology) -> None:
    """The tenant API's rule: the CLI's (:func:`check_attachment`), with nothing of other tenants shown.

    A missing element, another tenant's and one of the other kind (a router
    port named as ``lsp:``) are refused alike, so the answer tells nothing of
    other tenants; a port group of the tenant's that holds another tenant's
    ports is refused too, since attaching to it would name those ports.
    """
    kinds = {
        TargetKind.LS: "switch",
        TargetKind.LR: "router",
        TargetKind.LSP: "switch port",
        TargetKind.LRP: "router port",
        TargetKind.PG: "port group",
    }
    missing = TargetNotFoundError(
        f"tenant '{tenant}' has no {kinds[target.kind]} '{target.name}' (see GET /v1/tenant/elements)"
    )
    if topology.tenant_of(target.kind, target.name) != tenant:
        raise missing
    where = target_datapath_kind(target, topology)
    if where is not TARGET_DATAPATH[target.kind]:
        raise missing
    if not hook.accepts(target.kind):
        raise AttachmentRefusedError(
            f"hook {hook.name} is a logical {'switch' if hook.datapath.value == 'ls' else 'router'} hook; "
            f"it does not fit target {target}"
        )
    if target.kind is TargetKind.PG:
        group = topology.port_group(target.name)
        members = group.ports if group is not None else ()
        if any(topology.tenant_of(TargetKind.LSP, port) not in (tenant, None) for port in members):
            raise ForeignTargetError(f"port group '{target.name}' holds ports of other tenants")


def target_datapath_kind(target: Target, topology: Topology) -> DatapathKind | None:
    """The kind of datapath a target sits on (a port group: switches), None if unknown."""
    if target.kind is TargetKind.PG:
        return DatapathKind.SWITCH
    if target.kind in (TargetKind.LSP, TargetKind.LRP):
        port = topology.port(target.name)
        dp = topology.datapath(port.datapath) if port is not None else None
    else:
        dp = topology.datapath(target.name)
    return dp.kind if dp is not None else None
