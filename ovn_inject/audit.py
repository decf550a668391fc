"""The audit trail: one JSON line per write or refusal, for the gateway and the CLI alike.

A line says who (service, token id), what (the request or command), when,
and how it ended (``accepted`` or ``refused`` with the reason), so that an
operator can answer "who installed this flow" or "why was that tenant
refused" from one file. The secret half of a token is never written.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ovn_inject.constants import AUDIT_LOG_ENV as AUDIT_LOG_ENV  # where the CLI writes without --audit-log
from ovn_inject.errors import OvnInjectError

FIELDS = ("time", "service", "token", "request_id", "what", "result", "status", "reason")


class AuditLog:
    """Appends lines to ``path``; each line is written with one ``write`` on an O_APPEND file.

    Several processes (the gateway, CLI runs) may share one file: O_APPEND
    makes each line land whole.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as exc:
            raise OvnInjectError(f"cannot open the audit log {path}: {exc.strerror}") from None

    def record(
        self,
        *,
        what: str,
        result: str,
        service: str | None = None,
        token: str | None = None,
        request_id: str | None = None,
        status: int | None = None,
        reason: str = "",
        user: str | None = None,
    ) -> None:
        """One line; ``user`` is the local account of a CLI write (the gateway's callers have tokens)."""
        entry: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "service": service,
            "token": token,
            "request_id": request_id,
            "what": what,
            "result": result,
            "status": status,
            "reason": reason,
        }
        if user is not None:
            entry["user"] = user
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)

    def close(self) -> None:
        os.close(self._fd)
