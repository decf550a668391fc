"""Every northd flow text in OVN's own tests parses with the table of the release it comes from.

The corpus (tests/unit/lang/corpus, made by extract_corpus.py) holds the
distinct match and actions texts of ``ovn-sbctl dump-flows`` output that
OVN's tests/ovn-northd.at expects at each supported tag. A few texts there
are not northd output: shell variables the test script substitutes, and two
texts OVN itself refuses (listed below with the reason).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ovn_inject.lang import Context, LanguageError, parse_actions, parse_match
from ovn_inject.lang.releases import SUPPORTED

CORPUS = Path(__file__).parent / "corpus"
#: the test script's own variables and quoting, not flow text
ARTIFACT = re.compile(
    r"\$(pipeline|action|ingress_id|after_lb_id|egress_id|ct_save_action|larger_pkts_ct_match)\b|\\\$|'\]"
)
#: texts in the tests that ovn-controller refuses too
REFUSED_BY_OVN = {
    "ip4.addr ==": "an ACL match copied verbatim; ip4.addr is no field",
    "; drop;": "'drop;' combined with another action",
}


def corpus(release: str) -> list[tuple[str, str]]:
    lines = (CORPUS / f"northd-{release}.txt").read_text().splitlines()
    return [(line[0], line[2:]) for line in lines if line[:2] in ("M ", "A ")]


def failures(release: str, texts: list[tuple[str, str]]) -> list[str]:
    context = Context(release=release)
    failed = []
    for kind, text in texts:
        try:
            (parse_match if kind == "M" else parse_actions)(text, context)
        except LanguageError as exc:
            failed.append(f"{text!r}: {exc}")
    return failed


@pytest.mark.parametrize("release", [r.name for r in SUPPORTED])
def test_northd_flow_texts_parse(release: str) -> None:
    texts = corpus(release)
    real = [
        (kind, text)
        for kind, text in texts
        if not ARTIFACT.search(text) and not any(key in text for key in REFUSED_BY_OVN)
    ]
    assert len(real) > 0.95 * len(texts) and len(real) >= 590
    failed = failures(release, real)
    print(f"OVN {release}: {len(real)} northd flow texts, {len(failed)} refused")
    assert not failed, "\n".join(failed[:20])


def test_newer_flows_need_newer_tables() -> None:
    """The 26.03 corpus is not readable with 23.03's table: the releases really differ."""
    failed = failures("23.03", corpus("26.03"))
    assert len(failed) > 50
    assert any("unknown field 'ct_label.obs_point_id' in OVN 23.03" in f for f in failed)
    assert any("unknown action 'ct_commit_to_zone' in OVN 23.03" in f for f in failed)
