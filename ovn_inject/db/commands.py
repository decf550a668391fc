"""Small ovsdbapp commands on OVN_Inject, one per operation (as ovsdbapp's OVN schemas do).

Children (attachments, flows, tokens) are held by strong references from
their Service and are not root rows: removing a reference is what deletes a
child, and deleting a Service deletes everything it holds (OVSDB garbage
collection), so nothing is ever left behind.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from ovsdbapp.backend.ovs_idl import command as cmd
from ovsdbapp.backend.ovs_idl import rowview

from ovn_inject.core import quota
from ovn_inject.core.status import AttachmentState
from ovn_inject.core.validate import (
    OpenFlowBudgetError,
    QuotaExceededError,
)
from ovn_inject.db.errors import (
    AmbiguousRecordError,
    InjectDbError,
    RowExistsError,
    RowNotFoundError,
    storable,
)
from ovn_inject.db.records import service_name, single
from ovn_inject.db.rows import ScanIndex, bump_flows, guard_flows, set_size
from ovn_inject.db.services import check_name, find_service, tenant_service

Row = Any  # an ovs.db.idl.Row; python-ovs has no type hints


class _Raising:
    """ovsdbapp's execute() logs and swallows errors by default; ours must reach the caller."""

    def execute(self, check_error: bool = True, log_errors: bool = False, **kwargs: Any) -> Any:
        return super().execute(check_error=check_error, log_errors=log_errors, **kwargs)  # type: ignore[misc]


class Command(_Raising, cmd.BaseCommand):
    pass


class ReadOnlyCommand(_Raising, cmd.ReadOnlyCommand):
    pass


class AddCommand(_Raising, cmd.AddCommand):
    pass


def now_ms() -> int:
    return int(time.time() * 1000)


def service_row(api: Any, name: str) -> Row:
    """The service ``name`` names: NAME where unique, TENANT/NAME, or its uuid (see db.services)."""
    row = find_service(api, name)
    if row is None:
        raise RowNotFoundError(f"service '{name}'", " (see 'ovn-inject service-list')")
    return row


def by_uuid(rows: Iterable[Row], reference: str, what: str) -> Row | None:
    """The row whose uuid is ``reference`` or starts with it (at least 4 hex digits)."""
    wanted = reference.strip().lower()
    if len(wanted) < 4:
        raise AmbiguousRecordError(f"{what} '{reference}': give at least 4 characters of its uuid")
    found = [row for row in rows if str(row.uuid).startswith(wanted)]
    if len(found) > 1:
        raise AmbiguousRecordError(f"{what} '{reference}' is ambiguous: {len(found)} rows start with it")
    return found[0] if found else None


class GlobalCommand(Command):
    def global_row(self, txn: Any) -> Row:
        rows = list(self.api.tables["Inject_Global"].rows.values())
        if rows:
            return rows[0]
        if txn is None:
            raise InjectDbError("OVN_Inject is not initialised; run 'ovn-inject init'")
        return txn.insert(self.api.tables["Inject_Global"])


class InitCommand(GlobalCommand):
    def run_idl(self, txn: Any) -> None:
        self.result = rowview.RowView(self.global_row(txn))


class GlobalGetCommand(ReadOnlyCommand):
    def run_idl(self, txn: Any) -> None:
        rows = list(self.api.tables["Inject_Global"].rows.values())
        self.result = rowview.RowView(rows[0]) if rows else None


class BumpCfgCommand(GlobalCommand):
    """cfg + 1 in the writer's transaction, so that --wait can wait for exactly this change."""

    def run_idl(self, txn: Any) -> None:
        # Read, verify, write (as ovn-nbctl does with nb_cfg) rather than the IDL's
        # increment(), which python-ovs drops from a transaction that changes nothing else.
        existing = bool(self.api.tables["Inject_Global"].rows)
        row = self.global_row(txn)
        current = row.cfg if existing else 0
        if existing:
            row.verify("cfg")
        row.cfg = current + 1
        self.result = current + 1


# ---- services ----------------------------------------------------------------


class ServiceAddCommand(AddCommand):
    table_name = "Service"

    def __init__(
        self,
        api: Any,
        name: str,
        tenant: str,
        description: str,
        options: dict[str, str],
        may_exist: bool,
        external_ids: dict[str, str],
    ) -> None:
        super().__init__(api)
        self.name = name
        self.tenant = tenant
        self.description = description
        self.options = options
        self.may_exist = may_exist
        self.external_ids = external_ids

    def run_idl(self, txn: Any) -> None:
        check_name(self.name)
        storable(self.description, "the description")
        existing = tenant_service(self.api, self.tenant, self.name)
        if existing is not None:
            if not self.may_exist:
                raise RowExistsError(f"service '{self.name}' of tenant '{self.tenant}'")
            self.result = rowview.RowView(existing)
            return
        row = txn.insert(self.api.tables["Service"])
        row.name = self.name
        row.tenant = self.tenant
        row.description = self.description
        row.enabled = True
        row.options = self.options
        row.external_ids = self.external_ids
        self.result = row.uuid


class ServiceDelCommand(Command):
    def __init__(self, api: Any, name: str, if_exists: bool) -> None:
        super().__init__(api)
        self.name = name
        self.if_exists = if_exists

    def run_idl(self, txn: Any) -> None:
        row = find_service(self.api, self.name)
        if row is None:
            if self.if_exists:
                return
            row = service_row(self.api, self.name)
        row.delete()


class ServiceSetCommand(Command):
    """Change a service's description, enabled flag, flow quota or OpenFlow budget (None: leave as is)."""

    _UNLIMITED = -1

    def __init__(
        self,
        api: Any,
        name: str,
        description: str | None,
        enabled: bool | None,
        max_flows: int | None,
        max_openflow_flows: int | None = None,
    ) -> None:
        super().__init__(api)
        self.name = name
        self.description = description
        self.enabled = enabled
        self.max_flows = max_flows  # a negative value removes the quota
        self.max_openflow_flows = max_openflow_flows  # a negative value restores the default budget

    def run_idl(self, txn: Any) -> None:
        if self.description is not None:
            storable(self.description, "the description")
        row = service_row(self.api, self.name)
        if self.description is not None:
            row.description = self.description
        if self.enabled is not None:
            row.enabled = self.enabled
        if self.max_flows is not None:
            options = dict(row.options)
            if self.max_flows < 0:
                options.pop("max_flows", None)
            else:
                guard_flows(row)
                if set_size(row, "flows") > self.max_flows:
                    raise QuotaExceededError(row.name, self.max_flows, set_size(row, "flows"))
                options["max_flows"] = str(self.max_flows)
            row.verify("options")
            row.options = options
        if self.max_openflow_flows is not None:
            options = dict(row.options)
            if self.max_openflow_flows < 0:
                options.pop(quota.BUDGET_OPTION, None)
            else:
                options[quota.BUDGET_OPTION] = str(self.max_openflow_flows)
            guard_flows(row)
            within_budget(row.name, options, ScanIndex(self.api).cost(row.uuid))
            row.verify("options")
            row.options = options


class ServiceGetCommand(ReadOnlyCommand):
    def __init__(self, api: Any, name: str) -> None:
        super().__init__(api)
        self.name = name

    def run_idl(self, txn: Any) -> None:
        self.result = rowview.RowView(service_row(self.api, self.name))


class ServiceListCommand(ReadOnlyCommand):
    def run_idl(self, txn: Any) -> None:
        rows = self.api.tables["Service"].rows.values()
        self.result = [rowview.RowView(r) for r in sorted(rows, key=lambda r: (r.name, r.tenant))]


# ---- attachments -----------------------------------------------------------------


def _attachment_key(row: Row) -> tuple[str, str, str]:
    return row.target_kind, row.target_name, row.hook


class AttachAddCommand(AddCommand):
    table_name = "Attachment"

    def __init__(
        self,
        api: Any,
        service: str,
        target_kind: str,
        target_name: str,
        hook: str,
        order: int | None,
        may_exist: bool,
    ) -> None:
        super().__init__(api)
        self.service = service
        self.key = (target_kind, target_name, hook)
        self.order = order
        self.may_exist = may_exist

    def run_idl(self, txn: Any) -> None:
        service = service_row(self.api, self.service)
        for existing in service.attachments:
            if _attachment_key(existing) == self.key:
                if not self.may_exist:
                    kind, name, hook = self.key
                    raise RowExistsError(f"attachment of '{service.name}' to {kind}:{name} at {hook}")
                self.result = rowview.RowView(existing)
                return
        order = self.order
        if order is None:
            # After every service already on this element and hook.
            same = [
                a.order
                for a in self.api.tables["Attachment"].rows.values()
                if (a.target_kind, a.target_name, a.hook) == self.key
            ]
            order = max(same, default=-1) + 1
        row = txn.insert(self.api.tables["Attachment"])
        row.service = [service]
        row.target_kind, row.target_name, row.hook = self.key
        row.order = order
        row.status = AttachmentState.PENDING.value
        service.addvalue("attachments", row)
        self.result = row.uuid


class AttachDelCommand(Command):
    def __init__(
        self, api: Any, service: str, target_kind: str, target_name: str, hook: str | None, if_exists: bool
    ) -> None:
        super().__init__(api)
        self.service = service
        self.target = (target_kind, target_name)
        self.hook = hook
        self.if_exists = if_exists

    def run_idl(self, txn: Any) -> None:
        service = service_row(self.api, self.service)
        doomed = [
            a
            for a in service.attachments
            if (a.target_kind, a.target_name) == self.target and self.hook in (None, a.hook)
        ]
        if not doomed:
            if self.if_exists:
                return
            kind, name = self.target
            at = f" at {self.hook}" if self.hook else ""
            raise RowNotFoundError(f"attachment of '{service.name}' to {kind}:{name}{at}")
        doomed_uuids = {a.uuid for a in doomed}
        # A flow bound to a removed attachment would otherwise fall back to "every
        # attachment" when its weak reference empties: remove it with its attachment.
        for flow in service.flows:
            bound = single(flow.attachment)
            if bound is not None and bound.uuid in doomed_uuids:
                service.delvalue("flows", flow)
                flow.delete()
                bump_flows(service)
        for attachment in doomed:
            service.delvalue("attachments", attachment)
            attachment.delete()
        self.result = len(doomed)


class AttachListCommand(ReadOnlyCommand):
    def __init__(self, api: Any, service: str | None) -> None:
        super().__init__(api)
        self.service = service

    def run_idl(self, txn: Any) -> None:
        if self.service is None:
            rows = list(self.api.tables["Attachment"].rows.values())
        else:
            rows = list(service_row(self.api, self.service).attachments)
        rows.sort(key=lambda a: (_service_name(a), a.target_kind, a.target_name, a.hook, a.order))
        self.result = [rowview.RowView(r) for r in rows]


def _service_name(row: Row) -> str:
    return service_name(row)


# ---- budgets ----------------------------------------------------------------------


def within_budget(service: str, options: dict[str, str], total: int) -> None:
    """Refuse (429) flows whose OpenFlow cost together is over the service's budget."""
    limit = quota.budget(options)
    if total > limit:
        raise OpenFlowBudgetError(service, limit, total)


# ---- tokens -------------------------------------------------------------------------


class TokenAddCommand(AddCommand):
    table_name = "Token"

    def __init__(
        self,
        api: Any,
        service: str,
        public_id: str,
        secret_hash: str,
        created: int,
        expires: int | None,
        description: str,
    ) -> None:
        super().__init__(api)
        self.service = service
        self.public_id = public_id
        self.secret_hash = secret_hash
        self.created = created
        self.expires = expires
        self.description = description

    def run_idl(self, txn: Any) -> None:
        storable(self.description, "the description")
        service = service_row(self.api, self.service)
        row = txn.insert(self.api.tables["Token"])
        row.service = [service]
        row.public_id = self.public_id
        row.secret_hash = self.secret_hash
        row.created = self.created
        row.expires = [] if self.expires is None else [self.expires]
        row.description = self.description
        service.addvalue("tokens", row)
        self.result = row.uuid


class TokenListCommand(ReadOnlyCommand):
    def __init__(self, api: Any, service: str | None) -> None:
        super().__init__(api)
        self.service = service

    def run_idl(self, txn: Any) -> None:
        if self.service is None:
            rows = list(self.api.tables["Token"].rows.values())
        else:
            rows = list(service_row(self.api, self.service).tokens)
        rows.sort(key=lambda t: (_service_name(t), t.created, t.public_id))
        self.result = [rowview.RowView(r) for r in rows]


def _find_token(api: Any, token_id: str) -> Row | None:
    rows = list(api.tables["Token"].rows.values())
    for row in rows:
        if row.public_id == token_id:
            return row
    return by_uuid(rows, token_id, "token")


class TokenRevokeCommand(Command):
    def __init__(self, api: Any, token_id: str, if_exists: bool) -> None:
        super().__init__(api)
        self.token_id = token_id
        self.if_exists = if_exists

    def run_idl(self, txn: Any) -> None:
        token = _find_token(self.api, self.token_id)
        if token is None:
            if self.if_exists:
                return
            raise RowNotFoundError(f"token '{self.token_id}'", " (see 'ovn-inject token-list')")
        service = single(token.service)
        if service is not None:
            service.delvalue("tokens", token)
        token.delete()


class TokenLookupCommand(ReadOnlyCommand):
    def __init__(self, api: Any, public_id: str) -> None:
        super().__init__(api)
        self.public_id = public_id

    def run_idl(self, txn: Any) -> None:
        row = self.api.lookup("Token", self.public_id, default=None)
        self.result = rowview.RowView(row) if row is not None else None
