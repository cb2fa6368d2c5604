"""Password hashing off the event loop: a bounded thread pool with a cheap admission check.

argon2 costs about 0.1 s of CPU per hash or verification. On the event loop that stalls every
request of the process (the webhook included) for as long; 120 concurrent sign-ins held the
webhook's round trip at 9 s. Here it runs in ``[console] password_workers`` threads
(argon2-cffi releases the GIL while hashing), and at most ``password_queue`` more requests
may wait for a thread. ``admit()`` is a plain counter checked and taken without awaiting,
so a request beyond that is refused at once, without any hash; the sign-in page checks
``full`` before anything else and answers with fixed bytes (``busy_response``, no template
rendered): "登录请求过多，请稍后再试".

A thread off the loop is not enough on a small machine: argon2 keeps whole cores busy
(argon2-cffi's defaults use 4 lanes, in threads of their own), and the event loop's thread
then waits for a core like any other. So the workers lower their own scheduling priority
(``nice`` ``WORKER_NICENESS``, on Linux per thread, inherited by argon2's lane threads): the
loop, and with it the webhook, runs first and sign-ins take what is left.

The pool protects the process's latency, not the accounts: guessing is the throttle's
(``throttle.py``). It does not decide what a strong password is (``password_policy.py``).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from aiohttp import web

T = TypeVar("T")

BUSY_MESSAGE = "登录请求过多，请稍后再试。"
# The answer to a sign-in refused because the pool is full: fixed bytes, no template rendered,
# since a flood is exactly when the event loop has no time to spare.
BUSY_PAGE = (
    '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
    "<title>登录请求过多 · 老客</title></head><body><main><h1>老客 · 员工登录</h1>"
    f'<p role="alert">{BUSY_MESSAGE}</p><p><a href="/admin/login">返回登录</a></p>'
    "</main></body></html>"
).encode()
RETRY_AFTER_S = 5
WORKER_NICENESS = 10


def _lower_priority() -> None:
    """In each worker thread: yield the CPU to the event loop (Linux: per thread)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not allowed: hashing still works
        pass


class PoolBusy(Exception):
    """Every worker is busy and the queue is full: refuse without hashing."""


class PasswordPool:
    """argon2 work in `workers` threads, with at most `queue` more requests waiting."""

    def __init__(self, workers: int, queue: int) -> None:
        self.limit = workers + queue
        self.in_flight = 0
        self.refused = 0  # requests turned away since start (for the benchmark and tests)
        self._executor = ThreadPoolExecutor(
            workers, thread_name_prefix="argon2", initializer=_lower_priority
        )

    @property
    def full(self) -> bool:
        """No place left: a new request would be refused (checked before reading anything)."""
        return self.in_flight >= self.limit

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold a place for one request's password work; ``PoolBusy`` when none is free.

        Synchronous on purpose: check and take happen with no await between them, so
        concurrent requests on the loop cannot all pass the check."""
        if self.full:
            self.refused += 1
            raise PoolBusy()
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """`work(*args)` in a worker thread (call inside ``admit()``)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


PASSWORD_POOL = web.AppKey("console_password_pool", PasswordPool)


def busy_response(pool: PasswordPool) -> web.Response:
    """The refusal of a request that found the pool full (counted as refused)."""
    pool.refused += 1
    return web.Response(
        body=BUSY_PAGE, status=429, content_type="text/html", charset="utf-8",
        headers={"Retry-After": str(RETRY_AFTER_S), "Cache-Control": "no-store"},
    )  # fmt: skip


def pool_ctx(workers: int, queue: int):
    """A cleanup_ctx that opens the app's pool and shuts its threads down with the app."""

    async def ctx(app: web.Application):
        app[PASSWORD_POOL] = pool = PasswordPool(workers, queue)
        yield
        pool.close()

    return ctx
