"""The JSON shapes of the tenant API (``/v1/tenant/``), as pydantic models (strict, like the flow API's)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from ovn_inject.db.errors import unstorable

#: A service name: what a URL path segment and ``TENANT/NAME`` references can carry unchanged.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MAX_QUOTA = 1 << 31


def _storable(text: str) -> str:
    """Refused here, with the field named: in a transaction, ovsdb-server would drop the connection."""
    reason = unstorable(text)
    if reason is not None:
        raise ValueError(reason)
    return text


#: Free text a tenant gives, stored as it is.
Description = Annotated[StrictStr, AfterValidator(_storable)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServiceCreate(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "ips", "description": "quarantines VMs on alert"}]},
    )

    name: StrictStr = Field(pattern=NAME_PATTERN, description="Unique among your services.")
    description: Description = Field("", max_length=1024)
    enabled: StrictBool = True
    max_flows: StrictInt | None = Field(
        None, ge=0, le=MAX_QUOTA, description="Flow quota; default and ceiling: your credential's limit."
    )


class ServicePatch(_Strict):
    description: Description | None = Field(None, max_length=1024)
    enabled: StrictBool | None = None
    max_flows: StrictInt | None = Field(
        None, ge=0, le=MAX_QUOTA, description="null removes the quota (only without a tenant limit)."
    )


class TenantAttachment(BaseModel):
    id: str
    target: str = Field(examples=["ls:ls-a"])
    hook: str = Field(examples=["ls-in-port"])
    pipeline: str
    order: int
    status: str = Field(description="pending, active or invalid")
    reason: str


class TenantService(BaseModel):
    name: str
    tenant: str
    description: str
    enabled: bool
    max_flows: int | None
    flow_count: int
    token_count: int
    attachments: list[TenantAttachment]


class ServiceList(BaseModel):
    services: list[TenantService]


class AttachmentCreate(_Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"target": "ls:ls-a", "hook": "ls-in-port"}]}
    )

    target: StrictStr = Field(max_length=300, description="KIND:NAME, KIND one of lsp, ls, lr, lrp, pg.")
    hook: StrictStr = Field(max_length=64, description="A hook point (GET /v1/tenant/elements).")
    order: StrictInt | None = Field(
        None, ge=0, le=65535, description="Position among the services there; default: after them."
    )


class AttachmentRef(_Strict):
    target: StrictStr = Field(max_length=300)
    hook: StrictStr | None = Field(None, max_length=64, description="Default: every hook of the target.")


class AttachmentList(BaseModel):
    attachments: list[TenantAttachment]


class TokenCreate(_Strict):
    expires: StrictInt | None = Field(None, gt=0, le=10 * 365 * 86400, description="Lifetime in seconds.")
    description: Description = Field("", max_length=1024)


class TokenInfo(BaseModel):
    public_id: str
    created: str
    expires: str | None
    expired: bool
    description: str


class NewToken(BaseModel):
    token: str = Field(description="'<public-id>.<secret>': shown this once, never stored.")
    public_id: str
    service: str
    created: str
    expires: str | None
    description: str


class TokenList(BaseModel):
    tokens: list[TokenInfo]


class Deleted(BaseModel):
    deleted: int


class ElementHooks(BaseModel):
    name: str
    target: str = Field(description="What an attachment names: KIND:NAME.")
    hooks: list[str]


class DatapathElement(ElementHooks):
    ports: list[str]


class PortElement(ElementHooks):
    datapath: str


class PortGroupElement(ElementHooks):
    ports: list[str]


class Elements(BaseModel):
    tenant: str
    switches: list[DatapathElement]
    routers: list[DatapathElement]
    ports: list[PortElement]
    port_groups: list[PortGroupElement]
