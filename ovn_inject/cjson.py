"""JSON with the json module's C core (``_json``) alone: what the CLI's one-shot paths speak.

Importing ``json`` costs a direct ``flow-add`` 1 ms (the package, its decoder,
scanner and encoder modules and the regexes they compile), where the C
functions that encode and decode plain JSON are all it uses. The results are
json's: :func:`dumps` is ``json.dumps(value, separators=(",", ":"))``,
:func:`loads` is ``json.loads``. Errors are json's too: the C scanner words
them with ``json.decoder``, so a failed decode is done again by json, which
raises its own error.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False  # typing's own import costs more than this module
if TYPE_CHECKING:
    from typing import Any


class _Decoding:
    """What the C scanner reads of a ``json.JSONDecoder()``: plain JSON, in Python's types."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity, -Infinity: the floats json's table maps them to
    memo: dict[str, str] = {}


_SCAN = _json.make_scanner(_Decoding())  # type: ignore[arg-type]
_WHITESPACE = " \t\n\r"


def value_at(text: str, start: int = 0) -> tuple[Any, int] | None:
    """The JSON value at ``start`` and where it ends, or None where there is no whole, valid one.

    Without ``json.decoder`` imported, the C scanner cannot word an error: it raises
    SystemError where json raises JSONDecodeError, and StopIteration where nothing starts.
    """
    try:
        found: tuple[Any, int] = _SCAN(text, start)
    except (ValueError, StopIteration, SystemError):
        return None
    return found


def loads(text: str) -> Any:
    """``json.loads(text)``."""
    start = len(text) - len(text.lstrip(_WHITESPACE))
    found = value_at(text, start)
    if found is None or text[found[1] :].strip(_WHITESPACE):
        import json  # not JSON, or more than one value: json words the error

        return json.loads(text)
    return found[0]


def _unserializable(value: object) -> Any:
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    """``json.dumps(value, separators=(",", ":"))``."""
    encode = _json.make_encoder(
        {}, _unserializable, _json.encode_basestring_ascii, None, ":", ",", False, False, True
    )
    return "".join(encode(value, 0))
