"""GatheringTransport: what one event-loop step writes leaves as one write, in order, never lost."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from ovn_inject.gateway import limits
from ovn_inject.gateway.coalesce import GatheringTransport


class _Recorder:
    """The transport under the proxy: records each write, as a socket would see each send()."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.events.append("write")

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def write_eof(self) -> None:
        self.events.append("eof")

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


def _run(steps: Any) -> _Recorder:
    async def main() -> _Recorder:
        recorder = _Recorder()
        proxy = GatheringTransport(recorder, asyncio.get_running_loop())  # type: ignore[arg-type]
        for step in steps:
            step(proxy)
            await asyncio.sleep(0)  # the end of the loop's step: what was gathered is written
            await asyncio.sleep(0)
        return recorder

    return asyncio.run(main())


def test_head_and_body_of_one_step_leave_in_one_write() -> None:
    def answer(t: GatheringTransport) -> None:
        t.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n")
        t.write(b"{}")

    recorder = _run([answer])
    assert recorder.writes == [b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}"]


def test_writes_of_separate_steps_stay_separate_and_in_order() -> None:
    recorder = _run([lambda t: t.write(b"a"), lambda t: t.writelines([b"b", bytearray(b"c")])])
    assert recorder.writes == [b"a", b"bc"]


def test_close_writes_what_was_gathered_first() -> None:
    def answer_and_close(t: GatheringTransport) -> None:
        t.write(b"last answer")
        t.close()

    recorder = _run([answer_and_close])
    assert recorder.events == ["write", "close"]
    assert recorder.writes == [b"last answer"]


def test_write_eof_writes_what_was_gathered_first() -> None:
    def answer_and_end(t: GatheringTransport) -> None:
        t.write(b"x")
        t.write_eof()

    assert _run([answer_and_end]).events == ["write", "eof"]


def test_nothing_is_written_to_a_transport_closed_meanwhile() -> None:
    def closed_under_us(t: GatheringTransport) -> None:
        t.write(b"x")
        t._transport.closing = True  # type: ignore[attr-defined]  # the peer went away in this step

    assert _run([closed_under_us]).writes == []


def test_empty_writes_schedule_nothing_and_the_rest_is_the_transports() -> None:
    def probe(t: GatheringTransport) -> None:
        t.write(b"")
        assert t.get_write_buffer_size() == 0
        t.write(b"abc")
        assert t.get_write_buffer_size() == 3  # gathered bytes count as buffered (flow control)
        assert t.get_extra_info("peername") == ("127.0.0.1", 1)

    assert _run([probe]).writes == [b"abc"]


@pytest.mark.parametrize("parser", ["httptools", "h11"])
def test_an_answer_leaves_as_its_response_completes_not_at_the_end_of_the_step(
    parser: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers completed in one loop step (a group commit answers many) each leave at once: the
    first client does not wait for the last answer to be built."""
    monkeypatch.setattr(limits, "HTTP_PARSER", parser)
    seen_after_send: list[list[bytes]] = []

    async def main() -> _Recorder:
        recorder = _Recorder()
        written_at_completion = recorder.writes

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"ok"})
            seen_after_send.append(list(written_at_completion))  # still in the step that answered

        # No log_config or log_level: uvicorn would configure the process's logging for good.
        config = Config(app=app, http=parser, lifespan="off", log_config=None, log_level=None)
        protocol = limits.guarded_protocol(5.0)(
            config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop()
        )
        protocol.connection_made(recorder)
        protocol.data_received(b"GET / HTTP/1.1\r\nHost: gateway\r\n\r\n")
        while not seen_after_send:
            await asyncio.sleep(0)
        protocol.connection_lost(None)
        return recorder

    recorder = asyncio.run(main())
    assert len(seen_after_send[0]) == 1 and seen_after_send[0][0].endswith(b"\r\n\r\nok")
    assert recorder.writes == seen_after_send[0]  # one write: head and body together
