"""What an attachment may name: ``KIND:NAME`` targets, their tenant, the hooks they fit (pure).

Reading NB is the caller's job (:mod:`ovn_inject.db.readers`); this module
only decides, with the one tenancy rule of :mod:`ovn_inject.core.topology`,
so the CLI, the gateway and the compiler daemon agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ovn_inject.core.hooks import HookPoint, TargetKind
from ovn_inject.core.topology import tenant_of
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
