"""Pure parts of the OVN_Inject layer: validation seam, tokens, stages, targets, output."""

from __future__ import annotations

import csv
import io
import json

import pytest

from ovn_inject.cli.flow_cmd import parse_flow_file
from ovn_inject.cli.output import format_value, render
from ovn_inject.constants import OWNER_KEY
from ovn_inject.core import tokens
from ovn_inject.core.hooks import HOOK_POINTS, DatapathKind, Pipeline, TargetKind, hook
from ovn_inject.core.placement import HOOK_BAND, LflowRow, Placement, Unusable, discover_stages, place_hooks
from ovn_inject.core.targets import AttachmentRefusedError, Target, TargetRow, check_attachment, parse_target
from ovn_inject.core.validate import (
    AttachmentView,
    FlowRequest,
    FlowValidationError,
    QuotaExceededError,
    ServiceView,
    cookie_from_db,
    cookie_to_db,
    parse_cookie,
    validate_flow,
    validate_flows,
)
from ovn_inject.db.schema import schema, schema_path
from ovn_inject.errors import OvnInjectError

ATTACHMENT = AttachmentView("8a1f0c3e-0000-4000-8000-000000000001", "lsp", "vm1", "ls-in-port")
SERVICE = ServiceView("ips", "tenant-a", 2, (ATTACHMENT,), flow_count=1)


def test_schema_ships_with_the_package() -> None:
    assert schema_path().is_file()
    loaded = schema()
    assert loaded["name"] == "OVN_Inject"
    assert set(loaded["tables"]) >= {"Inject_Global", "Service", "Attachment", "Service_Flow", "Token"}


def test_valid_flow_is_normalised_and_attachment_resolved_by_prefix() -> None:
    flow = validate_flow(FlowRequest(999, "  ip4  ", "drop;", 7, "8a1f0c3e"), SERVICE)
    assert (flow.match, flow.actions, flow.attachment, flow.priority) == (
        "ip4",
        "drop;",
        ATTACHMENT.uuid,
        999,
    )


def test_attachment_by_target_name() -> None:
    assert (
        validate_flow(FlowRequest(1, "ip4", "drop;", attachment="lsp:vm1"), SERVICE).attachment
        == ATTACHMENT.uuid
    )
    twice = ServiceView("ips", "t", None, (ATTACHMENT, AttachmentView("9b", "lsp", "vm1", "ls-out-port")), 0)
    with pytest.raises(FlowValidationError, match="names 2 attachments"):
        validate_flow(FlowRequest(1, "ip4", "drop;", attachment="lsp:vm1"), twice)


@pytest.mark.parametrize(
    ("request_", "column"),
    [
        (FlowRequest(1000, "ip4", "drop;"), "priority"),
        (FlowRequest(-1, "ip4", "drop;"), "priority"),
        (FlowRequest(1, " ", "drop;"), "match"),
        (FlowRequest(1, "ip4", ""), "actions"),
        (FlowRequest(1, "x" * 5000, "drop;"), "match"),
        (FlowRequest(1, "ip4", "drop;", cookie=1 << 64), "cookie"),
        (FlowRequest(1, "ip4", "drop;", attachment="ffff"), "attachment"),
        (FlowRequest(1, "ip4", "drop;", hard_timeout=-5), "hard_timeout"),
    ],
)
def test_bad_flows_name_the_column(request_: FlowRequest, column: str) -> None:
    with pytest.raises(FlowValidationError) as caught:
        validate_flow(request_, SERVICE)
    assert caught.value.column == column
    assert str(caught.value).startswith(column)


def test_control_character_reports_its_position() -> None:
    with pytest.raises(FlowValidationError) as caught:
        validate_flow(FlowRequest(1, "ip4 &&\x07 tcp", "drop;"), SERVICE)
    assert caught.value.position == 7
    assert "match, column 7" in str(caught.value)


def test_quota_counts_existing_flows_unless_replacing() -> None:
    one = FlowRequest(1, "ip4", "drop;")
    validate_flows([one], SERVICE)
    with pytest.raises(QuotaExceededError, match="at most 2 flows"):
        validate_flows([one, one], SERVICE)
    assert len(validate_flows([one, one], SERVICE, replacing=True)) == 2


def test_batch_errors_name_the_entry() -> None:
    with pytest.raises(FlowValidationError, match=r"^flow 2: priority"):
        validate_flows([FlowRequest(1, "ip4", "drop;"), FlowRequest(5000, "ip4", "drop;")], SERVICE, True)


def test_cookie_parsing_and_storage_round_trip() -> None:
    assert parse_cookie("0x10/0xf0") == (0x10, 0xF0)
    assert parse_cookie("17") == (17, (1 << 64) - 1)
    for bad in ("0x1/zz", "-1", "0x1" + "0" * 16):
        with pytest.raises(FlowValidationError):
            parse_cookie(bad)
    for cookie in (0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1):
        stored = cookie_to_db(cookie)
        assert -(1 << 63) <= stored < (1 << 63)
        assert cookie_from_db(stored) == cookie


def test_tokens_store_only_a_hash_and_compare_it() -> None:
    new = tokens.new_token()
    public_id, secret = tokens.split_token(new.token)
    assert public_id == new.public_id and secret == new.secret
    assert len(secret) >= 32  # >= 128 bits of url-safe base64
    assert secret not in new.secret_hash
    assert tokens.secret_matches(secret, new.secret_hash)
    assert not tokens.secret_matches(secret + "x", new.secret_hash)
    assert new.public_id != tokens.new_token().public_id
    with pytest.raises(tokens.TokenError):
        tokens.split_token("no-separator")
    tokens.check_token(secret, new.secret_hash, expires_ms=2000, now_ms=1000)
    tokens.check_token(secret, new.secret_hash, expires_ms=None, now_ms=1000)
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.check_token(secret, new.secret_hash, expires_ms=1000, now_ms=1000)
    with pytest.raises(tokens.TokenError, match="invalid"):
        tokens.check_token("wrong", new.secret_hash, expires_ms=None, now_ms=0)


def test_durations() -> None:
    assert tokens.parse_duration("30m") == 1800
    assert tokens.parse_duration("1h") == 3600
    assert tokens.parse_duration("7d") == 7 * 86400
    for bad in ("", "1y", "h", "0s", "-1h"):
        with pytest.raises(tokens.TokenError):
            tokens.parse_duration(bad)


def _row(stage: str, pipeline: str, table: int, priority: int, ours: bool = False) -> LflowRow:
    ids = {"stage-name": stage}
    if ours:
        ids[OWNER_KEY] = "1"
    return LflowRow(ids, pipeline, table, priority)


def test_stage_discovery_ignores_our_rows_and_finds_max_priority() -> None:
    rows = [
        _row("ls_in_pre_acl", "ingress", 4, 100),
        _row("ls_in_pre_acl", "ingress", 4, 110),
        _row("ls_in_pre_acl", "ingress", 4, 2000, ours=True),
        _row("ls_in_acl", "ingress", 9, 65535),
        LflowRow({}, "ingress", 3, 50),
    ]
    stages = discover_stages(rows)
    assert stages["ls_in_pre_acl"].max_priority == 110
    assert stages["ls_in_pre_acl"].table_id == 4
    placement = place_hooks(stages, {})["ls-in-port"]
    assert isinstance(placement, Placement) and placement.band == (1000, 999 + HOOK_BAND)


def test_hooks_without_room_or_stage_are_unusable() -> None:
    stages = discover_stages(
        [_row("ls_in_pre_acl", "ingress", 4, 65535), _row("ls_in_l2_lkup", "ingress", 25, 65535 - HOOK_BAND)]
    )
    by_name = place_hooks(stages, {})
    for name, words in (("ls-in-port", "65535"), ("ls-in-forward", "no room"), ("lr-out-snat", "not found")):
        found = by_name[name]
        assert isinstance(found, Unusable) and words in found.reason
    assert len(by_name) == len(HOOK_POINTS)


def test_targets() -> None:
    assert parse_target("lsp:vm1") == Target(TargetKind.LSP, "vm1")
    for bad in ("vm1", "xx:vm1", "lsp:"):
        with pytest.raises(AttachmentRefusedError):
            parse_target(bad)
    key = "neutron:project_id"
    port = TargetRow({}, {key: "t1"})
    check_attachment(parse_target("lsp:p"), port, hook("ls-in-port"), "t1", key)  # tenant from the switch
    with pytest.raises(AttachmentRefusedError, match="another tenant"):
        check_attachment(parse_target("lsp:p"), port, hook("ls-in-port"), "t2", key)
    with pytest.raises(AttachmentRefusedError, match="does not exist"):
        check_attachment(parse_target("lsp:p"), None, hook("ls-in-port"), "t1", key)
    with pytest.raises(AttachmentRefusedError, match="router hook"):
        check_attachment(parse_target("lsp:p"), port, hook("lr-in-route"), "t1", key)
    with pytest.raises(AttachmentRefusedError, match="no tenant"):
        check_attachment(parse_target("ls:s"), TargetRow({}), hook("ls-in-port"), "t1", key)


def test_output_formats() -> None:
    records = [{"name": "ips", "n": 3, "ids": {"a": "1"}, "refs": ["0a1b"], "opt": None}]
    columns = ["name", "n", "ids", "refs", "opt"]
    assert json.loads(render(records, columns, "json")) == records
    parsed = list(csv.reader(io.StringIO(render(records, columns, "csv"))))
    assert parsed == [columns, ["ips", "3", '{a="1"}', "[0a1b]", ""]]
    table = render(records, columns, "table").splitlines()
    assert table[0].split() == columns and table[1].split()[0] == "ips"
    assert "name : ips" in render(records, columns, "list")
    assert format_value("") == '""' and format_value("10") == '"10"' and format_value("a b") == '"a b"'


def test_flow_file_formats_and_refusals() -> None:
    lines = (
        '{"priority": 1, "match": "ip4", "actions": "drop;", "cookie": "0x10"}\n\n'
        '{"priority": 2, "match": "tcp", "actions": "next;"}\n'
    )
    array = json.dumps([{"priority": 1, "match": "ip4", "actions": "drop;", "cookie": 16}])
    assert [f.cookie for f in parse_flow_file(lines)] == [16, 0]
    assert parse_flow_file(array)[0].cookie == 16
    assert parse_flow_file("") == []
    for bad, message in (
        ('{"priority": 1, "match": "ip4"}', "missing actions"),
        ('{"priority": 1, "match": "ip4", "actions": "drop;", "prio": 3}', "unknown key"),
        ('{"priority": "1", "match": "ip4", "actions": "drop;"}', "priority must be an integer"),
        ('{"priority": 1, "match": "ip4", "actions": "drop;"}\n{oops', "line 2"),
    ):
        with pytest.raises(OvnInjectError, match=message):
            parse_flow_file(bad)


def test_discovery_fails_closed_on_a_northd_flow_it_cannot_read() -> None:
    """An unreadable northd flow may touch any register bit: its pipeline's hooks are not placed."""
    from ovn_inject.core.discovery import discover

    def row(stage: str, pipeline: str, table: int, match: str, actions: str = "next;") -> dict[str, object]:
        return {
            "external_ids": {"stage-name": stage},
            "pipeline": pipeline,
            "table_id": table,
            "priority": 100,
            "match": match,
            "actions": actions,
        }

    rows = [
        row("ls_in_pre_acl", "ingress", 4, "ip4"),
        row("ls_in_l2_lkup", "ingress", 25, "eth.mcast"),
        row("ls_out_pre_acl", "egress", 1, "ip"),
        row("ls_out_check_port_sec", "egress", 8, "1"),
        row("lr_in_ip_routing_pre", "ingress", 11, "1", "reg9[0..6] = 5; next;"),
        row("lr_in_arp_resolve", "ingress", 17, "ip4"),
        row("lr_out_snat", "egress", 3, "ip"),
        row("lr_out_delivery", "egress", 6, "1"),
    ]
    readable = discover(rows)
    assert all(isinstance(p, Placement) for p in readable.placements.values())
    assert readable.used_bits[(DatapathKind.ROUTER, Pipeline.INGRESS)]["reg9"] == frozenset(range(7))

    rows.append(row("ls_in_acl", "ingress", 9, "some_future_field == 1"))
    found = discover(rows)
    for name, placement in found.placements.items():
        if name.startswith("ls-in-"):  # only the pipeline the unreadable flow is in
            assert isinstance(placement, Unusable)
            assert "cannot be read" in placement.reason and "some_future_field" in placement.reason
        else:
            assert isinstance(placement, Placement), name
    assert found.unreadable[(DatapathKind.SWITCH, Pipeline.INGRESS)][0].stage == "ls_in_acl"
    trusted = discover(rows, trust_unreadable=True)
    assert all(isinstance(p, Placement) for p in trusted.placements.values())


def test_discovery_leaves_out_registers_northd_only_clears() -> None:
    """``reg0 = 0;`` keeps a cursor at zero and makes nobody read ours: those bits stay free."""
    from ovn_inject.core.discovery import register_usage

    rows = [
        {
            "external_ids": {"stage-name": "lr_out_snat"},
            "pipeline": "egress",
            "match": "ip",
            "actions": "reg0 = 0; xxreg1 = 0; reg9[4] = 1; next;",
        }
    ]
    used, unreadable = register_usage(rows)
    assert not unreadable
    assert used[(DatapathKind.ROUTER, Pipeline.EGRESS)] == {"reg9": frozenset({4})}
