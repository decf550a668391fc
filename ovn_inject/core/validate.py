"""The one place where a submitted flow is checked before it is written.

The CLI and the gateway both call :func:`validate_flows`. It returns the
flows as they must be stored, so that later checks (the logical-flow
language, the scope rules of docs/design.md, "What a flow may do") can return canonical text
without any caller changing. Everything here is pure: callers pass what they
read from the databases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from ovn_inject.core import quota
from ovn_inject.core.hooks import APP_PRIORITY_MAX, HOOKS_BY_NAME, Pipeline
from ovn_inject.errors import OvnInjectError
from ovn_inject.records import record, replace

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:  # the language is imported where a flow is checked: a CLI write without flows skips it
    from ovn_inject.core.policy import CheckedFlow
    from ovn_inject.core.topology import Reach, Topology
    from ovn_inject.lang import Expr, Release

MAX_MATCH_LENGTH = 4096
MAX_ACTIONS_LENGTH = 4096
COOKIE_MAX = (1 << 64) - 1
#: OpenFlow's hard_timeout is 16 bits; a longer life is what a permanent flow (0) is for.
MAX_HARD_TIMEOUT = 65535


class FlowValidationError(OvnInjectError):
    """A flow is refused; ``column`` names the field, ``position`` the 1-based character in it."""

    def __init__(
        self,
        column: str,
        message: str,
        position: int | None = None,
        index: int | None = None,
        forbidden: bool = False,
    ):
        where = column if position is None else f"{column}, column {position}"
        prefix = "" if index is None else f"flow {index + 1}: "
        super().__init__(f"{prefix}{where}: {message}")
        self.column = column
        self.position = position
        self.index = index
        self.detail = message
        #: valid OVN, but outside what the service may do (the gateway answers 403, not 400)
        self.forbidden = forbidden


class QuotaExceededError(OvnInjectError):
    def __init__(self, service: str, limit: int, wanted: int):
        super().__init__(
            f"service '{service}' may have at most {limit} flows (max_flows); this would make {wanted}"
        )


class OpenFlowBudgetError(QuotaExceededError):
    """The service's flows together would cost ovn-controller more than its budget (HTTP 429)."""

    def __init__(self, service: str, limit: int, wanted: int):
        OvnInjectError.__init__(
            self,
            f"service '{service}' may make ovn-controller install at most {limit:,} OpenFlow flows "
            f"({quota.BUDGET_OPTION}); its flows would then cost {wanted:,}: delete flows, or ask the "
            "operator for a larger budget",
        )
        self.limit = limit
        self.wanted = wanted


class DuplicateFlowError(OvnInjectError):
    """Two flows with the same attachment, priority and match: OVN would keep one of them at random."""

    def __init__(self, message: str, column: str) -> None:
        super().__init__(message)
        self.column = column


#: What makes two flows of a service the same flow to OVN: attachment uuid, priority, match.
FlowKey = tuple["str | None", int, str]


def check_no_duplicates(
    flows: Sequence[ValidFlow],
    existing: Iterable[FlowKey] = (),
    stored: Callable[[FlowKey], bool] | None = None,
) -> None:
    """Refuse a flow whose (attachment, priority, match) is already stored or earlier in the batch.

    With a ``drop;`` and a ``next;`` twin, ovn-controller installs one of the
    two at random, so a quarantine could silently not act. ``stored``: asks
    an index whether a key is stored (O(1) per flow, whatever is stored).
    """
    seen = set(existing)
    for index, flow in enumerate(flows):
        key = (flow.attachment, flow.priority, flow.match)
        if key in seen or (stored is not None and stored(key)):
            where = f"flow {index + 1}: " if len(flows) > 1 else ""
            raise DuplicateFlowError(
                f"{where}a flow with priority {flow.priority} and match '{flow.match}' already exists "
                "at this attachment; delete or replace it",
                f"flows[{index}].match" if len(flows) > 1 else "match",
            )
        seen.add(key)


@record(frozen=True)
class FlowRequest:
    """A flow as submitted, before any check."""

    priority: int
    match: str
    actions: str
    cookie: int = 0
    attachment: str | None = None  # uuid (or a unique prefix) of one of the service's attachments
    hard_timeout: int = 0
    #: said explicitly: at every attachment, later ones too (``attachment`` None); see explicit_attachment
    all_attachments: bool = False


@record(frozen=True)
class AttachmentView:
    uuid: str
    target_kind: str
    target_name: str
    hook: str

    @property
    def target(self) -> str:
        return f"{self.target_kind}:{self.target_name}"


@record(frozen=True)
class ServiceView:
    """What validation needs to know about the service that submits flows."""

    name: str
    tenant: str
    max_flows: int | None
    attachments: tuple[AttachmentView, ...]
    flow_count: int  # flows the service has now
    #: attachment uuid -> the tenant's ports on the datapath(s) it covers; None: not checked
    allowed_ports: Mapping[str, frozenset[str]] | None = None
    #: attachment uuid -> the addresses its flows may write (core/reach.py); None: not checked
    reach: Mapping[str, Reach] | None = None
    #: the OVN release whose language the flows must be in (None: the default, 23.03)
    release: Release | None = None
    #: attachment uuid -> its compiled scope on each datapath (bound.compiled_scopes); None: not known
    scopes: Mapping[str, tuple[Expr, ...]] | None = None
    #: the service's OpenFlow budget (Service.options:max_openflow_flows)
    max_openflow_flows: int = quota.DEFAULT_SERVICE_BUDGET
    #: what its stored flows cost now (0 when the caller leaves the check to the write transaction)
    openflow_flows: int = 0
    #: most OpenFlow flows one flow may cost
    flow_limit: int = quota.DEFAULT_FLOW_LIMIT


@record(frozen=True)
class ValidFlow:
    """A flow as it is stored: its match/actions text is what gets written."""

    priority: int
    match: str
    actions: str
    cookie: int
    attachment: str | None  # full uuid
    hard_timeout: int
    #: OpenFlow flows ovn-controller installs for it on a chassis hosting all its attachments
    openflow_flows: int = 0


def parse_cookie(text: str) -> tuple[int, int]:
    """``C`` or ``C/MASK`` (decimal or 0x-hex), as ovs-ofctl's ``cookie=`` takes it."""
    value_text, slash, mask_text = text.partition("/")
    value = _parse_u64(value_text, "cookie")
    mask = _parse_u64(mask_text, "cookie mask") if slash else COOKIE_MAX
    return value, mask


def _parse_u64(text: str, what: str) -> int:
    try:
        value = int(text.strip(), 0)
    except ValueError:
        raise FlowValidationError(what, f"'{text}' is not a number (decimal or 0x-hex)") from None
    if not 0 <= value <= COOKIE_MAX:
        raise FlowValidationError(what, f"{text} is outside 0..0x{COOKIE_MAX:x} (64 bits)")
    return value


def cookie_to_db(cookie: int) -> int:
    """OVSDB integers are signed 64-bit: store the cookie's bits as two's complement."""
    return cookie - (1 << 64) if cookie > (1 << 63) - 1 else cookie


def cookie_from_db(stored: int) -> int:
    return stored + (1 << 64) if stored < 0 else stored


def resolve_attachment(reference: str, service: ServiceView) -> AttachmentView:
    """The service's attachment named by uuid, unique uuid prefix, ``KIND:NAME@HOOK`` or ``KIND:NAME``."""
    wanted = reference.strip().lower()
    named = reference.strip()
    found = [
        a
        for a in service.attachments
        if a.uuid.startswith(wanted) or named in (a.target, f"{a.target}@{a.hook}")
    ]
    if len(found) == 1:
        return found[0]
    if not found:
        raise FlowValidationError("attachment", f"service '{service.name}' has no attachment '{reference}'")
    raise FlowValidationError(
        "attachment",
        f"'{reference}' names {len(found)} attachments of service '{service.name}' "
        f"({', '.join(f'{a.target}@{a.hook}' for a in found)}); add its hook: KIND:NAME@HOOK",
    )


def explicit_attachment(
    attachment: str | None,
    every: bool,
    service: ServiceView,
    name_one: str,
    name_all: str,
    index: int | None = None,
) -> str | None:
    """A flow's attachment, said explicitly: the one named, the service's only one, or (``every``) None.

    A flow stored without an attachment applies at every attachment of its
    service, those added later included, so nobody gets that by leaving the
    attachment out: with several attachments, or none yet, the caller must
    name one or say all of them. ``name_one`` and ``name_all`` are how the
    caller's interface says so (an option, a JSON field), for the message.
    """
    if attachment is not None and every:
        raise FlowValidationError("attachment", f"{name_one} and {name_all} exclude each other", index=index)
    if attachment is not None or every:
        return attachment
    if len(service.attachments) == 1:
        return service.attachments[0].uuid
    names = sorted(f"{a.target}@{a.hook}" for a in service.attachments)
    if not names:
        message = (
            f"service '{service.name}' has no attachment yet: attach it first, or give {name_all} "
            "(the flow then applies wherever it is attached later)"
        )
    else:
        message = (
            f"service '{service.name}' has {len(names)} attachments ({', '.join(names)}): "
            f"give {name_one}, or {name_all}"
        )
    raise FlowValidationError("attachment", message, index=index)


def explicit_attachments(
    requests: Sequence[FlowRequest], service: ServiceView, name_one: str, name_all: str
) -> list[FlowRequest]:
    """Each request with its attachment said explicitly (:func:`explicit_attachment`), numbered as
    :func:`validate_flows` numbers them."""
    numbered = len(requests) > 1
    # Every field said, as replace() would copy them, without its walk over the fields (per flow).
    return [
        FlowRequest(
            priority=r.priority,
            match=r.match,
            actions=r.actions,
            cookie=r.cookie,
            attachment=explicit_attachment(
                r.attachment, r.all_attachments, service, name_one, name_all, i if numbered else None
            ),
            hard_timeout=r.hard_timeout,
            all_attachments=r.all_attachments,
        )
        for i, r in enumerate(requests)
    ]


def validate_flow(request: FlowRequest, service: ServiceView, index: int | None = None) -> ValidFlow:
    """Check one flow for ``service``; raise FlowValidationError naming the field."""
    if not 0 <= request.priority <= APP_PRIORITY_MAX:
        raise FlowValidationError(
            "priority", f"{request.priority} is outside 0..{APP_PRIORITY_MAX}", index=index
        )
    match = _text(request.match, "match", MAX_MATCH_LENGTH, index)
    actions = _text(request.actions, "actions", MAX_ACTIONS_LENGTH, index)
    if not 0 <= request.cookie <= COOKIE_MAX:
        raise FlowValidationError("cookie", f"{request.cookie} does not fit in 64 bits", index=index)
    if not 0 <= request.hard_timeout <= MAX_HARD_TIMEOUT:
        raise FlowValidationError(
            "hard_timeout",
            f"{request.hard_timeout} is outside 0..{MAX_HARD_TIMEOUT} seconds (0: never expires)",
            index=index,
        )
    attachment = None
    applicable = list(service.attachments)
    if request.attachment is not None:
        try:
            found = resolve_attachment(request.attachment, service)
        except FlowValidationError as exc:
            raise FlowValidationError(exc.column, exc.detail, index=index) from None
        attachment, applicable = found.uuid, [found]
    checked = _check_language_and_policy(match, actions, applicable, service, index)
    from ovn_inject.core import bound  # with the language: a CLI write without flows skips both

    cost = bound.flow_cost(checked.match, _scopes(applicable, service), service.release, service.flow_limit)
    refused = bound.over_limit(cost, service.flow_limit)
    if refused:
        raise FlowValidationError("match", refused, index=index, forbidden=True)
    return ValidFlow(
        request.priority,
        checked.match_text,
        checked.actions_text,
        request.cookie,
        attachment,
        request.hard_timeout,
        cost.flows,
    )


def _scopes(applicable: Sequence[AttachmentView], service: ServiceView) -> list[tuple[int, str] | Expr]:
    """The scope of each lflow a flow compiles to: per attachment and datapath.

    Without the compiled scopes, the tenant's ports each attachment may name
    stand for one scope; [] when neither is known (the flow is priced alone).
    """
    if service.scopes is not None:
        return [scope for a in applicable for scope in service.scopes.get(a.uuid, ())]
    if service.allowed_ports is None:
        return []
    hooks = [(a, HOOKS_BY_NAME[a.hook]) for a in applicable if a.hook in HOOKS_BY_NAME]
    return [(len(service.allowed_ports.get(a.uuid, ())), h.scope_field) for a, h in hooks]


def _check_language_and_policy(
    match: str, actions: str, applicable: Sequence[AttachmentView], service: ServiceView, index: int | None
) -> CheckedFlow:
    """The canonical text of a flow the service may install at every hook it applies to."""
    # Modules, not names: the statement runs for every flow, and a name costs a lookup of its own.
    from ovn_inject import lang
    from ovn_inject.core import policy, reach, topology

    hooks = [HOOKS_BY_NAME[a.hook] for a in applicable if a.hook in HOOKS_BY_NAME]
    pipelines = {h.pipeline for h in hooks} or set(Pipeline)
    try:
        flow = policy.check_flow(match, actions, pipelines, service.release)
        if service.allowed_ports is not None:
            allowed: set[str] = set()
            for att in applicable:
                allowed |= service.allowed_ports.get(att.uuid, frozenset())
            if not flow.ports <= allowed:  # the message is worded only for a port refused
                targets = ", ".join(a.target for a in applicable) or "no attachment"
                policy.check_ports(flow, allowed, f"tenant '{service.tenant}' on the datapaths of {targets}")
        reaches = service.reach or {}
        # Without writes there is nothing to check against the topology's addresses.
        for att in applicable if service.reach is not None and flow.writes else ():
            if att.hook not in HOOKS_BY_NAME:
                continue
            problem = reach.rewrite_problem(
                flow.writes, HOOKS_BY_NAME[att.hook], reaches.get(att.uuid, topology.Reach()), att.target
            )
            if problem:
                raise policy.PolicyError("actions", problem)
    except lang.LanguageError as exc:
        raise FlowValidationError(
            exc.where or "match",
            exc.reason + (f"; {exc.hint}" if exc.hint else ""),
            position=exc.column or None,
            index=index,
        ) from None
    except policy.PolicyError as exc:
        raise FlowValidationError(
            exc.where, exc.reason, position=exc.column or None, index=index, forbidden=True
        ) from None
    return flow


def scoped(view: ServiceView, topology: Topology, release: Release | None) -> ServiceView:
    """The view with what each attachment's flows may name and reach in ``topology``, in ``release``.

    The gateway and the CLI read the topology their own way; this is what both make of it.
    """
    from ovn_inject.core.bound import compiled_scopes
    from ovn_inject.core.hooks import TargetKind

    allowed = {
        a.uuid: topology.tenant_ports(TargetKind(a.target_kind), a.target_name, view.tenant)
        for a in view.attachments
    }
    reach = {
        a.uuid: topology.target_reach(TargetKind(a.target_kind), a.target_name, view.tenant)
        for a in view.attachments
    }
    scopes = compiled_scopes(
        topology, ((a.uuid, a.target_kind, a.target_name, a.hook) for a in view.attachments), view.tenant
    )
    return replace(view, allowed_ports=allowed, reach=reach, scopes=scopes, release=release)


def validate_flows(
    requests: Sequence[FlowRequest], service: ServiceView, replacing: bool = False
) -> list[ValidFlow]:
    """Check a batch; ``replacing`` means the batch replaces every flow the service has."""
    check_quota(service, len(requests), replacing)
    numbered = len(requests) > 1
    flows = [validate_flow(r, service, i if numbered else None) for i, r in enumerate(requests)]
    check_budget(service, sum(f.openflow_flows for f in flows), replacing)
    return flows


def check_budget(service: ServiceView, adding: int, replacing: bool = False) -> None:
    """The service's flows together must stay within its OpenFlow budget."""
    total = adding + (0 if replacing else service.openflow_flows)
    if total > service.max_openflow_flows:
        raise OpenFlowBudgetError(service.name, service.max_openflow_flows, total)


def check_quota(service: ServiceView, adding: int, replacing: bool = False) -> None:
    total = adding + (0 if replacing else service.flow_count)
    if service.max_flows is not None and total > service.max_flows:
        raise QuotaExceededError(service.name, service.max_flows, total)


def _text(text: str, column: str, limit: int, index: int | None) -> str:
    stripped = text.strip()
    if not stripped:
        raise FlowValidationError(column, "must not be empty", index=index)
    if len(stripped) > limit:
        raise FlowValidationError(
            column, f"is {len(stripped)} characters long; at most {limit} are allowed", index=index
        )
    if stripped.isprintable():  # the usual case, without a Python step per character
        return stripped
    for position, char in enumerate(stripped, start=1):
        if not char.isprintable():
            raise FlowValidationError(
                column, f"control character {char!r} is not allowed", position=position, index=index
            )
    return stripped
