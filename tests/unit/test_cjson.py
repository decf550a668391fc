"""ovn_inject.cjson gives what json gives: the same text, the same values, the same errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import pytest

from ovn_inject import cjson

VALUES: list[Any] = [
    {"method": "transact", "params": ["OVN_Inject", {"op": "select", "rows": [1, -2, 3.5]}], "id": 7},
    ["uuid", "0a1b"],
    'caf\u00e9 \u2603 "quoted" \\ \n\t\x01',
    {"t": True, "f": False, "n": None, "big": 1 << 70, "neg": -(1 << 63), "e": 1e-300},
    [],
    {},
    0,
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_it_encodes_and_decodes_as_json(value: Any) -> None:
    text = json.dumps(value, separators=(",", ":"))
    assert cjson.dumps(value) == text
    assert cjson.loads(text) == json.loads(text)
    assert cjson.loads(f" \n{text}\r\t ") == value
    assert cjson.value_at(f"xx{text} trailing", 2) == json.JSONDecoder().raw_decode(f"xx{text} trailing", 2)


def test_the_constants_json_takes_are_its_floats() -> None:
    text = "[NaN, Infinity, -Infinity, 1.5e3]"
    ours, theirs = cjson.loads(text), json.loads(text)
    assert math.isnan(ours[0]) and ours[1:] == theirs[1:]
    assert cjson.dumps([float("inf"), 0.1]) == json.dumps([float("inf"), 0.1], separators=(",", ":"))


@pytest.mark.parametrize("text", ["", "  ", '{"a": [1, 2', '{"a" 1}', "[1] [2]", "\ufeff[]", "nul", '"\x01"'])
def test_what_json_refuses_it_refuses_with_json_s_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as ours:
        cjson.loads(text)
    assert str(ours.value) == str(theirs.value)
    if text.strip():
        assert cjson.value_at(text) is None or text.startswith("[1]")


def test_what_json_cannot_encode_it_refuses_as_json_does() -> None:
    with pytest.raises(TypeError) as theirs:
        json.dumps({"a": object()})
    with pytest.raises(TypeError) as ours:
        cjson.dumps({"a": object()})
    assert str(ours.value) == str(theirs.value)
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        cjson.dumps(loop)


def test_it_does_without_the_json_module() -> None:
    """In a process that has not imported json: valid JSON needs none of it, and a cut or bad value
    is told apart whether the C scanner can word its error (3.11 cannot without json.decoder
    imported) or imports json.decoder itself to word it (3.13 does)."""
    code = (
        "import sys\n"
        "from ovn_inject import cjson\n"
        "assert cjson.loads(cjson.dumps({'a': [1, 'b']})) == {'a': [1, 'b']}\n"
        "assert 'json' not in sys.modules\n"
        "assert cjson.value_at('{\"a\": [1, 2') is None and cjson.value_at('') is None\n"
        "try:\n"
        "    cjson.loads('{\"a\" 1}')\n"
        "except ValueError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "JSONDecodeError Expecting ':' delimiter: line 1 column 6 (char 5)\n"
