"""A write's token, checked in its transaction: once revoked, no write commits with it."""

from __future__ import annotations

import time
from typing import Any

from ovn_inject.core.tokens import RENEW, TokenError
from ovn_inject.db.rows import Staged
from ovn_inject.db.verify import verify

Row = Any  # an ovs.db.idl.Row

#: Where the Token table keeps the row each public id named last (an IdlTable attribute).
_BY_PUBLIC_ID = "_ovn_inject_by_public_id"


def token_row(api: Any, public_id: str) -> Row | None:
    """``api.lookup("Token", public_id, default=None)``, without ovsdbapp's scan of every token
    through python-ovs's getattr on every write.

    A public id is unique (the schema's index): the row found last is
    checked (still in the table, still that public id) and kept. One of 32
    characters or more may name a row by its uuid: ovsdbapp looks it up.
    """
    if len(public_id) >= 32:
        return api.lookup("Token", public_id, default=None)
    table = api.tables["Token"]
    known: dict[str, Row] = vars(table).setdefault(_BY_PUBLIC_ID, {})
    row = known.get(public_id)
    if row is not None and table.rows.get(row.uuid) is row and row.public_id == public_id:
        return row
    row = api.lookup("Token", public_id, default=None)
    if row is not None:
        if len(known) >= 1024:
            known.clear()
        known[public_id] = row
    return row


def guard_token(api: Any, public_id: str, staged: Staged | None = None) -> None:
    """No write commits once its token is revoked: a concurrent delete makes the transaction retry.

    Once per transaction is enough: ``staged`` remembers the tokens a group verifies already.
    """
    if staged is not None and public_id in staged.guarded:
        return
    row = token_row(api, public_id)
    if row is None:
        raise TokenError("token revoked")
    expires = row.expires
    if expires and expires[0] <= int(time.time() * 1000):
        raise TokenError(f"token expired; create a new one with '{RENEW}'")
    # Revoked (deleted) or given another expiry on the server meanwhile: the transaction retries.
    verify(row, "secret_hash")
    verify(row, "expires")
    if staged is not None:
        staged.guarded.add(public_id)
