"""A minimal client of the ovn-inject gateway, standard library only.

Applications need nothing of ovn-inject but HTTP: this module is what an
appliance vendor would write in any language.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any


class GatewayError(Exception):
    """The gateway refused a request; ``status`` and ``error`` are its answer."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(f"{status} {error.get('code')}: {error.get('message')}")
        self.status = status
        self.error = error


class Gateway:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 30.0) -> None:
        self.url = (url or os.environ["OVN_INJECT_GATEWAY"]).rstrip("/")
        self.token = token or os.environ["OVN_INJECT_TOKEN"]
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        params = {k: v for k, v in query.items() if v is not None}
        url = f"{self.url}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            payload = json.loads(exc.read() or b"{}")
            raise GatewayError(exc.code, payload.get("error", {})) from None

    def service(self) -> dict[str, Any]:
        return self.request("GET", "/v1/service")

    def flows(self) -> list[dict[str, Any]]:
        return self.request("GET", "/v1/flows")["flows"]

    def add(self, flows: list[dict[str, Any]], wait: str | None = "hv") -> list[dict[str, Any]]:
        return self.request("POST", "/v1/flows", flows, wait=wait)["flows"]

    def delete_cookie(self, cookie: int, mask: int = (1 << 64) - 1, wait: str | None = "hv") -> int:
        return self.request("DELETE", "/v1/flows", cookie=hex(cookie), cookie_mask=hex(mask), wait=wait)[
            "deleted"
        ]


def cookie_of(kind: int, key: str) -> int:
    """A cookie for ``key`` in a family ``kind``: the top 16 bits say which, the rest who."""
    digest = int.from_bytes(key.encode()[:6].ljust(6, b"\0"), "big")
    return (kind << 48) | digest


def run(main: Callable[[], None]) -> None:
    """Run an example's ``main``; a refusal is one line on stderr and exit status 1, not a traceback."""
    try:
        main()
    except GatewayError as exc:
        sys.exit(f"{sys.argv[0]}: the gateway refused: {exc}")
    except (OSError, KeyError) as exc:
        sys.exit(f"{sys.argv[0]}: {exc} (is $OVN_INJECT_GATEWAY a running gateway, $OVN_INJECT_TOKEN set?)")
