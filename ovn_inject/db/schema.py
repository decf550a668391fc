"""Where the OVN_Inject schema file is, installed or in a checkout.

The repository keeps it in ``schemas/``; the package ships the same file as
package data (``ovn_inject/data`` links to it), so ``pip install`` users find
it too.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from ovn_inject.errors import OvnInjectError

SCHEMA_FILE = "ovn-inject.ovsschema"
_CANDIDATES = (
    Path(__file__).resolve().parent.parent / "data" / SCHEMA_FILE,
    Path(__file__).resolve().parents[2] / "schemas" / SCHEMA_FILE,
)


def schema_path() -> Path:
    for path in _CANDIDATES:
        if path.is_file():
            return path
    raise OvnInjectError(f"the OVN_Inject schema {SCHEMA_FILE} is missing from the installation")


@cache
def schema() -> dict[str, object]:
    loaded: dict[str, object] = json.loads(schema_path().read_text())
    return loaded


def table_names() -> list[str]:
    tables = schema()["tables"]
    assert isinstance(tables, dict)
    return sorted(tables)
