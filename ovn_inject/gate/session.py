"""One northd session of the gate as a state machine on whole messages (no I/O).

:class:`GateSession` sees every message in both directions, remembers the
requests whose replies it must change (monitors, schemas, rewritten
transactions) and applies :mod:`ovn_inject.gate.filter`. Messages that need
no change are returned as the very bytes that came in; large ones are not
even decoded when a substring check proves they cannot concern a hidden row,
which keeps the gate cheap on the multi-megabyte messages of bulk changes.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field

from ovn_inject.constants import OWNER_KEY
from ovn_inject.gate.filter import (
    FilterStats,
    Json,
    MonitorState,
    ProtocolError,
    Schema,
    filter_table_updates,
    reshape_transact_reply,
    rewrite_transaction,
    schema_from_json,
)

log = logging.getLogger("ovn_inject.gate")

#: Asking ``monitor_cond_since`` for changes after this id returns a full snapshot.
ZERO_TXN_ID = "00000000-0000-0000-0000-000000000000"
SERVER_DB = "_Server"
#: Up to this many hidden rows, a large message is searched for each uuid directly.
FEW_HIDDEN = 16
#: Messages up to this size are always decoded (and so validated); larger ones only
#: when a substring check says they may concern a hidden row. The peer's own
#: parser still rejects a malformed large message, and the session then ends.
SMALL_MESSAGE = 64 * 1024
MONITOR_FORMS = {"monitor": 1, "monitor_cond": 2, "monitor_cond_since": 2}
UPDATE_FORMS = {"update": 1, "update2": 2, "update3": 2}
_ROW_KEY = re.compile(rb'"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"\s*:')


def _key(value: Json) -> str:
    return json.dumps(value, sort_keys=True)


def encode(message: Json) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def decode(raw: bytes) -> dict[str, Json]:
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"malformed JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"a JSON-RPC message must be an object, got {type(message).__name__}")
    return message


@dataclass
class _Pending:
    kind: str  # "monitor", "get_schema", "transact", "cancel", "cond_change"
    monitor: str = ""
    database: str = ""
    form: int = 0
    original_ops: int = 0
    appended: int = 0
    old_monitor: str = ""


@dataclass
class GateSession:
    """Filtering state of one northd connection and its upstream."""

    owner_key: str = OWNER_KEY
    full_snapshot: bool = True
    monitors: dict[str, MonitorState] = field(default_factory=dict)
    schemas: dict[str, Schema] = field(default_factory=dict)
    stats: FilterStats = field(default_factory=FilterStats)
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _database_names: dict[str, str] = field(default_factory=dict)  # _Server Database row -> name

    def __post_init__(self) -> None:
        self._marker = json.dumps(self.owner_key).encode()

    # ---- northd -> server --------------------------------------------------------

    def from_client(self, raw: bytes) -> bytes:
        if len(raw) > SMALL_MESSAGE and not self._client_message_may_matter(raw):
            return raw
        message = decode(raw)
        method = message.get("method")
        if method is None:
            return raw  # northd's reply to the server (echo)
        params = message.get("params")
        request_id = message.get("id")
        if method == "transact":
            new_params, appended = rewrite_transaction(params, self.monitors.values())
            if not appended:
                return raw
            original_ops = len(new_params) - 1 - appended
            self._expect(request_id, _Pending("transact", original_ops=original_ops, appended=appended))
            log.info("adding %d deletes of hidden rows to northd's transaction %s", appended, request_id)
            message["params"] = new_params
            return encode(message)
        if not isinstance(params, list):
            return raw
        if method in MONITOR_FORMS:
            return self._monitor_request(message, method, params, request_id, raw)
        if method == "get_schema" and params and isinstance(params[0], str):
            self._expect(request_id, _Pending("get_schema", database=params[0]))
        elif method == "monitor_cond_change" and len(params) >= 2:
            old, new = _key(params[0]), _key(params[1])
            if old not in self.monitors:
                raise ProtocolError(f"monitor_cond_change of unknown monitor {params[0]!r}")
            self.monitors[new] = self.monitors[old]
            self._expect(request_id, _Pending("cond_change", monitor=new, old_monitor=old))
        elif method == "monitor_cancel" and params:
            self._expect(request_id, _Pending("cancel", monitor=_key(params[0])))
        return raw

    def _client_message_may_matter(self, raw: bytes) -> bool:
        if b"\\u" in raw or b'"monitor' in raw or b'"get_schema"' in raw:
            return True
        if b'"delete"' not in raw:
            return False
        targets = {
            target
            for monitor in self.monitors.values()
            for row in monitor.hidden.values()
            for target in row.references()
        }
        if not targets:
            return False
        if b'": ' in raw or b'", ' in raw:  # not compact: any mention may be a delete
            return any(target.encode() in raw for target in targets)
        # Compact, as OVS writes it: only a where clause on the row's _uuid can delete it.
        return any(b'["_uuid","==",["uuid","%s"]]' % target.encode() in raw for target in targets)

    def _monitor_request(
        self, message: dict[str, Json], method: str, params: list[Json], request_id: Json, raw: bytes
    ) -> bytes:
        if len(params) < 3 or not isinstance(params[0], str):
            raise ProtocolError(f"{method} params must be [database, monitor-id, requests...]")
        monitor = _key(params[1])
        self.monitors[monitor] = MonitorState(params[0])
        self._expect(request_id, _Pending("monitor", monitor=monitor, form=MONITOR_FORMS[method]))
        full = method == "monitor_cond_since" and self.full_snapshot and len(params) >= 4
        if full and params[3] != ZERO_TXN_ID:
            params[3] = ZERO_TXN_ID
            return encode(message)
        return raw

    def _expect(self, request_id: Json, pending: _Pending) -> None:
        if request_id is None:
            raise ProtocolError(f"{pending.kind} request without an id")
        self._pending[_key(request_id)] = pending

    # ---- server -> northd --------------------------------------------------------

    def from_server(self, raw: bytes) -> bytes:
        if len(raw) > SMALL_MESSAGE and not self._server_message_may_matter(raw):
            return raw
        message = decode(raw)
        method = message.get("method")
        if method is not None:
            form = UPDATE_FORMS.get(method)
            if form is None:
                return raw
            return self._update_notification(message, method, form, raw)
        if "id" not in message:
            raise ProtocolError("a JSON-RPC message needs a 'method' or an 'id'")
        pending = self._pending.pop(_key(message["id"]), None)
        if pending is None:
            return raw
        error = message.get("error")
        result = message.get("result")
        if pending.kind == "get_schema":
            if error is None:
                database = pending.database
                self.schemas[database] = schema_from_json(result)
            return raw
        if pending.kind == "transact":
            message["result"] = reshape_transact_reply(result, pending.original_ops, pending.appended)
            return encode(message)
        if pending.kind == "cancel":
            if error is None:
                self.monitors.pop(pending.monitor, None)
            return raw
        if pending.kind == "cond_change":
            if error is None and pending.old_monitor != pending.monitor:
                self.monitors.pop(pending.old_monitor, None)
            elif error is not None and pending.old_monitor != pending.monitor:
                self.monitors.pop(pending.monitor, None)
            return raw
        # a monitor reply
        if error is not None:
            self.monitors.pop(pending.monitor, None)
            return raw
        state = self.monitors.get(pending.monitor)
        if state is None:
            return raw
        before = self.stats.updates_removed + self.stats.rows_hidden
        if state.database == SERVER_DB:
            self._learn_schemas(result[2] if isinstance(result, list) and len(result) == 3 else result)
        schema = self.schemas.get(state.database)
        if pending.form == 1:
            message["result"] = filter_table_updates(result, 1, state, schema, self.owner_key, self.stats)
        else:
            if isinstance(result, list):  # monitor_cond_since: [found, last-txn-id, updates]
                if len(result) != 3:
                    raise ProtocolError("monitor_cond_since reply must be [found, last-txn-id, updates]")
                result[2] = filter_table_updates(result[2], 2, state, schema, self.owner_key, self.stats)
            else:
                message["result"] = filter_table_updates(result, 2, state, schema, self.owner_key, self.stats)
        if self.stats.updates_removed + self.stats.rows_hidden == before:
            return raw
        return encode(message)

    def _update_notification(self, message: dict[str, Json], method: str, form: int, raw: bytes) -> bytes:
        params = message.get("params")
        size = 3 if method == "update3" else 2
        if not isinstance(params, list) or len(params) != size:
            raise ProtocolError(f"{method} params must have {size} elements")
        state = self.monitors.get(_key(params[0]))
        if state is None:
            raise ProtocolError(f"{method} for unknown monitor {params[0]!r}")
        before = self.stats.updates_removed + self.stats.rows_hidden
        if state.database == SERVER_DB:
            self._learn_schemas(params[-1])
        schema = self.schemas.get(state.database)
        # An update emptied by filtering is still forwarded: update3 carries northd's last txn id.
        params[-1] = filter_table_updates(params[-1], form, state, schema, self.owner_key, self.stats)
        if self.stats.updates_removed + self.stats.rows_hidden == before:
            return raw
        return encode(message)

    def _learn_schemas(self, updates: Json) -> None:
        """Schemas from ``_Server``'s Database rows (northd 23.03 never asks get_schema for SB)."""
        rows = updates.get("Database") if isinstance(updates, dict) else None
        for uuid, change in rows.items() if isinstance(rows, dict) else ():
            if not isinstance(change, dict):
                continue
            row = next((change[k] for k in ("initial", "insert", "modify", "new") if k in change), None)
            if not isinstance(row, dict):
                continue
            if isinstance(row.get("name"), str):
                self._database_names[uuid] = row["name"]
            name = self._database_names.get(uuid)
            text = row.get("schema")
            if name and isinstance(text, str) and text:
                try:
                    self.schemas[name] = schema_from_json(json.loads(text))
                except (ValueError, ProtocolError) as exc:
                    log.warning("cannot read the schema of %s from _Server: %s", name, exc)

    def _server_message_may_matter(self, raw: bytes) -> bool:
        if self._pending or b"\\u" in raw or self._marker in raw:
            return True
        hidden = [monitor.hidden for monitor in self.monitors.values() if monitor.hidden]
        if not hidden:
            return False
        if sum(map(len, hidden)) <= FEW_HIDDEN:
            return any(uuid.encode() in raw for rows in hidden for uuid in rows)
        if b'": ' in raw or b'" :' in raw:  # not compact: find the row keys the slow way
            keys = {match.decode().lower() for match in _ROW_KEY.findall(raw)}
        else:  # compact, as OVS writes it: a row key is the 36 bytes before '":{'
            keys = {part[-36:].decode(errors="replace").lower() for part in raw.split(b'":{')}
        return any(not keys.isdisjoint(rows) for rows in hidden)

    @property
    def hidden_count(self) -> int:
        return sum(len(monitor.hidden) for monitor in self.monitors.values())
