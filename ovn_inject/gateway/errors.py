"""The gateway's one error body, ``{"error": {"code", "message", "field", "column"}}``, and its statuses.

Every refusal of ovn-inject's own (the language, the policy, the quota, the
database) is mapped here to the status an HTTP client expects, so that the
routes never pick a status themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ovn_inject.core.policy import PolicyError
from ovn_inject.core.targets import ForeignTargetError, TargetNotFoundError
from ovn_inject.core.tokens import TokenError
from ovn_inject.core.validate import DuplicateFlowError, FlowValidationError, QuotaExceededError
from ovn_inject.db.errors import (
    AmbiguousRecordError,
    InjectDbError,
    RowExistsError,
    RowNotFoundError,
    UnstorableTextError,
)
from ovn_inject.errors import OvnInjectError
from ovn_inject.gateway.ofctl import OfctlError
from ovn_inject.lang import LanguageError


@dataclass
class ApiError(Exception):
    """A refusal with its HTTP status; ``field`` names the offending part, ``column`` the character."""

    status: int
    code: str
    message: str
    field: str | None = None
    column: int | None = None
    headers: dict[str, str] | None = None

    def __str__(self) -> str:
        return self.message

    def body(self) -> dict[str, Any]:
        return {
            "error": {"code": self.code, "message": self.message, "field": self.field, "column": self.column}
        }


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="ovn-inject"'})


def not_found(message: str, field: str | None = None) -> ApiError:
    return ApiError(404, "not_found", message, field)


def bad_request(message: str, field: str | None = None, column: int | None = None) -> ApiError:
    return ApiError(400, "invalid", message, field, column)


def too_large(message: str) -> ApiError:
    return ApiError(413, "too_large", message)


def duplicate(message: str, field: str | None = None) -> ApiError:
    return ApiError(409, "duplicate", message, field)


def from_exception(exc: Exception) -> ApiError:
    """The status and body of one of ovn-inject's errors."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, FlowValidationError):
        field = exc.column if exc.index is None else f"flows[{exc.index}].{exc.column}"
        if exc.forbidden:
            return ApiError(403, "forbidden", str(exc), field, exc.position)
        return ApiError(400, "invalid", str(exc), field, exc.position)
    if isinstance(exc, PolicyError):
        return ApiError(403, "forbidden", str(exc), exc.where, exc.column or None)
    if isinstance(exc, LanguageError):
        return ApiError(400, "invalid", str(exc), exc.where or None, exc.column or None)
    if isinstance(exc, OfctlError):
        return bad_request(str(exc), exc.field)
    if isinstance(exc, DuplicateFlowError):
        return duplicate(str(exc), exc.column)
    if isinstance(exc, QuotaExceededError):
        return ApiError(429, "over_quota", str(exc))
    if isinstance(exc, TokenError):
        return unauthorized(str(exc))
    if isinstance(exc, TargetNotFoundError):
        return not_found(str(exc), "target")
    if isinstance(exc, ForeignTargetError):
        return ApiError(403, "forbidden", str(exc), "target")
    if isinstance(exc, RowNotFoundError):
        return not_found(str(exc))
    if isinstance(exc, RowExistsError):
        return duplicate(str(exc))
    if isinstance(exc, AmbiguousRecordError):
        return bad_request(str(exc))
    if isinstance(exc, UnstorableTextError):
        return bad_request(str(exc), exc.what.removeprefix("the "))
    if isinstance(exc, InjectDbError):
        # The cause names internal addresses: the gateway logs it, the tenant is told to retry.
        return ApiError(503, "unavailable", "the gateway cannot reach its database; try again shortly")
    if isinstance(exc, OvnInjectError):
        return bad_request(str(exc))
    return ApiError(500, "internal", f"internal error ({type(exc).__name__}); see the gateway's log")
