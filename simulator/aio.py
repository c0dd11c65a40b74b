"""Run a coroutine on the fastest event loop available: uvloop when installed, else asyncio's own.

uvloop (libuv, used by uvicorn and vLLM) roughly doubles aiohttp's request rate on one core, which
the simulator needs to hold hundreds of streams and the load generator to send >1,000 requests/s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory when uvloop is installed, else None (asyncio's default loop)."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(coro: Coroutine[Any, Any, T], *, fast: bool = True) -> T:
    """Run coro to completion on a new event loop (uvloop's if `fast` and installed)."""
    with asyncio.Runner(loop_factory=loop_factory() if fast else None) as runner:
        return runner.run(coro)
