"""A dry run (``/v1/flows/validate``, ``flow-add --dry-run``) gives a verdict, never a state it did not reach.

Issue #18: ``/v1/flows/validate`` answered ``"status": "installed"`` for a
flow it had not written. The verdicts are data in core/status.py, next to
the states, and the OpenAPI document takes both from there.
"""

from __future__ import annotations

from ovn_inject.core.status import VERDICTS, FlowState, Verdict
from ovn_inject.gateway.app import create_app


def test_every_state_has_a_verdict_and_none_is_installed() -> None:
    assert set(VERDICTS) == set(FlowState)
    assert {v.value for v in VERDICTS.values()} == {"valid", "pending", "invalid"}
    assert VERDICTS[FlowState.INSTALLED] is Verdict.VALID


def test_the_openapi_document_takes_states_and_verdicts_from_the_enums() -> None:
    schemas = create_app().openapi()["components"]["schemas"]
    assert schemas["Flow"]["properties"]["status"]["enum"] == [s.value for s in FlowState]
    validated = schemas["ValidatedFlow"]["properties"]["status"]
    assert validated["enum"] == [v.value for v in Verdict] and "installed" not in validated["enum"]
    assert "nothing is written" in validated["description"]
