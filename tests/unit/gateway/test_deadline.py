"""deadline.within: no timer for a call that does not wait; the deadline, errors and cancellation
for one that does, as under ``asyncio.timeout``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ovn_inject.gateway import deadline


def _run(main: Any, uvloop: bool) -> Any:
    if uvloop:
        import uvloop as uv

        return uv.run(main())
    return asyncio.run(main())


LOOPS = pytest.mark.parametrize("uvloop", [False, True], ids=["asyncio", "uvloop"])


@LOOPS
def test_a_call_that_does_not_wait_arms_no_timer(uvloop: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    armed: list[float] = []
    original = asyncio.timeout

    def counted(delay: float) -> Any:
        armed.append(delay)
        return original(delay)

    monkeypatch.setattr(asyncio, "timeout", counted)

    async def ready() -> str:  # never suspends, as uvicorn's receive with the body in hand
        return "message"

    async def main() -> str:
        return await deadline.within(ready, 30)

    assert _run(main, uvloop) == "message"
    assert armed == []


@LOOPS
def test_a_call_that_waits_gets_its_value(uvloop: bool) -> None:
    async def main() -> tuple[str, int]:
        event = asyncio.Event()
        state = {"steps": 0}

        async def waits() -> str:
            await event.wait()
            state["steps"] += 1
            await asyncio.sleep(0)
            return "late message"

        asyncio.get_running_loop().call_soon(event.set)
        return await deadline.within(waits, 30), state["steps"]

    assert _run(main, uvloop) == ("late message", 1)


@LOOPS
def test_a_call_that_waits_too_long_times_out_and_is_cleaned_up(uvloop: bool) -> None:
    cleaned: list[str] = []

    async def main() -> None:
        async def never() -> None:
            try:
                await asyncio.Event().wait()
            finally:
                cleaned.append("finally")

        await deadline.within(never, 0.01)

    with pytest.raises(TimeoutError):
        _run(main, uvloop)
    assert cleaned == ["finally"]


@LOOPS
def test_errors_come_through_before_and_after_a_wait(uvloop: bool) -> None:
    async def at_once() -> None:
        raise ValueError("at once")

    async def after_a_wait() -> None:
        await asyncio.sleep(0)
        raise KeyError("after a wait")

    async def main() -> None:
        with pytest.raises(ValueError, match="at once"):
            await deadline.within(at_once, 30)
        with pytest.raises(KeyError, match="after a wait"):
            await deadline.within(after_a_wait, 30)

    _run(main, uvloop)


@LOOPS
def test_cancelling_the_caller_cancels_the_call(uvloop: bool) -> None:
    seen: list[str] = []

    async def main() -> None:
        started = asyncio.Event()

        async def waits() -> None:
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        task = asyncio.get_running_loop().create_task(deadline.within(waits, 30))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()

    _run(main, uvloop)
    assert seen == ["cancelled"]


def test_a_plain_awaitable_is_awaited_under_the_deadline() -> None:
    async def main() -> int:
        future = asyncio.get_running_loop().create_future()
        future.set_result(7)
        return await deadline.within(lambda: future, 30)

    assert asyncio.run(main()) == 7
