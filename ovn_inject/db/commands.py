"""Small ovsdbapp commands on OVN_Inject, one per operation (as ovsdbapp's OVN schemas do).

Children (attachments, flows, tokens) are held by strong references from
their Service and are not root rows: removing a reference is what deletes a
child, and deleting a Service deletes everything it holds (OVSDB garbage
collection), so nothing is ever left behind.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from ovsdbapp.backend.ovs_idl import command as cmd
from ovsdbapp.backend.ovs_idl import rowview

from ovn_inject.core import quota
from ovn_inject.core.status import AttachmentState, FlowState
from ovn_inject.core.validate import (
    OpenFlowBudgetError,
    QuotaExceededError,
    ValidFlow,
    check_no_duplicates,
    cookie_from_db,
    cookie_to_db,
)
from ovn_inject.db import inserts
from ovn_inject.db.errors import (
    AmbiguousRecordError,
    InjectDbError,
    RowExistsError,
    RowNotFoundError,
    storable,
)
from ovn_inject.db.records import service_name, single
from ovn_inject.db.rows import FlowIndex, ScanIndex, Staged, bump_flows, guard_flows, row_cost, set_size
from ovn_inject.db.services import check_name, find_service, tenant_service
from ovn_inject.db.tokenguard import guard_token

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


# ---- flows -------------------------------------------------------------------------


def bound_attachments(
    service: Row, flows: Sequence[ValidFlow], staged: Staged | None = None
) -> dict[str, Row]:
    """The service's attachments by uuid, once every attachment ``flows`` name is known to be one."""
    attachments = (staged or Staged()).attachments(service)
    for flow in flows:
        if flow.attachment is not None and flow.attachment not in attachments:
            raise RowNotFoundError(f"attachment {flow.attachment} of service '{service.name}'")
    return attachments


def insert_flows(
    api: Any, txn: Any, service: Row, flows: Sequence[ValidFlow], staged: Staged | None = None
) -> list[Any]:
    """Insert ``flows`` into ``service``; checks every attachment before it changes anything."""
    attachments = bound_attachments(service, flows, staged)
    created = now_ms()
    uuids = []
    table = api.tables["Service_Flow"]
    for flow in flows:
        values: dict[str, Any] = {"service": [service.uuid]}
        if flow.attachment is not None:
            values["attachment"] = [attachments[flow.attachment]]
        values["priority"] = flow.priority
        values["match"] = flow.match
        values["actions"] = flow.actions
        # A column left out of an insert is the type's default: 0 need not be converted and sent.
        if flow.cookie:
            values["cookie"] = cookie_to_db(flow.cookie)
        if flow.hard_timeout:
            values["hard_timeout"] = flow.hard_timeout
        values["openflow_flows"] = flow.openflow_flows
        values["created"] = created
        values["status"] = FlowState.PENDING.value
        row = inserts.insert(txn, table, values)
        inserts.add_value(service, "flows", row)
        uuids.append(row.uuid)
    bump_flows(service, staged)
    return uuids


def within_budget(service: str, options: dict[str, str], total: int) -> None:
    """Refuse (429) flows whose OpenFlow cost together is over the service's budget."""
    limit = quota.budget(options)
    if total > limit:
        raise OpenFlowBudgetError(service, limit, total)


def max_flows(service: Row, options: dict[str, str] | None = None) -> int | None:
    text = (service.options if options is None else options).get("max_flows")
    return int(text) if text is not None and text.isdigit() else None


class FlowAddCommand(Command):
    """Add flows to a service; refuses duplicates and a quota overrun inside the transaction.

    ``token``: the public id of the token the request came with (the write
    fails once it is revoked). ``index``: a :class:`FlowIndex` the caller
    keeps current, which makes the duplicate check O(1) in the flows stored
    (without one, the service's flows are read). ``default_limit``: the quota
    of a service that has no max_flows of its own. ``staged``: what earlier
    commands of a group commit did (see gateway.group). Every check comes
    before any change, so a refused command leaves the transaction as it was.
    """

    def __init__(
        self,
        api: Any,
        service: str,
        flows: Sequence[ValidFlow],
        token: str | None = None,
        index: FlowIndex | None = None,
        default_limit: int | None = None,
        staged: Staged | None = None,
    ) -> None:
        super().__init__(api)
        self.service = service
        self.flows = list(flows)
        self.token = token
        self.index = index
        self.default_limit = default_limit
        self.staged = staged

    def run_idl(self, txn: Any) -> None:
        staged = self.staged if self.staged is not None else Staged()
        service, adding = self.check(staged)
        self._uuids = insert_flows(self.api, txn, service, self.flows, staged)
        staged.add(service.uuid, ((f.attachment, f.priority, f.match) for f in self.flows), adding)

    def check(self, staged: Staged) -> tuple[Row, int]:
        """Every check but the attachments' (see :func:`bound_attachments`), with the token and the
        service's flows guarded in the open transaction: the service and the OpenFlow cost added."""
        if self.token is not None:
            guard_token(self.api, self.token, staged)
        service = service_row(self.api, self.service)
        # A concurrent writer (another gateway, the CLI) makes this transaction retry,
        # so two writers can neither both squeeze under the quota nor add the same flow.
        guard_flows(service)
        options = staged.options(service)
        limit = max_flows(service, options)
        if limit is None:
            limit = self.default_limit
        if limit is not None:
            count = set_size(service, "flows") + staged.delta.get(service.uuid, 0)
            if count + len(self.flows) > limit:
                raise QuotaExceededError(service.name, limit, count + len(self.flows))
        index = self.index if self.index is not None else ScanIndex(self.api)
        # The OpenFlow budget, like the quota (guard_flows makes a concurrent writer retry).
        adding = sum(f.openflow_flows for f in self.flows)
        if adding:
            total = staged.cost(index, service.uuid) + adding
            if total > quota.budget(options):  # the name (a column read) only words the refusal
                within_budget(service.name, options, total)
        check_no_duplicates(self.flows, stored=lambda key: staged.holds(index, service.uuid, key))
        return service, adding

    def post_commit(self, txn: Any) -> None:
        self.result = [txn.get_insert_uuid(u) for u in self._uuids]


class FlowDelCommand(Command):
    def __init__(
        self,
        api: Any,
        service: str,
        flow_id: str | None = None,
        cookie: int | None = None,
        cookie_mask: int | None = None,
        if_exists: bool = False,
        token: str | None = None,
        staged: Staged | None = None,
    ) -> None:
        super().__init__(api)
        self.staged = staged
        if flow_id is not None and cookie is not None:
            raise InjectDbError("flow-del takes a flow id or --cookie, not both")
        if flow_id is None and cookie is None:
            raise InjectDbError(
                "flow-del needs a flow id or --cookie (with --cookie-mask, a range of cookies)"
            )
        self.service = service
        self.flow_id = flow_id
        self.cookie = cookie
        self.mask = (1 << 64) - 1 if cookie_mask is None else cookie_mask
        self.if_exists = if_exists
        self.token = token

    def run_idl(self, txn: Any) -> None:
        if self.token is not None:
            guard_token(self.api, self.token)
        service = service_row(self.api, self.service)
        if self.flow_id is not None:
            found = by_uuid(service.flows, self.flow_id, "flow")
            doomed = [found] if found is not None else []
        else:
            assert self.cookie is not None
            doomed = [
                f for f in service.flows if cookie_from_db(f.cookie) & self.mask == self.cookie & self.mask
            ]
        if not doomed and self.flow_id is not None and not self.if_exists:
            raise RowNotFoundError(f"flow '{self.flow_id}' of service '{service.name}'")
        if self.staged is not None:
            cost = sum(row_cost(f) for f in doomed)
            self.staged.remove(service.uuid, ScanIndex(self.api).keys_of(doomed), cost)
        for flow in doomed:
            service.delvalue("flows", flow)
            flow.delete()
        if doomed:
            bump_flows(service)
        self.result = len(doomed)


class FlowReplaceCommand(Command):
    """Replace all of a service's flows at once, like an OpenFlow bundle."""

    def __init__(
        self,
        api: Any,
        service: str,
        flows: Sequence[ValidFlow],
        token: str | None = None,
        default_limit: int | None = None,
        staged: Staged | None = None,
    ) -> None:
        super().__init__(api)
        self.service = service
        self.flows = list(flows)
        self.token = token
        self.default_limit = default_limit
        self.staged = staged

    def run_idl(self, txn: Any) -> None:
        if self.token is not None:
            guard_token(self.api, self.token)
        service = service_row(self.api, self.service)
        guard_flows(service)
        limit = max_flows(service)
        if limit is None:
            limit = self.default_limit
        if limit is not None and len(self.flows) > limit:
            raise QuotaExceededError(service.name, limit, len(self.flows))
        within_budget(service.name, service.options, sum(f.openflow_flows for f in self.flows))
        check_no_duplicates(self.flows)
        attachments = {str(a.uuid) for a in service.attachments}
        for flow in self.flows:
            if flow.attachment is not None and flow.attachment not in attachments:
                raise RowNotFoundError(f"attachment {flow.attachment} of service '{service.name}'")
        old = list(service.flows)
        service.flows = []
        for flow in old:
            flow.delete()
        self._uuids = insert_flows(self.api, txn, service, self.flows)
        if self.staged is not None:
            staged = self.staged
            staged.replaced.add(service.uuid)
            staged.removed[service.uuid] = set()
            staged.added[service.uuid] = {(f.attachment, f.priority, f.match) for f in self.flows}
            staged.delta[service.uuid] = len(self.flows) - set_size(service, "flows")
            staged.cost_delta[service.uuid] = sum(f.openflow_flows for f in self.flows)

    def post_commit(self, txn: Any) -> None:
        self.result = [txn.get_insert_uuid(u) for u in self._uuids]


class FlowListCommand(ReadOnlyCommand):
    def __init__(self, api: Any, service: str | None) -> None:
        super().__init__(api)
        self.service = service

    def run_idl(self, txn: Any) -> None:
        if self.service is None:
            rows = list(self.api.tables["Service_Flow"].rows.values())
        else:
            rows = list(service_row(self.api, self.service).flows)
        rows.sort(key=lambda f: (_service_name(f), -f.priority, f.match, str(f.uuid)))
        self.result = [rowview.RowView(r) for r in rows]


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
