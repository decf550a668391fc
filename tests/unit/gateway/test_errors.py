"""Every refusal of ovn-inject's own maps to one HTTP status and our error body."""

from __future__ import annotations

import pytest

from ovn_inject.core.tokens import TokenError
from ovn_inject.core.validate import FlowValidationError, QuotaExceededError
from ovn_inject.db.errors import InjectDbError, RowExistsError, RowNotFoundError
from ovn_inject.gateway.errors import from_exception
from ovn_inject.gateway.ofctl import OfctlError


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (FlowValidationError("match", "bad", position=3), 400, "invalid"),
        (FlowValidationError("match", "not yours", forbidden=True), 403, "forbidden"),
        (OfctlError("match.x", "unknown"), 400, "invalid"),
        (TokenError("invalid token"), 401, "unauthorized"),
        (RowNotFoundError("flow x"), 404, "not_found"),
        (RowExistsError("flow x"), 409, "duplicate"),
        (QuotaExceededError("s", 1, 2), 429, "over_quota"),
        (InjectDbError("down"), 503, "unavailable"),
        (KeyError("bug"), 500, "internal"),
    ],
)
def test_status_and_code(exc: Exception, status: int, code: str) -> None:
    error = from_exception(exc)
    assert (error.status, error.code) == (status, code)
    assert set(error.body()["error"]) == {"code", "message", "field", "column"}


def test_batch_errors_name_the_entry_and_column() -> None:
    error = from_exception(FlowValidationError("actions", "bad", position=7, index=2))
    assert (error.field, error.column) == ("flows[2].actions", 7)
    assert error.message.startswith("flow 3: actions, column 7")
    assert "bug" not in from_exception(KeyError("bug")).message  # internals stay in the log


def test_unavailable_does_not_show_the_database_address() -> None:
    error = from_exception(InjectDbError("cannot reach OVN_Inject at tcp:10.1.2.3:6641: connection refused"))
    assert error.status == 503
    assert "10.1.2.3" not in error.message and "tcp:" not in error.message
