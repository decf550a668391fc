"""Our language module against real OVN: northd's lflows parse; our verdicts equal ovn-controller's.

The corpus is the golden files' inputs (tests/unit/lang/golden): every entry
becomes an SB Logical_Flow row on ls-a (northd paused, so it does not delete
them), and ovn-controller's log says which rows it refused. Where we are
deliberately stricter than OVN (DESIGN.md section 4) we assert OVN accepts
what we refuse. Every canonical form we print is also fed to OVN and must be
accepted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ovn_inject.lang import (
    Context,
    LanguageError,
    format_actions,
    format_match,
    parse_actions,
    parse_match,
    parse_release,
)
from ovn_inject.sandbox import Sandbox, processes
from ovn_inject.sandbox.release import installed

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).parent.parent / "unit" / "lang" / "golden"
#: The installed OVN's language: the sandbox runs it, so its verdicts are that release's.
RELEASE = parse_release(installed().series)
CONTEXT = Context(
    ports={"vm1", "vm2", "vm3", "lrp-a-ls-a", 'lrp-a"x', 'tab\tquote"back\\slash'},
    address_sets={"as1"},
    port_groups={"pg1"},
    release=RELEASE,
)
IN_RELEASE = Context(release=RELEASE)
#: Our reasons to refuse what OVN compiles into something else (docs/design.md, "What a flow may do").
STRICTER = (
    "does not fit in",
    "cannot be masked",
    " takes an ",
    "unknown port '",
    "ovn-controller drops a match on",
)
#: Refusals for text that stalls ovn-controller 23.03.1 (it never catches up again): not sent to OVN.
UNSAFE_FOR_OVN = ("can only be assigned by actions", "only assignments to ct_mark and ct_label")
CORPUS_TAG = "ovn-inject-lang-corpus"


def _inputs(name: str) -> list[str]:
    return [
        line.partition(" => ")[0]
        for line in (GOLDEN / name).read_text().split("\n")
        if line and not line.startswith("#")
    ]


def _extras(box: Sandbox) -> None:
    """Features that make northd emit more kinds of flows: ACLs with log, LB, port group, address set, NAT."""
    box.nbctl(
        "--",
        "pg-add",
        "pg1",
        "vm1",
        "vm2",
        "--",
        "create",
        "address_set",
        "name=as1",
        'addresses="10.0.1.11","10.0.1.12"',
        "--",
        "--log",
        "--severity=info",
        "--name=acl-ssh",
        "acl-add",
        "ls-a",
        "to-lport",
        "1000",
        "ip4.src == $as1 && tcp.dst == 22",
        "drop",
        "--",
        "acl-add",
        "pg1",
        "from-lport",
        "1001",
        "inport == @pg1 && ip4",
        "allow-related",
        "--",
        "acl-add",
        "ls-a",
        "to-lport",
        "900",
        "udp.dst == 53",
        "reject",
        "--",
        "lb-add",
        "lb1",
        "10.0.1.100:80",
        "10.0.1.11:80,10.0.1.12:80",
        "tcp",
        "--",
        "ls-lb-add",
        "ls-a",
        "lb1",
        "--",
        "lrp-add",
        "lr-a",
        "lrp-a-ext",
        "02:00:00:00:ff:01",
        "172.16.0.1/24",
        "--",
        "lrp-set-gateway-chassis",
        "lrp-a-ext",
        "hv1",
        "--",
        "lr-nat-add",
        "lr-a",
        "snat",
        "172.16.0.1",
        "10.0.1.0/24",
        "--",
        "lr-nat-add",
        "lr-a",
        "dnat_and_snat",
        "172.16.0.100",
        "10.0.1.11",
        "--",
        "lr-lb-add",
        "lr-a",
        "lb1",
    )
    box.nbctl("--wait=hv", "sync")


@pytest.fixture
def rich(demo: Sandbox) -> Iterator[Sandbox]:
    _extras(demo)
    yield demo


def test_every_northd_lflow_parses(rich: Sandbox) -> None:
    rows = json.loads(
        rich.sbctl("--format=json", "--columns=match,actions,external_ids", "list", "Logical_Flow")
    )
    assert len(rows["data"]) > 200
    failures = []
    kinds = set()
    for match, actions, _ in rows["data"]:
        for text, parse, fmt in (
            (match, parse_match, format_match),
            (actions, parse_actions, format_actions),
        ):
            try:
                tree = parse(text, IN_RELEASE)
            except LanguageError as exc:
                failures.append(f"{text!r}: {exc}")
                continue
            assert parse(fmt(tree), IN_RELEASE) == tree, text  # type: ignore[arg-type]
            if parse is parse_actions:
                from ovn_inject.lang import action_kinds

                kinds |= action_kinds(tree)  # type: ignore[arg-type]
    assert not failures, "\n".join(failures[:20])
    # The extras above must have produced the feature-rich action kinds.
    assert {"ct_lb_mark", "ct_commit", "log", "ct_snat", "ct_dnat", "reject"} <= kinds, kinds


def _ovn_verdicts(box: Sandbox, rows: list[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
    """Insert (match, actions) rows on ls-a, wait for hv1's ovn-controller, return its error per row."""
    datapath = box.sbctl(
        "--bare", "--columns=_uuid", "find", "Datapath_Binding", "external_ids:name=ls-a"
    ).strip()
    log = box.layout.chassis("hv1") / "ovn-controller.log"
    box.controller_appctl("hv1", "vlog/disable-rate-limit")
    start = log.stat().st_size
    ops: list[object] = []
    for priority, (match, actions) in enumerate(rows, start=100):
        ops.append(
            {
                "op": "insert",
                "table": "Logical_Flow",
                "row": {
                    "logical_datapath": ["uuid", datapath],
                    "pipeline": "ingress",
                    "table_id": 5,
                    "priority": priority,
                    "match": match,
                    "actions": actions,
                    "external_ids": ["map", [["stage-name", CORPUS_TAG]]],
                },
            }
        )
    for first in range(0, len(ops), 100):  # a few transactions: one would exceed the argv limit
        batch = json.dumps(["OVN_Southbound", *ops[first : first + 100]])
        processes.run(["ovsdb-client", "transact", box.sb_remote, batch])
    cfg = int(time.time()) % 100000 + 1
    box.sbctl("set", "SB_Global", ".", f"nb_cfg={cfg}")
    processes.wait_for(
        lambda: (
            box.sbctl("--bare", "--columns=nb_cfg", "find", "Chassis_Private", "name=hv1").strip() == str(cfg)
        ),
        timeout=30,
        what="hv1's ovn-controller to process the corpus",
    )
    with log.open("rb") as handle:
        handle.seek(start)
        text = handle.read().decode(errors="replace")
    verdicts: dict[tuple[str, str], str | None] = {}
    for match, actions in rows:
        error = None
        for kind, subject in (("actions", actions), ("match", match)):
            marker = f'error parsing {kind} "{subject}": '
            at = text.find(marker)
            if at >= 0:
                error = text[at + len(marker) :].split("\n", 1)[0]
                break
        verdicts[(match, actions)] = error
    return verdicts


def _ours(kind: str, text: str) -> str | None:
    try:
        if kind == "match":
            parse_match(text, CONTEXT)
        else:
            parse_actions(text, CONTEXT)
    except LanguageError as exc:
        return str(exc)
    return None


def test_corpus_verdicts_equal_ovn_controller(rich: Sandbox) -> None:
    matches, actions = _inputs("match.txt"), _inputs("actions.txt")
    assert len(matches) >= 150 and len(actions) >= 80
    canonical: list[tuple[str, str]] = []
    for text in matches:
        if _ours("match", text) is None:
            canonical.append((format_match(parse_match(text, IN_RELEASE)), "next;"))
    for text in actions:
        if _ours("actions", text) is None:
            canonical.append(("1", format_actions(parse_actions(text, IN_RELEASE))))
    unsafe = [m for m in matches if any(r in (_ours("match", m) or "") for r in UNSAFE_FOR_OVN)]
    unsafe_actions = [a for a in actions if any(r in (_ours("actions", a) or "") for r in UNSAFE_FOR_OVN)]
    assert unsafe and unsafe_actions, "the corpus should show that we refuse what stalls ovn-controller"
    matches = [m for m in matches if m not in unsafe]
    actions = [a for a in actions if a not in unsafe_actions]
    rows = [(m, "next;") for m in matches] + [("1", a) for a in actions]
    rows = list(dict.fromkeys(rows + canonical))
    rich.northd_appctl("pause")
    try:
        theirs = _ovn_verdicts(rich, rows)
    finally:
        uuids = rich.sbctl(
            "--bare", "--columns=_uuid", "find", "Logical_Flow", f"external_ids:stage-name={CORPUS_TAG}"
        ).split()
        args: list[str] = []
        for row in uuids:
            args += ["--", "destroy", "Logical_Flow", row]
        if args:
            rich.sbctl(*args[1:])
        rich.northd_appctl("resume")
    mismatches = []
    stricter = 0
    for (match, acts), their_error in theirs.items():
        kind, text = ("match", match) if acts == "next;" else ("actions", acts)
        if match == "1" and acts == "next;":
            kind, text = "match", "1"
        our_error = _ours(kind, text)
        if our_error is not None and any(reason in our_error for reason in STRICTER):
            stricter += 1
            if their_error is not None:
                mismatches.append(f"stricter entry refused by OVN too: {text!r}: {their_error}")
            continue
        if (our_error is None) != (their_error is None):
            mismatches.append(f"{kind} {text!r}: ours={our_error!r} ovn={their_error!r}")
    assert not mismatches, "\n".join(mismatches)
    assert stricter >= 5
    # The log scan really sees OVN's refusals (not a vacuous pass).
    assert sum(error is not None for error in theirs.values()) >= 80
