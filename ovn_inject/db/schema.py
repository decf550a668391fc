"""Where the OVN_Inject schema file is, installed or in a checkout.

The repository keeps it in ``schemas/``; the package ships the same file as
package data (``ovn_inject/data`` links to it), so ``pip install`` users find
it too.
"""

from __future__ import annotations

import os
from functools import cache

from ovn_inject import cjson
from ovn_inject.errors import OvnInjectError

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from pathlib import Path

SCHEMA_FILE = "ovn-inject.ovsschema"
# With os.path, not pathlib: every read command decodes rows with the schema, and
# pathlib's import would cost a flow-add more than reading the file does.
_PACKAGE = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
_CANDIDATES = (
    os.path.join(_PACKAGE, "data", SCHEMA_FILE),
    os.path.join(os.path.dirname(_PACKAGE), "schemas", SCHEMA_FILE),
)


def _found() -> str:
    for path in _CANDIDATES:
        if os.path.isfile(path):
            return path
    raise OvnInjectError(f"the OVN_Inject schema {SCHEMA_FILE} is missing from the installation")


def schema_path() -> Path:
    from pathlib import Path

    return Path(_found())


@cache
def schema() -> dict[str, object]:
    with open(_found(), encoding="utf-8") as file:
        loaded: dict[str, object] = cjson.loads(file.read())
    return loaded


def table_names() -> list[str]:
    tables = schema()["tables"]
    assert isinstance(tables, dict)
    return sorted(tables)
