"""The JSON shapes of the API, as pydantic models (they make the served OpenAPI document too).

A flow entry is shaped like an OpenFlow flow entry; ``match`` and ``actions``
are OVN logical-flow text, or Ryu ofctl_rest's OpenFlow-field form (an object
of fields, a list of actions). Types are strict: ``"5"`` is not a priority.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

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

    priority: StrictInt = Field(description="0..999; higher runs first.")
    match: StrictStr | dict[str, Any] = Field(
        description="OVN match text, or OpenFlow fields as ofctl_rest writes them."
    )
    actions: StrictStr | list[Any] = Field(
        description="OVN actions text, or a list of ofctl_rest actions (DROP, OUTPUT, SET_FIELD, DEC_NW_TTL)."
    )
    cookie: StrictInt | StrictStr = Field(0, description="64-bit value of the service's own (or 0x-hex).")
    hard_timeout: StrictInt = Field(0, description="Seconds until the flow is removed (0: never).")
    attachment: StrictStr | None = Field(
        None, description="Only at this attachment (uuid or KIND:NAME); default: all of the service's."
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
            self.priority, match, actions, _cookie(self.cookie, where), self.attachment, self.hard_timeout
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


class Flow(BaseModel):
    """A flow as stored, with what the compiler made of it."""

    id: str
    priority: int
    match: str
    actions: str
    cookie: int
    hard_timeout: int
    attachment: str | None
    openflow_flows: int = Field(
        0, description="OpenFlow flows ovn-controller installs for it on a chassis (estimated upper bound)."
    )
    status: str = Field(description="pending, installed or invalid")
    reason: str = ""


class FlowList(BaseModel):
    flows: list[Flow]


class Deleted(BaseModel):
    deleted: int


class DatapathInfo(BaseModel):
    name: str
    kind: str
    ports: list[str] = Field(description="The tenant's ports there: what a flow may name.")


class AttachmentInfo(BaseModel):
    id: str
    target: str
    hook: str
    pipeline: str
    order: int
    status: str
    reason: str
    datapaths: list[DatapathInfo]


class ServiceInfo(BaseModel):
    name: str
    tenant: str
    description: str
    enabled: bool
    max_flows: int | None
    flow_count: int
    max_openflow_flows: int = Field(description="The service's OpenFlow budget.")
    openflow_flows: int = Field(description="What its flows cost together, in OpenFlow flows.")
    attachments: list[AttachmentInfo]
    ovn_release: str | None = Field(
        None,
        description="The OVN release whose logical-flow language flows must be written in "
        "(learnt by the compiler daemon from the OVN_Southbound schema; null until it ran).",
        examples=["26.03"],
    )


class LogicalFlowInfo(BaseModel):
    datapath: str
    pipeline: str
    table_id: int
    priority: int
    match: str
    actions: str
    stage_name: str


class ValidatedFlow(BaseModel):
    priority: int
    match: str
    actions: str
    cookie: int
    hard_timeout: int
    attachment: str | None
    openflow_flows: int = Field(
        description="OpenFlow flows ovn-controller would install for it on a chassis (upper bound)."
    )
    status: str
    reason: str
    lflows: list[LogicalFlowInfo]


class ValidateResult(BaseModel):
    flows: list[ValidatedFlow]


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None
    column: int | None


class ErrorBody(BaseModel):
    error: ErrorDetail
