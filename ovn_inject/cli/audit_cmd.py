"""The CLI's writes in the audit trail (``ovn-inject --audit-log FILE`` or ``$OVN_INJECT_AUDIT_LOG``).

Each write command is wrapped so that it leaves one line, accepted or refused
with the reason, in the same format as the gateway's: an operator's
``flow-add`` is as traceable as a tenant's ``POST /v1/flows``.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from ovn_inject.errors import OvnInjectError

#: The commands that change OVN_Inject.
WRITES = frozenset(
    {
        "service-add",
        "service-del",
        "service-set",
        "attach-add",
        "attach-del",
        "flow-add",
        "flow-del",
        "flow-replace",
        "token-create",
        "token-revoke",
        "init",
        "sync",
    }
)


def audited(command: click.Command) -> click.Command:
    """``command``, recording its outcome when an audit log is configured."""
    if command.name not in WRITES:
        return command
    original = command.invoke

    def invoke(ctx: click.Context) -> Any:
        path = ctx.find_root().params.get("audit_log")
        if not path:
            return original(ctx)
        # Imported only with an audit log: a write without one pays nothing for it.
        import uuid
        from pathlib import Path

        from ovn_inject.audit import AuditLog

        log = AuditLog(Path(path))
        service = ctx.params.get("service") or ctx.params.get("name")
        token = ctx.params.get("token_id")
        entry: dict[str, Any] = {
            "what": _what(command.name or ""),
            "service": service,
            "token": token,
            "request_id": uuid.uuid4().hex,
            "user": _user(),
        }
        try:
            result = original(ctx)
        except OvnInjectError as exc:
            log.record(**entry, result="refused", reason=str(exc))
            raise
        except click.ClickException as exc:
            log.record(**entry, result="refused", reason=exc.format_message())
            raise
        else:
            log.record(**entry, result="accepted")
            return result
        finally:
            log.close()

    command.invoke = invoke  # type: ignore[method-assign]
    return command


def _what(name: str) -> str:
    """The command and its own arguments as typed (the group's options before it are left out)."""
    import shlex

    argv = sys.argv[1:]
    mine = argv[argv.index(name) + 1 :] if name in argv else []
    return f"{name} {shlex.join(mine)}".strip()[:1024]


def _user() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
