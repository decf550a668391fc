"""A NUL or a lone surrogate never reaches a transaction: ovsdb-server drops the connection that sends one.

The IDL then resends the same transaction on every reconnection until the
write times out, and meanwhile every other write of that process waits: one
tenant's description would stall every tenant's writes for the timeout.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ovn_inject.db.errors import UnstorableTextError, storable
from ovn_inject.gateway.tenant_models import ServiceCreate, ServicePatch, TokenCreate
from ovn_inject.lang import ParseError, parse_actions, parse_match


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ('inport == "vm\x001"', 14),  # inside a quoted string, where the lexer took any character
        ("ip4 // a comment\x00", 17),
        ("\x00ip4", 1),
    ],
)
def test_the_language_refuses_a_nul_anywhere(text: str, column: int) -> None:
    with pytest.raises(ParseError) as caught:
        parse_match(text)
    assert "invalid byte 0x00" in str(caught.value)
    assert caught.value.column == column


def test_actions_refuse_a_nul_in_a_string() -> None:
    with pytest.raises(ParseError, match="invalid byte 0x00"):
        parse_actions('outport = "vm\x001"; output;')


def test_an_escaped_nul_is_text_ovsdb_stores() -> None:
    """The six characters of the escape are stored, not the character itself."""
    parse_match('inport == "vm\\u00001"')


def test_storable_names_the_field() -> None:
    assert storable("quarantine é ☃ \U0001f600", "the description") == "quarantine é ☃ \U0001f600"
    with pytest.raises(UnstorableTextError, match="the description contains a NUL character"):
        storable("a\x00b", "the description")
    # What json.loads makes of "\ud800", and what Python makes of a non-UTF-8 byte in argv.
    for text, code in (("a\ud800", r"U\+D800"), ("\udcff", r"U\+DCFF")):
        with pytest.raises(UnstorableTextError, match=rf"description contains a lone surrogate \({code}\)"):
            storable(text, "the description")


@pytest.mark.parametrize(
    "build",
    [
        lambda: ServiceCreate.model_validate({"name": "ips", "description": "a\x00"}),
        lambda: ServicePatch.model_validate({"description": "\x00"}),
        lambda: TokenCreate.model_validate({"description": "x\x00y"}),
        lambda: TokenCreate.model_validate({"description": "x\ud800"}),
        lambda: ServicePatch.model_validate({"description": "\udfff"}),
    ],
)
def test_tenant_descriptions_refuse_a_nul_or_a_lone_surrogate(build: object) -> None:
    assert callable(build)
    with pytest.raises(ValidationError) as caught:
        build()
    error = caught.value.errors()[0]
    assert error["loc"] == ("description",)
    # Some surrogates pydantic refuses itself, as no valid string.
    reasons = ("NUL character", "lone surrogate", "valid string")
    assert any(reason in error["msg"] for reason in reasons), error


def test_tenant_descriptions_take_other_text() -> None:
    assert TokenCreate.model_validate({"description": "é\t\u2028 ok"}).description == "é\t\u2028 ok"
    assert ServicePatch.model_validate({}).description is None
