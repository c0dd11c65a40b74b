"""Clocks the engine can run on: the event loop's, or a manual one for tests and virtual replay."""

from __future__ import annotations

import asyncio
from typing import Protocol


class Clock(Protocol):
    """Where the engine gets the time, in seconds, and how it waits."""

    def now(self) -> float: ...

    async def sleep_until(self, deadline_s: float) -> None: ...


class LoopClock:
    """The event loop's monotonic clock."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep_until(self, deadline_s: float) -> None:
        delay_s = deadline_s - self.now()
        if delay_s > 0:
            await asyncio.sleep(delay_s)


class ManualClock:
    """A clock that only moves when told to (tests, virtual replay)."""

    def __init__(self, start_s: float = 0.0) -> None:
        self.now_s = start_s

    def now(self) -> float:
        return self.now_s

    async def sleep_until(self, deadline_s: float) -> None:
        self.now_s = max(self.now_s, deadline_s)
        await asyncio.sleep(0)
