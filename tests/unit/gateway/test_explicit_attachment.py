"""A flow of the HTTP API names its attachment as the CLI's must: the only one, one named, or all said so.

Issue #18: a flow without an attachment used to spread silently to every
attachment, those added later included. The rule is one function
(``core.validate.explicit_attachment``) that the CLI and the gateway share;
here it is checked with the gateway's words, and the shapes the API shows.
"""

from __future__ import annotations

import pytest

from ovn_inject.core.validate import (
    AttachmentView,
    FlowRequest,
    FlowValidationError,
    ServiceView,
    explicit_attachments,
)
from ovn_inject.gateway import models
from ovn_inject.gateway.app import create_app
from ovn_inject.gateway.errors import from_exception

SWITCH = AttachmentView("8a1f0c3e-0000-4000-8000-000000000001", "ls", "ls-a", "ls-in-port")
PORT = AttachmentView("9b2e1d4f-0000-4000-8000-000000000002", "lsp", "vm1", "ls-out-deliver")
WORDS = (models.NAME_ONE_ATTACHMENT, models.NAME_ALL_ATTACHMENTS)


def service(*attachments: AttachmentView) -> ServiceView:
    return ServiceView("ips", "tenant-a", None, attachments, 0)


def requests(*entries: dict[str, object]) -> list[FlowRequest]:
    body = [
        models.FlowEntry.model_validate({"priority": 1, "match": "ip4", "actions": "drop;", **e})
        for e in entries
    ]
    return [entry.to_request("") for entry in body]


def refusal(reqs: list[FlowRequest], view: ServiceView) -> tuple[int, str, str | None]:
    with pytest.raises(FlowValidationError) as caught:
        explicit_attachments(reqs, view, *WORDS)
    error = from_exception(caught.value)
    assert error.code == "invalid"
    return error.status, error.message, error.field


def test_the_only_attachment_needs_no_name_and_binds_the_flow() -> None:
    [bound] = explicit_attachments(requests({}), service(SWITCH), *WORDS)
    assert bound.attachment == SWITCH.uuid  # bound: an attachment added later does not get it


def test_several_attachments_and_none_named_is_a_400_naming_the_choices() -> None:
    status, message, field = refusal(requests({}), service(SWITCH, PORT))
    assert (status, field) == (400, "attachment")
    assert "has 2 attachments (ls:ls-a@ls-in-port, lsp:vm1@ls-out-deliver)" in message
    assert '"attachment": "KIND:NAME@HOOK"' in message and '"all_attachments": true' in message


def test_in_a_batch_the_refusal_names_the_entry() -> None:
    status, message, field = refusal(requests({"attachment": "lsp:vm1"}, {}), service(SWITCH, PORT))
    assert (status, field) == (400, "flows[1].attachment")
    assert message.startswith("flow 2: attachment: ")


def test_no_attachment_yet_needs_all_attachments() -> None:
    status, message, _ = refusal(requests({}), service())
    assert status == 400 and "no attachment yet" in message and '"all_attachments": true' in message
    [every] = explicit_attachments(requests({"all_attachments": True}), service(), *WORDS)
    assert every.attachment is None


def test_named_or_all_said_explicitly() -> None:
    named, every = explicit_attachments(
        requests({"attachment": "lsp:vm1@ls-out-deliver"}, {"all_attachments": True}),
        service(SWITCH, PORT),
        *WORDS,
    )
    assert named.attachment == "lsp:vm1@ls-out-deliver"  # resolved by validate_flow, as before
    assert every.attachment is None and every.all_attachments
    status, message, _ = refusal(
        requests({"attachment": "ls:ls-a", "all_attachments": True}), service(SWITCH)
    )
    assert status == 400 and "exclude each other" in message


def test_all_attachments_is_a_strict_boolean() -> None:
    with pytest.raises(ValueError, match="all_attachments"):
        models.FlowEntry.model_validate(
            {"priority": 1, "match": "ip4", "actions": "drop;", "all_attachments": 1}
        )


def test_listings_say_all_attachments() -> None:
    common = {"priority": 1, "match": "ip4", "actions": "drop;", "cookie": 0, "hard_timeout": 0}
    every = models.Flow(id="f", attachment=None, status="installed", **common)  # type: ignore[arg-type]
    one = models.Flow(id="f", attachment=SWITCH.uuid, status="installed", **common)  # type: ignore[arg-type]
    assert every.model_dump()["all_attachments"] is True
    assert one.model_dump()["all_attachments"] is False


def test_the_openapi_document_describes_both() -> None:
    schemas = create_app().openapi()["components"]["schemas"]
    entry = schemas["FlowEntry"]["properties"]
    assert entry["all_attachments"]["type"] == "boolean" and entry["all_attachments"]["default"] is False
    assert "all_attachments" in entry["attachment"]["description"]
    assert schemas["Flow"]["properties"]["all_attachments"]["readOnly"] is True
    assert schemas["ValidatedFlow"]["properties"]["all_attachments"]["readOnly"] is True


def test_every_other_field_of_the_request_is_kept() -> None:
    """explicit_attachments builds each request anew: a field it forgot would be dropped."""
    import dataclasses

    given = FlowRequest(7, "ip4", "drop;", cookie=9, attachment=None, hard_timeout=30, all_attachments=False)
    assert {f.name for f in dataclasses.fields(FlowRequest)} == {
        "priority", "match", "actions", "cookie", "attachment", "hard_timeout", "all_attachments"
    }  # fmt: skip
    [bound] = explicit_attachments([given], service(SWITCH), *WORDS)
    assert bound == dataclasses.replace(given, attachment=SWITCH.uuid)


def test_the_gateway_says_every_field_of_a_service_view() -> None:
    """GatewayState.service_view builds the view field by field: a field added here must be added there."""
    import dataclasses
    import inspect

    from ovn_inject.gateway.state import GatewayState

    source = inspect.getsource(GatewayState.service_view)
    for spec in dataclasses.fields(ServiceView):
        assert f"{spec.name}=" in source, spec.name
