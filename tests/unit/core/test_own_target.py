"""The tenant API's target rule: another tenant's element is refused exactly as a missing one."""

from __future__ import annotations

import pytest

from ovn_inject.core.hooks import DatapathKind, hook
from ovn_inject.core.targets import (
    AttachmentRefusedError,
    ForeignTargetError,
    TargetNotFoundError,
    check_own_target,
    parse_target,
)
from ovn_inject.core.topology import Datapath, Port, PortGroup, Topology

TOPOLOGY = Topology.build(
    [
        Datapath("ls-a", DatapathKind.SWITCH, "a", "ls-a"),
        Datapath("ls-b", DatapathKind.SWITCH, "b", "ls-b"),
        Datapath("lr-a", DatapathKind.ROUTER, "a", "lr-a"),
    ],
    [Port("vm1", "ls-a", "a"), Port("vm4", "ls-b", "b"), Port("lrp-a", "lr-a", "a")],
    [
        PortGroup("pg-a", "a", ("vm1",)),
        PortGroup("pg-mixed", "a", ("vm1", "vm4")),
        PortGroup("pg-b", "b", ("vm4",)),
    ],
)


def refusal(target: str, hook_name: str = "ls-in-port") -> AttachmentRefusedError | None:
    try:
        check_own_target(parse_target(target), hook(hook_name), "a", TOPOLOGY)
    except AttachmentRefusedError as exc:
        return exc
    return None


@pytest.mark.parametrize("target", ["ls:ls-a", "lsp:vm1", "pg:pg-a"])
def test_own_switch_elements_are_accepted(target: str) -> None:
    assert refusal(target) is None


def test_own_router_elements_are_accepted() -> None:
    assert refusal("lr:lr-a", "lr-in-route") is None
    assert refusal("lrp:lrp-a", "lr-out-snat") is None


@pytest.mark.parametrize(
    ("foreign", "missing"),
    [("ls:ls-b", "ls:ls-z"), ("lsp:vm4", "lsp:vm9"), ("pg:pg-b", "pg:pg-z"), ("lsp:lrp-a", "lsp:vm9")],
)
def test_foreign_is_refused_as_missing(foreign: str, missing: str) -> None:
    theirs, nothing = refusal(foreign), refusal(missing)
    assert isinstance(theirs, TargetNotFoundError) and isinstance(nothing, TargetNotFoundError)
    name, other = foreign.split(":")[1], missing.split(":")[1]
    assert str(theirs) == str(nothing).replace(other, name)
    assert "'b'" not in str(theirs)


def test_a_port_group_with_other_tenants_ports_and_a_hook_of_the_other_kind() -> None:
    assert isinstance(refusal("pg:pg-mixed"), ForeignTargetError)
    wrong = refusal("ls:ls-a", "lr-in-route")
    assert wrong is not None and not isinstance(wrong, TargetNotFoundError | ForeignTargetError)
    assert "router hook" in str(wrong)
