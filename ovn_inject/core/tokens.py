"""Service tokens: ``<public-id>.<secret>``, of which only a hash of the secret is stored.

The public id lets the gateway find the row without scanning; the secret is
checked by comparing hashes in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from ovn_inject.errors import OvnInjectError

PUBLIC_ID_BYTES = 8
#: 256 random bits: far above the 128 a guessing attack would have to beat.
SECRET_BYTES = 32
HASH_SCHEME = "sha256"
_SEPARATOR = "."
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class TokenError(OvnInjectError):
    """A token string is malformed or does not match."""


@dataclass(frozen=True)
class NewToken:
    public_id: str
    secret: str
    secret_hash: str

    @property
    def token(self) -> str:
        """What the service presents; shown once, never stored."""
        return f"{self.public_id}{_SEPARATOR}{self.secret}"


def hash_secret(secret: str) -> str:
    # A plain SHA-256 is enough here, unlike for passwords: the secret is 256
    # random bits, so no dictionary or brute-force attack on the hash is
    # feasible and a slow KDF would only cost the gateway time per request.
    digest = hashlib.sha256(secret.encode()).hexdigest()
    return f"{HASH_SCHEME}:{digest}"


def new_token() -> NewToken:
    public_id = secrets.token_hex(PUBLIC_ID_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return NewToken(public_id, secret, hash_secret(secret))


def split_token(token: str) -> tuple[str, str]:
    public_id, separator, secret = token.strip().partition(_SEPARATOR)
    if not separator or not public_id or not secret:
        raise TokenError("malformed token: expected '<public-id>.<secret>'")
    return public_id, secret


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret).encode(), stored_hash.encode())


def parse_duration(text: str) -> int:
    """Seconds in ``30s``, ``30m``, ``1h``, ``7d`` or ``2w``."""
    found = _DURATION.match(text)
    if not found or int(found.group(1)) == 0:
        raise TokenError(f"bad duration '{text}': expected a positive number and a unit, like 30m, 1h or 7d")
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2)]


def iso_time(ms: int | None) -> str | None:
    """A token's created/expires milliseconds as ISO 8601 UTC (how the CLI and the gateway show them)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


#: What a refusal of an expired token tells its holder to do.
RENEW = "ovn-inject token-create"


def check_token(
    secret: str, secret_hash: str, expires_ms: int | None, now_ms: int, renew: str = RENEW
) -> None:
    """Raise TokenError unless the secret matches and the token has not expired (for the gateway)."""
    if not secret_matches(secret, secret_hash):
        raise TokenError("invalid token")
    if expires_ms is not None and expires_ms <= now_ms:
        raise TokenError(f"token expired; create a new one with '{renew}'")
