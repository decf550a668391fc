"""The expansion bound against the real ovn-controller: count the OpenFlow flows of every lflow.

Every entry of tests/unit/lang/golden/expansion.txt whose bound is at most
MAX_SENT becomes an SB Logical_Flow row on ls-a (northd paused, so it does not
delete them; one priority per row, so no two rows share an OpenFlow match).
hv1 hosts vm1 and vm3, so ls-a is local there. The flows of a row are those
whose cookie is the first 32 bits of its uuid, plus, for a conjunctive match,
the ``conjunction(id, k/n)`` flows of the conj_id its cookie flow matches
(ovn-controller installs those with cookie 0, as several lflows may share one).

For every entry: actual <= estimate, and estimate <= 2 x actual except the
exempt shapes: ``is_chassis_resident`` (counted as resident; on another
chassis the flow is dropped) and address sets/port groups (their sizes come
from the caller).
"""

from __future__ import annotations

import json
import re
import time

import pytest

from ovn_inject.lang import Context, estimate, parse_match, parse_release
from ovn_inject.sandbox import Sandbox, processes
from ovn_inject.sandbox.release import installed
from tests.unit.lang.test_expansion import golden_cases

RELEASE = parse_release(installed().series)
INSTALLED = Context(release=RELEASE)

pytestmark = pytest.mark.integration

TAG = "ovn-inject-expansion-corpus"
#: Entries above this bound are not sent: they would stall or kill ovn-controller.
MAX_SENT = 3000
EXEMPT = ("is_chassis_resident", "$", "@")


def _insert(box: Sandbox, matches: list[str]) -> list[str]:
    datapath = box.sbctl(
        "--bare", "--columns=_uuid", "find", "Datapath_Binding", "external_ids:name=ls-a"
    ).strip()
    uuids: list[str] = []
    for first in range(0, len(matches), 100):  # one transaction would exceed the argv limit
        ops = [
            {
                "op": "insert",
                "table": "Logical_Flow",
                "row": {
                    "logical_datapath": ["uuid", datapath],
                    "pipeline": "ingress",
                    "table_id": 5,
                    "priority": 100 + first + i,
                    "match": match,
                    "actions": "next;",
                    "external_ids": ["map", [["stage-name", TAG]]],
                },
            }
            for i, match in enumerate(matches[first : first + 100])
        ]
        result = processes.run(
            ["ovsdb-client", "transact", box.sb_remote, json.dumps(["OVN_Southbound", *ops])]
        )
        replies = json.loads(result.stdout)
        uuids += [reply["uuid"][1] for reply in replies[: len(ops)]]
    return uuids


def _wait_for_hv1(box: Sandbox) -> None:
    """SB_Global nb_cfg comes back in hv1's Chassis_Private once its flows are installed."""
    cfg = int(time.time()) % 100000 + 1
    box.sbctl("set", "SB_Global", ".", f"nb_cfg={cfg}")
    processes.wait_for(
        lambda: (
            box.sbctl("--bare", "--columns=nb_cfg", "find", "Chassis_Private", "name=hv1").strip() == str(cfg)
        ),
        timeout=120,
        what="hv1's ovn-controller to install the corpus",
    )


def _flows_per_cookie(dump: str) -> dict[int, int]:
    clauses: dict[int, int] = {}
    for conj_id in re.findall(r"conjunction\((\d+),", dump):
        clauses[int(conj_id)] = clauses.get(int(conj_id), 0) + 1
    counts: dict[int, int] = {}
    for line in dump.splitlines():
        cookie = re.search(r"cookie=0x([0-9a-f]+)", line)
        if cookie is None or cookie.group(1) == "0":
            continue
        key = int(cookie.group(1), 16)
        counts[key] = counts.get(key, 0) + 1
        conj = re.search(r"conj_id=(\d+)", line)
        if conj is not None:
            counts[key] += clauses.get(int(conj.group(1)), 0)
    return counts


def test_estimate_bounds_ovn_controller(demo: Sandbox) -> None:
    cases = [(text, flows) for text, flows, _ in golden_cases() if flows <= MAX_SENT]
    assert len(cases) >= 100
    for text, flows in cases:
        assert estimate(parse_match(text)).flows == flows, (
            text
        )  # the golden file (23.03's figures) is current
    # The installed release's own estimate is what must bound its ovn-controller.
    cases = [(text, estimate(parse_match(text, INSTALLED), release=RELEASE.name).flows) for text, _ in cases]
    demo.northd_appctl("pause")
    uuids: list[str] = []
    try:
        uuids = _insert(demo, [text for text, _ in cases])
        _wait_for_hv1(demo)
        dump = demo.ofctl("hv1", "-O", "OpenFlow15", "dump-flows", "br-int")
    finally:
        if not uuids:
            uuids = demo.sbctl(
                "--bare", "--columns=_uuid", "find", "Logical_Flow", f"external_ids:stage-name={TAG}"
            ).split()
        args: list[str] = []
        for row in uuids:
            args += ["--", "destroy", "Logical_Flow", row]
        if args:
            demo.sbctl(*args[1:])
        demo.northd_appctl("resume")
    counts = _flows_per_cookie(dump)
    under, loose = [], []
    exact = 0
    for (text, bound), row in zip(cases, uuids, strict=True):
        actual = counts.get(int(row[:8], 16), 0)
        if actual > bound:
            under.append(f"{text!r}: ovn-controller installed {actual}, estimate {bound}")
        elif bound > 2 * actual and not any(mark in text for mark in EXEMPT):
            loose.append(f"{text!r}: ovn-controller installed {actual}, estimate {bound}")
        exact += actual == bound
    assert not under, "\n".join(under)
    assert not loose, "\n".join(loose)
    # Not vacuous: most rows installed flows, some of them many.
    assert sum(counts.get(int(row[:8], 16), 0) > 0 for row in uuids) >= len(cases) - 5
    assert exact >= len(cases) * 9 // 10
