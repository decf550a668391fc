"""GatheringTransport: what one event-loop step writes leaves as one write, in order, never lost."""

from __future__ import annotations

import asyncio
from typing import Any

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
