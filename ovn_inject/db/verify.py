"""``Row.verify`` that holds for a row the transaction changes nothing else of (a token's, most of all).

python-ovs (4.0 at least) records a verify in the row (``_prereqs``) but
sends the rows' prerequisites only for the rows in the transaction's
``_txn_rows``, which only writing, mutating or deleting a row puts there:
verifying a row alone sent nothing. A token revoked between a write's check
and its commit did not stop the write (tests/integration/test_group_flows.py
caught it). ovsdb-idl in C adds a verified row to the transaction's rows;
:func:`verify` does that here, where python-ovs keeps its rows as expected
(:data:`REGISTERS`). A row there with nothing written sends no operation but
its wait, and python-ovs clears its prerequisites when the transaction ends.
Elsewhere the wait python-ovs would send is added with the public ``add_op``,
which puts it after every other operation: right for a row this transaction
does not change (the guards that use it), as it leaves the verified column
and the row alone.
"""

from __future__ import annotations

from typing import Any

import ovs.db.idl

Row = Any  # an ovs.db.idl.Row


def can_register(row_class: type = ovs.db.idl.Row, txn_class: type = ovs.db.idl.Transaction) -> bool:
    """Whether python-ovs builds a transaction's waits from ``_prereqs`` of the rows in ``_txn_rows``
    (what ``Row.addvalue`` adds a row to) and clears them as it ends."""
    verify = getattr(row_class.__dict__.get("verify"), "__code__", None)
    add = getattr(row_class.__dict__.get("addvalue"), "__code__", None)
    commit = getattr(txn_class.__dict__.get("commit"), "__code__", None)
    return (
        verify is not None
        and "_prereqs" in verify.co_names
        and add is not None
        and "_txn_rows" in add.co_names
        and commit is not None
        and {"_txn_rows", "_prereqs"} <= set(commit.co_names)
    )


REGISTERS = can_register()


def verify(row: Row, column: str) -> None:
    """``row.verify(column)``, sent even if the transaction changes nothing else of the row."""
    txn = row._idl.txn
    rows = getattr(txn, "_txn_rows", None)
    if REGISTERS and type(rows) is dict:
        row.verify(column)
        rows.setdefault(row.uuid, row)
        return
    if row._data is None or column in row._changes:
        return  # python-ovs's own no-op: a row this transaction inserts, a column it wrote
    txn.add_op(
        {
            "op": "wait",
            "timeout": 0,
            "table": row._table.name,
            "where": [["_uuid", "==", ["uuid", str(row.uuid)]]],
            "columns": [column],
            "until": "==",
            "rows": [{column: row._data[column].to_json()}],
        }
    )
