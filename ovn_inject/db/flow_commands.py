"""ovsdbapp commands on a service's flows: add, delete, replace, list.

Every check of a write comes before any change, so a refused command leaves
its transaction as it was: the group commit (db.group) relies on it to set
one write aside and commit the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ovsdbapp.backend.ovs_idl import rowview

from ovn_inject.core import quota
from ovn_inject.core.validate import (
    QuotaExceededError,
    ValidFlow,
    check_no_duplicates,
    cookie_from_db,
)
from ovn_inject.db import inserts
from ovn_inject.db.commands import Command, ReadOnlyCommand, by_uuid, now_ms, service_row, within_budget
from ovn_inject.db.errors import InjectDbError, RowNotFoundError
from ovn_inject.db.flowrow import flow_columns
from ovn_inject.db.records import service_name
from ovn_inject.db.rows import FlowIndex, ScanIndex, Staged, bump_flows, guard_flows, row_cost, set_size
from ovn_inject.db.tokenguard import guard_token

Row = Any  # an ovs.db.idl.Row; python-ovs has no type hints


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
        values.update(flow_columns(flow, created))
        row = inserts.insert(txn, table, values)
        inserts.add_value(service, "flows", row)
        uuids.append(row.uuid)
    bump_flows(service, staged)
    return uuids


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
        rows.sort(key=lambda f: (service_name(f), -f.priority, f.match, str(f.uuid)))
        self.result = [rowview.RowView(r) for r in rows]
