"""The JSON shapes of the API, as pydantic models (they make the served OpenAPI document too).

A flow entry is shaped like an OpenFlow flow entry; ``match`` and ``actions``
are OVN logical-flow text, or Ryu ofctl_rest's OpenFlow-field form (an object
of fields, a list of actions). Types are strict: ``"5"`` is not a priority.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, computed_field

from ovn_inject.core.status import AttachmentState, FlowState, Verdict
from ovn_inject.core.validate import FlowRequest, parse_cookie
from ovn_inject.gateway.ofctl import OfctlError, translate_actions, translate_match


class FlowEntry(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"priority": 10, "match": 'inport == "vm1" && tcp.dst == 23', "actions": "drop;"},
                {
                    "priority": 5,
                    "match": {"eth_type": 2048, "ipv4_src": "10.0.1.11", "tcp_dst": 443},
                    "actions": [
                        {"type": "SET_FIELD", "field": "ip_dscp", "value": 46},
                        {"type": "OUTPUT", "port": "NORMAL"},
                    ],
                },
            ]
        },
    )

    priority: StrictInt = Field(
        description="0..999; higher runs first.", json_schema_extra={"minimum": 0, "maximum": 999}
    )
    match: StrictStr | dict[str, Any] = Field(
        description="OVN match text, or OpenFlow fields as ofctl_rest writes them."
    )
    actions: StrictStr | list[Any] = Field(
        description="OVN actions text, or a list of ofctl_rest actions (DROP, OUTPUT, SET_FIELD, DEC_NW_TTL)."
    )
    cookie: StrictInt | StrictStr = Field(
        0,
        description="64-bit value of the service's own: an integer 0..2^64-1, or a string of 0x-hex "
        '(e.g. "0x1f") or decimal digits.',
    )
    hard_timeout: StrictInt = Field(
        0, description="Seconds until the flow is removed (0: never).", json_schema_extra={"minimum": 0}
    )
    attachment: StrictStr | None = Field(
        None,
        description="The attachment the flow is installed at: its id, KIND:NAME@HOOK, or KIND:NAME when "
        "unique. May be left out when the service has exactly one attachment (the flow is then bound "
        "to it); with several, name one or say all_attachments.",
    )
    all_attachments: StrictBool = Field(
        False,
        description="true: at every attachment of the service, including those added later, instead of "
        "naming one (listings then show all_attachments: true and attachment null).",
    )

    def to_request(self, where: str) -> FlowRequest:
        """The flow in OVN's language, with its cookie as a number."""
        match = self.match if isinstance(self.match, str) else translate_match(self.match, f"{where}match")
        actions = (
            self.actions
            if isinstance(self.actions, str)
            else translate_actions(self.actions, f"{where}actions")
        )
        return FlowRequest(
            self.priority,
            match,
            actions,
            _cookie(self.cookie, where),
            self.attachment,
            self.hard_timeout,
            self.all_attachments,
        )


def _cookie(value: int | str, where: str) -> int:
    if isinstance(value, int):
        if not 0 <= value < 1 << 64:
            raise OfctlError(f"{where}cookie", f"{value} does not fit in 64 bits")
        return value
    cookie, mask = parse_cookie(value)
    if mask != (1 << 64) - 1:
        raise OfctlError(f"{where}cookie", "a flow's cookie takes no mask")
    return cookie


FlowBody = FlowEntry | list[FlowEntry]
#: How a request names one attachment and all of them (core.validate.explicit_attachment's messages).
NAME_ONE_ATTACHMENT = '"attachment": "KIND:NAME@HOOK"'
NAME_ALL_ATTACHMENTS = '"all_attachments": true'


#: Formats of the document's fields (FastAPI has no type of its own for them; the values are plain strings).
UUID_FORMAT: dict[str, Any] = {"format": "uuid"}
COOKIE_RANGE: dict[str, Any] = {"minimum": 0, "maximum": (1 << 64) - 1, "format": "uint64"}
FLOW_STATES: dict[str, Any] = {"enum": [s.value for s in FlowState]}
ATTACHMENT_STATES: dict[str, Any] = {"enum": [s.value for s in AttachmentState]}
VERDICTS: dict[str, Any] = {"enum": [v.value for v in Verdict]}


class Flow(BaseModel):
    """A flow as stored, with what the compiler made of it."""

    id: str = Field(json_schema_extra=UUID_FORMAT)
    priority: int = Field(json_schema_extra={"minimum": 0, "maximum": 999})
    match: str
    actions: str
    cookie: int = Field(json_schema_extra=COOKIE_RANGE)
    hard_timeout: int = Field(json_schema_extra={"minimum": 0})
    attachment: str | None = Field(
        description="uuid of the attachment the flow is installed at; null: at all of them."
    )
    openflow_flows: int = Field(
        0,
        description="OpenFlow flows ovn-controller installs for it on a chassis (estimated upper bound).",
        json_schema_extra={"minimum": 0},
    )
    status: str = Field(description="pending, installed or invalid", json_schema_extra=FLOW_STATES)
    reason: str = ""

    @computed_field(  # type: ignore[prop-decorator]
        description="true: the flow was added for every attachment of the service (those added later too)."
    )
    @property
    def all_attachments(self) -> bool:
        return self.attachment is None


class FlowList(BaseModel):
    flows: list[Flow]


class FlowPage(FlowList):
    """A page of ``GET /v1/flows``."""

    next: str | None = Field(
        default=None,
        description="The marker of the next page (pass it as ?marker=); null on the last page.",
    )


class Deleted(BaseModel):
    deleted: int = Field(json_schema_extra={"minimum": 0})


class DatapathInfo(BaseModel):
    name: str
    kind: str
    ports: list[str] = Field(description="The tenant's ports there: what a flow may name.")


class AttachmentInfo(BaseModel):
    id: str = Field(json_schema_extra=UUID_FORMAT)
    target: str = Field(description="KIND:NAME, e.g. ls:sw0")
    hook: str
    pipeline: str = Field(json_schema_extra={"enum": ["ingress", "egress", ""]})
    order: int
    status: str = Field(json_schema_extra=ATTACHMENT_STATES)
    reason: str
    datapaths: list[DatapathInfo]


class ServiceInfo(BaseModel):
    name: str
    tenant: str
    description: str
    enabled: bool
    max_flows: int | None = Field(description="The flow quota (the gateway's default when null).")
    flow_count: int = Field(json_schema_extra={"minimum": 0})
    max_openflow_flows: int = Field(
        description="The service's OpenFlow budget.", json_schema_extra={"minimum": 0}
    )
    openflow_flows: int = Field(
        description="What its flows cost together, in OpenFlow flows.", json_schema_extra={"minimum": 0}
    )
    attachments: list[AttachmentInfo]
    ovn_release: str | None = Field(
        None,
        description="The OVN release whose logical-flow language flows must be written in "
        "(learnt by the compiler daemon from the OVN_Southbound schema; null until it ran).",
        examples=["26.03"],
    )


class LogicalFlowInfo(BaseModel):
    datapath: str
    pipeline: str = Field(json_schema_extra={"enum": ["ingress", "egress"]})
    table_id: int = Field(json_schema_extra={"minimum": 0, "maximum": 255})
    priority: int = Field(json_schema_extra={"minimum": 0, "maximum": 65535})
    match: str
    actions: str
    stage_name: str


class ValidatedFlow(BaseModel):
    priority: int = Field(json_schema_extra={"minimum": 0, "maximum": 999})
    match: str
    actions: str
    cookie: int = Field(json_schema_extra=COOKIE_RANGE)
    hard_timeout: int = Field(json_schema_extra={"minimum": 0})
    attachment: str | None = Field(description="uuid of the attachment it would be at; null: at all of them.")
    openflow_flows: int = Field(
        description="OpenFlow flows ovn-controller would install for it on a chassis (upper bound).",
        json_schema_extra={"minimum": 0},
    )
    status: str = Field(
        description="What the dry run says (nothing is written): valid (it would be installed as lflows "
        "shows), pending (valid, but it would wait; reason says why) or invalid (reason says why).",
        json_schema_extra=VERDICTS,
    )
    reason: str
    lflows: list[LogicalFlowInfo]

    @computed_field(  # type: ignore[prop-decorator]
        description="true: it would be at every attachment of the service (those added later too)."
    )
    @property
    def all_attachments(self) -> bool:
        return self.attachment is None


class ValidateResult(BaseModel):
    flows: list[ValidatedFlow]


class ErrorDetail(BaseModel):
    code: str = Field(
        description="invalid, unauthorized, forbidden, not_found, duplicate, too_large, over_quota, "
        "rate_limited, unavailable, timeout"
    )
    message: str
    field: str | None = Field(description="The offending part of the request, e.g. flows[2].match.")
    column: int | None = Field(description="1-based character of the field where the error is.")


class ErrorBody(BaseModel):
    error: ErrorDetail
