"""Rows of OVN_Inject as plain Python data (for output, JSON, and the validation seam)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ovn_inject.core import quota
from ovn_inject.core.hooks import TargetKind
from ovn_inject.core.validate import AttachmentView, ServiceView, cookie_from_db

if TYPE_CHECKING:
    from ovn_inject.core.compiler import AttachmentSpec, ServiceSpec
    from ovn_inject.lang import Release

Record = dict[str, Any]

#: Columns whose stored form is not what a user means (cookies are unsigned 64-bit).
_SHOWN_AS: dict[tuple[str, str], Callable[[Any], Any]] = {("Service_Flow", "cookie"): cookie_from_db}


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "uuid") and hasattr(value, "_table"):  # a referenced row
        return str(value.uuid)
    return value


def _raw_row(row: Any) -> Any:
    return getattr(row, "_row", row)  # ovsdbapp's RowView wraps the IDL row


def to_record(row: Any, columns: list[str] | None = None) -> Record:
    """``{"_uuid": ..., column: value}``; optional columns become a value or None."""
    raw = _raw_row(row)
    table = raw._table
    names = columns if columns is not None else ["_uuid", *sorted(table.columns)]
    record: Record = {}
    for name in names:
        if name == "_uuid":
            record[name] = str(raw.uuid)
            continue
        column_type = table.columns[name].type
        value = getattr(raw, name)
        if column_type.is_map():
            shown: Any = {_plain(k): _plain(v) for k, v in sorted(value.items())}
        elif column_type.is_scalar():
            shown = _plain(value)
        elif column_type.is_optional():
            shown = _plain(value[0]) if value else None
        else:
            shown = sorted(_plain(v) for v in value)
        convert = _SHOWN_AS.get((table.name, name))
        if convert is not None and shown is not None:
            shown = convert(shown)
        record[name] = shown
    return record


def service_view(row: Any, flow_count: int | None = None) -> ServiceView:
    """What the validation seam needs to know about a service row.

    ``flow_count`` spares python-ovs building the list of a service's flow
    rows where the caller can count them cheaper (the gateway, at 20,000 flows).
    """
    raw = _raw_row(row)
    max_flows = raw.options.get("max_flows")
    attachments = tuple(
        AttachmentView(str(a.uuid), a.target_kind, a.target_name, a.hook) for a in raw.attachments
    )
    return ServiceView(
        name=raw.name,
        tenant=raw.tenant,
        max_flows=int(max_flows) if max_flows and max_flows.isdigit() else None,
        attachments=attachments,
        flow_count=len(raw.flows) if flow_count is None else flow_count,
        max_openflow_flows=quota.budget(raw.options),
    )


def service_name(row: Any) -> str:
    service = service_of(row)
    return str(service.name) if service is not None else ""


def service_of(row: Any) -> Any:
    """The Service row a child row (attachment, flow, token) belongs to, or None.

    A flow names its service by a plain uuid (schema 1.4.0): a weak reference
    from every flow made ovsdb-server copy them all whenever the service row
    changed, which made each flow add cost O(flows of the service).
    """
    raw = _raw_row(row)
    value = single(raw.service)
    if value is None or hasattr(value, "_table"):
        return value
    return raw._idl.tables["Service"].rows.get(value)


def service_uuid_of(row: Any) -> str | None:
    """The uuid of the service a flow belongs to, without looking the Service row up.

    The IDL takes a row out of its table while it applies a change to it: a
    lock-free lookup of a busy service can miss, where the uuid cannot.
    """
    value = single(_raw_row(row).service)
    if value is None:
        return None
    return str(value.uuid) if hasattr(value, "_table") else str(value)


#: Inject_Global.options key where the daemon says which OVN release it compiles for.
RELEASE_OPTION = "ovn_release"


def ovn_release(tables: Mapping[str, Any]) -> Release | None:
    """The release the daemon learnt from SB (Inject_Global.options:ovn_release), if it said."""
    from ovn_inject.lang import LanguageError, parse_release

    for row in tables["Inject_Global"].rows.values():
        name = row.options.get(RELEASE_OPTION)
        if name:
            try:
                return parse_release(name)
            except LanguageError:
                return None
    return None


def single(value: Any) -> Any:
    """The value of an optional (0..1) column, or None."""
    return value[0] if value else None


def service_specs(tables: Mapping[str, Any]) -> list[ServiceSpec]:
    """The compiler's view of every Service row of an OVN_Inject IDL."""
    from ovn_inject.core.compiler import ServiceSpec

    return [
        ServiceSpec(str(row.uuid), row.name, row.tenant, bool(row.enabled))
        for row in tables["Service"].rows.values()
    ]


def service_budgets(tables: Mapping[str, Any]) -> dict[str, int]:
    """Every service's OpenFlow budget by uuid (Service.options:max_openflow_flows or the default)."""
    return {str(row.uuid): quota.budget(row.options) for row in tables["Service"].rows.values()}


def attachment_specs(tables: Mapping[str, Any]) -> list[AttachmentSpec]:
    """The compiler's view of every Attachment row that still has its service."""
    from ovn_inject.core.compiler import AttachmentSpec

    out = []
    for row in tables["Attachment"].rows.values():
        service = single(row.service)
        if service is None:
            continue
        out.append(
            AttachmentSpec(
                str(row.uuid),
                str(service.uuid),
                TargetKind(row.target_kind),
                row.target_name,
                row.hook,
                int(row.order),
            )
        )
    return out
