"""``flow-add``'s write, without click: the click command and :mod:`ovn_inject.direct.dispatch` both run it.

What a direct call imports decides its cost: the language and the checks are
imported when the flow is checked, python-ovs not at all (a plain socket reads
and writes, :mod:`ovn_inject.db.oneshot`).
"""

from __future__ import annotations

import sys

from ovn_inject.errors import OvnInjectError

TYPE_CHECKING = False  # typing itself is imported for mypy alone: its import is 2 ms of a flow-add
if TYPE_CHECKING:
    from typing import Any

    from ovn_inject.core.validate import ServiceView, ValidFlow
    from ovn_inject.db.rpc import Rpc
    from ovn_inject.direct.settings import Settings
    from ovn_inject.lang import Release


def attachment_named(attachment: str | None, hook: str | None) -> str | None:
    """``--attachment KIND:NAME --hook HOOK`` as the one reference ``KIND:NAME@HOOK``."""
    return f"{attachment}@{hook}" if attachment is not None and hook is not None else attachment


def add(
    config: Settings,
    service: str,
    attachment: str | None,
    all_attachments: bool,
    fields: tuple[int, str, str, str, int],
) -> None:
    """flow-add without an IDL: one read, one transaction, and --wait as the server's wait.

    See :mod:`ovn_inject.db.oneshot`; a concurrent writer makes the write fail
    and the whole command (read, checks, write) run again, as the IDL retries.
    Raises :class:`ovn_inject.db.oneshot.Fallback` before writing anything when
    the database is one the IDL must write.

    The reads are sent before the checks' imports (the language: 4 ms of CPU),
    which the servers' answers then overlap; when NB is served where OVN_Inject
    is (the default), its rows come on the same connection.
    """
    import time

    from ovn_inject.constants import INJECT_DB_NAME
    from ovn_inject.db import oneshot
    from ovn_inject.db.rpc import Rpc

    priority, match, actions, cookie, hard_timeout = fields
    column = config.wait_column
    config.ssl_ready(config.inject_remote)
    deadline = time.monotonic() + config.db_timeout
    with Rpc(config.inject_remote, config.db_timeout, INJECT_DB_NAME) as rpc:
        nb = rpc if config.nb_remote == config.inject_remote else None
        sent = _send_reads(rpc, nb)
        # What the checks import, while the servers answer.
        import ovn_inject.lang  # noqa: F401
        from ovn_inject.core.validate import FlowRequest, validate_flows

        while True:
            state = oneshot.read_service(rpc, service, sent[0])
            view = scoped(config, state.view, release_named(state.release), nb, sent[1])
            chosen = explicit(view, attachment, all_attachments, "flow-add")
            request = FlowRequest(
                priority, match, actions, flow_cookie(cookie, "--cookie"), chosen, hard_timeout
            )
            flows = validate_flows([request], view)
            try:
                uuids, cfg = oneshot.add_flows(rpc, state, flows, bump=column is not None)
                break
            except oneshot.Conflict:
                if time.monotonic() >= deadline:
                    raise
            sent = _send_reads(rpc, nb)
        if column is not None and not oneshot.wait_cfg(rpc, column, cfg, config.wait_timeout):
            raise config.not_in_time(uuids, cfg, oneshot.current_cfg(rpc, column))
    print_added(config, view, uuids, flows)


def _send_reads(rpc: Rpc, nb: Rpc | None) -> tuple[int, int | None]:
    """Ask for the service's rows and, on ``nb`` (the same connection), NB's: the requests' ids."""
    from ovn_inject.db import oneshot

    reading = oneshot.send_read(rpc)
    if nb is None:
        return reading, None
    from ovn_inject.db.nbrows import send_select_all

    return reading, send_select_all(nb)


def flow_cookie(value: Any, where: str) -> int:
    """A flow's cookie (decimal or 0x-hex, no mask); ``where`` names the option or entry in errors."""
    from ovn_inject.core.validate import FlowValidationError, parse_cookie

    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FlowValidationError("cookie", f"{where}: expected a number or a 0x-hex string")
    text = str(value)
    cookie, mask = parse_cookie(text)
    if mask != (1 << 64) - 1:
        raise FlowValidationError("cookie", f"{where}: a flow's cookie takes no mask")
    return cookie


def release_named(name: str | None) -> Release | None:
    """The release the daemon said it compiles for (Inject_Global.options:ovn_release), if any."""
    if not name:
        return None
    from ovn_inject.lang import LanguageError, parse_release

    try:
        return parse_release(name)
    except LanguageError:
        return None


def explicit(view: ServiceView, attachment: str | None, all_attachments: bool, command: str) -> str | None:
    """A flow's attachment: the one named, the service's only one, or none with --all-attachments."""
    from ovn_inject.core.validate import FlowValidationError, explicit_attachment

    try:
        return explicit_attachment(
            attachment, all_attachments, view, "--attachment KIND:NAME@HOOK", "--all-attachments"
        )
    except FlowValidationError as exc:
        raise OvnInjectError(f"{command}: {exc.detail}") from None


def scoped(
    config: Settings,
    view: ServiceView,
    release: Release | None,
    nb: Rpc | None = None,
    sent: int | None = None,
) -> ServiceView:
    """The view with the ports each attachment's flows may name (read from NB), in the daemon's release.

    ``nb`` and ``sent``: the connection on which NB's rows were asked for already, and the request.
    """
    from ovn_inject.core.validate import scoped

    if nb is not None and sent is not None:
        from ovn_inject.core.topology import build_topology
        from ovn_inject.db.nbrows import selected_all

        return scoped(view, build_topology(*selected_all(nb, sent), config.tenant), release)
    from ovn_inject.db.readers import read_topology

    config.ssl_ready(config.nb_remote)
    return scoped(view, read_topology(config.nb_remote, config.db_timeout, config.tenant), release)


def print_added(config: Settings, view: ServiceView, uuids: list[Any], flows: list[ValidFlow]) -> None:
    """The new flows' uuids, one a line; with -f json or csv, the flows as records."""
    from ovn_inject.db.wire import ALL_ATTACHMENTS

    names = {a.uuid: f"{a.target}@{a.hook}" for a in view.attachments}
    records = [
        {
            "_uuid": str(uuid),
            "service": view.name,
            "attachment": names.get(flow.attachment or "", ALL_ATTACHMENTS),
            "priority": flow.priority,
            "match": flow.match,
            "actions": flow.actions,
            "cookie": f"0x{flow.cookie:x}",
            "hard_timeout": flow.hard_timeout,
            "openflow_flows": flow.openflow_flows,
        }
        for uuid, flow in zip(uuids, flows, strict=True)
    ]
    if config.format in ("json", "csv"):
        import click  # the CLI's printing, as every command's records (its package imports click anyway)

        from ovn_inject.cli.output import render

        click.echo(render(records, list(records[0]) if records else ["_uuid"], config.output), nl=False)
        return
    for record in records:
        # As click.echo prints a line (uuids need none of its care for ANSI codes or encodings):
        # written and flushed at once, so that a closed pipe raises here.
        sys.stdout.write(f"{record['_uuid']}\n")
        sys.stdout.flush()
