"""The hook points ovn-inject offers, declared as data (like northd.h's stage list).

A hook point is a stable name of ours; it lives inside the logical table of
its host stage, just above northd's highest priority there (docs/design.md,
"Hook placement"). Which table id the host stage has on the connected OVN is not
written here: it is discovered from SB ``external_ids:stage-name`` at run
time, because it changes between OVN releases.
"""

from __future__ import annotations

from enum import StrEnum

from ovn_inject.errors import OvnInjectError
from ovn_inject.records import record

#: Highest priority an application may give a flow (its flows use 0..999 at a hook;
#: placement makes room for them). Here, not in placement: validation needs it alone.
APP_PRIORITY_MAX = 999


class DatapathKind(StrEnum):
    SWITCH = "ls"
    ROUTER = "lr"


class Pipeline(StrEnum):
    INGRESS = "ingress"
    EGRESS = "egress"


class TargetKind(StrEnum):
    """What an attachment can name: the ``KIND`` of ``KIND:NAME``."""

    LSP = "lsp"  # a logical switch port
    LS = "ls"  # every port of a logical switch
    LR = "lr"  # every port of a logical router
    LRP = "lrp"  # a logical router port
    PG = "pg"  # the ports of a port group, on every switch they sit on


#: Which datapath kind each target kind lives on.
TARGET_DATAPATH = {
    TargetKind.LSP: DatapathKind.SWITCH,
    TargetKind.LS: DatapathKind.SWITCH,
    TargetKind.PG: DatapathKind.SWITCH,
    TargetKind.LR: DatapathKind.ROUTER,
    TargetKind.LRP: DatapathKind.ROUTER,
}


@record(frozen=True)
class HookPoint:
    name: str
    datapath: DatapathKind
    pipeline: Pipeline
    host_stage: str  # northd's stage-name; the hook runs just before its flows
    stage_name: str  # the stage-name our rows carry, shown by ovn-trace
    summary: str

    @property
    def scope_field(self) -> str:
        """Ingress hooks scope packets by the port they came in on, egress by the one they leave by."""
        return "inport" if self.pipeline is Pipeline.INGRESS else "outport"

    def accepts(self, kind: TargetKind) -> bool:
        return TARGET_DATAPATH[kind] is self.datapath


HOOK_POINTS: tuple[HookPoint, ...] = (
    HookPoint(
        "ls-in-port",
        DatapathKind.SWITCH,
        Pipeline.INGRESS,
        "ls_in_pre_acl",
        "ls_in_hook_port",
        "switch ingress before conntrack (PREROUTING)",
    ),
    HookPoint(
        "ls-in-forward",
        DatapathKind.SWITCH,
        Pipeline.INGRESS,
        "ls_in_l2_lkup",
        "ls_in_hook_forward",
        "switch ingress after ACLs and load balancing, before the L2 decision (FORWARD)",
    ),
    HookPoint(
        "ls-out-port",
        DatapathKind.SWITCH,
        Pipeline.EGRESS,
        "ls_out_pre_acl",
        "ls_out_hook_port",
        "switch egress before conntrack",
    ),
    HookPoint(
        "ls-out-deliver",
        DatapathKind.SWITCH,
        Pipeline.EGRESS,
        "ls_out_check_port_sec",
        "ls_out_hook_deliver",
        "switch egress, last step before the port (POSTROUTING)",
    ),
    HookPoint(
        "lr-in-route",
        DatapathKind.ROUTER,
        Pipeline.INGRESS,
        "lr_in_ip_routing_pre",
        "lr_in_hook_route",
        "router ingress after DNAT, before routing (PREROUTING)",
    ),
    HookPoint(
        "lr-in-forward",
        DatapathKind.ROUTER,
        Pipeline.INGRESS,
        "lr_in_arp_resolve",
        "lr_in_hook_forward",
        "router ingress after routing and policy (FORWARD)",
    ),
    HookPoint(
        "lr-out-snat",
        DatapathKind.ROUTER,
        Pipeline.EGRESS,
        "lr_out_snat",
        "lr_out_hook_snat",
        "router egress before SNAT",
    ),
    HookPoint(
        "lr-out-deliver",
        DatapathKind.ROUTER,
        Pipeline.EGRESS,
        "lr_out_delivery",
        "lr_out_hook_deliver",
        "router egress, last step before the port (POSTROUTING)",
    ),
)

HOOKS_BY_NAME = {hook.name: hook for hook in HOOK_POINTS}


class UnknownHookError(OvnInjectError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown hook point '{name}'; hook points are: {', '.join(HOOKS_BY_NAME)}")
        self.name = name


def hook(name: str) -> HookPoint:
    try:
        return HOOKS_BY_NAME[name]
    except KeyError:
        raise UnknownHookError(name) from None
