"""The seam for an external tenant validator (e.g. Keystone): how it is loaded and what it may answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from ovn_inject.core.tokens import TokenError
from ovn_inject.gateway.tenant_auth import TenantIdentity, ValidatorError, authenticate_tenant, load_validator


def keystone_like(token: str) -> TenantIdentity | None:
    """What a deployment's validator does: ask its identity service; here, a fixed table."""
    return {"gAAAA-project-a": TenantIdentity("tenant-a", max_services=3)}.get(token)


@dataclass
class _Options:
    tenant_validator: str | None


class _NoBuiltinCredentials:
    """The gateway state as seen by authentication: no Tenant_Token row matches."""

    def __init__(self, validator: str | None) -> None:
        self.options = _Options(validator)

    def select(self, table: str, where: list[Any], columns: list[str]) -> list[dict[str, Any]]:
        return []


SPEC = f"{__name__}:keystone_like"


def test_an_external_token_is_vouched_for_by_the_validator() -> None:
    caller = authenticate_tenant(_NoBuiltinCredentials(SPEC), "gAAAA-project-a")  # type: ignore[arg-type]
    assert (caller.tenant, caller.max_services, caller.max_flows, caller.token) == ("tenant-a", 3, None, None)
    with pytest.raises(TokenError):
        authenticate_tenant(_NoBuiltinCredentials(SPEC), "gAAAA-unknown")  # type: ignore[arg-type]


def test_without_a_validator_only_builtin_credentials_count() -> None:
    with pytest.raises(TokenError, match="tenant-token-create"):
        authenticate_tenant(_NoBuiltinCredentials(None), "gAAAA-project-a")  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", ["nomodule", "no.such.module:f", f"{__name__}:missing", f"{__name__}:SPEC"])
def test_a_bad_validator_is_reported(spec: str) -> None:
    with pytest.raises(ValidatorError):
        load_validator(spec)
