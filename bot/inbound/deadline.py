"""The reply deadline: a handler's result by WeChat's budget, or the news that it is late.

WeChat waits about five seconds for an answer; past the configured budget the webhook
answers `success` and the reply goes out later by the customer-service API. The handler is
never cancelled for it: ``within`` waits on a future woken by ``call_at`` at the deadline or
by the task finishing, whichever comes first. What to do with a late reply is the handling's
decision (``bot/inbound/handling.py``), not this module's.
"""

from __future__ import annotations

import asyncio
from typing import Any


async def within(task: asyncio.Task, deadline: float, loop: asyncio.AbstractEventLoop) -> Any:
    """``wait_for(shield(task), deadline - now)`` without its two extra futures (it runs for
    every message): the task's result by `deadline` (loop time), else TimeoutError. The task
    is never cancelled here, not even when the caller is."""
    if not task.done():
        if deadline <= loop.time():
            raise TimeoutError
        waiter = loop.create_future()

        def wake(_: Any = None) -> None:
            if not waiter.done():
                waiter.set_result(None)

        timer = loop.call_at(deadline, wake)
        task.add_done_callback(wake)
        try:
            await waiter
        finally:
            timer.cancel()
            task.remove_done_callback(wake)
        if not task.done():
            raise TimeoutError
    return task.result()
