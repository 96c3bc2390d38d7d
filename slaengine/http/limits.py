"""Heavy request work (forecasts, replays, report rendering) off the event loop, bounded.

Each kind of heavy work gets its own small thread pool, so a flood of one kind can neither
block the event loop nor starve the default executor that quick handlers (silences, the
incident log) use. At most ``concurrency`` jobs of a kind are admitted and ``waiting`` more
queue; beyond that the request is answered 429 at once, and a job not done after ``timeout``
seconds is answered 503 (the thread finishes in the background and keeps its slot until then).
Across kinds, heavy jobs compute one at a time (``HEAVY_JOBS_AT_ONCE``): each holds the GIL most
of the time, and measured with all kinds hammered at once, one at a time kept the event loop's
lag at 30-75 ms where several at once let it reach 300 ms.
A worker's ``--http-work-timeout`` (``SLAENGINE_HTTP_WORK_TIMEOUT_S``) overrides every
timeout (``heavy_work``; docs/operations.md).
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")
WORK_TIMEOUT_KEY = web.AppKey("work_timeout_s", float)  # set by create_app: overrides every kind


GIL_SWITCH_INTERVAL_S = 0.001


def favour_event_loop() -> None:
    """Process settings for a responsive event loop; call once startup has built its objects
    and loaded the libraries heavy work imports lazily (a worker: after its first forecast).

    * The loop thread takes the GIL back from heavy worker threads within about a millisecond
      (CPython's default is 5 ms, and a busy host multiplies it).
    * ``gc.freeze()`` moves everything built so far (modules, config, restored state) out of
      the collector's reach: a full collection scanning all of it held the GIL, and so the
      loop, for 40-100 ms, triggered by any thread that allocates (intake, replays). Objects
      made later are collected as usual.
    """
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    gc.collect()
    gc.freeze()


HEAVY_JOBS_AT_ONCE = 1
_CPU_TOKENS = threading.BoundedSemaphore(HEAVY_JOBS_AT_ONCE)


def _with_cpu_token(function: Callable[..., T], *args: Any) -> T:
    """Heavy jobs of all kinds compute one at a time: each holds the GIL most of the time, and
    several at once keep the event loop thread from getting it back."""
    with _CPU_TOKENS:
        return function(*args)


class _Refused(web.HTTPClientError):
    def __init__(self, status: int, message: str, retry_after: int) -> None:
        self.status_code = status
        super().__init__(
            text=json.dumps({"error": message}),
            content_type="application/json",
            headers={"Retry-After": str(retry_after)},
        )


class HeavyWork:
    def __init__(
        self, name: str, *, concurrency: int = 1, waiting: int = 2, timeout: float = 60.0
    ) -> None:
        self.name = name
        self.timeout = timeout
        self.capacity = concurrency + waiting
        self.in_use = 0  # running or queued jobs, including ones whose request timed out
        self.refused = 0
        self._executor = ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix=f"slaengine-{name}"
        )

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in this work's threads; 429 when saturated, 503 on timeout."""
        if self.in_use >= self.capacity:
            self.refused += 1
            raise _Refused(
                429,
                f"{self.name} is busy ({self.in_use} requests in progress); retry later",
                retry_after=5,
            )
        self.in_use += 1
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, _with_cpu_token, function, *args)
        future.add_done_callback(self._release)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except TimeoutError:
            self.refused += 1
            raise _Refused(
                503,
                f"{self.name} took longer than {self.timeout:g} s; retry later "
                "(the result may be cached by then)",
                retry_after=int(self.timeout),
            ) from None

    def _release(self, future: asyncio.Future[Any]) -> None:
        self.in_use -= 1
        if not future.cancelled():
            future.exception()  # a timed-out job's error was answered with 503 already

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def heavy_work(
    app: web.Application,
    name: str,
    *,
    concurrency: int = 1,
    waiting: int = 2,
    timeout: float = 60.0,
) -> HeavyWork:
    """A kind of heavy work of ``app``, its timeout overridden by the app's setting if any."""
    return HeavyWork(
        name, concurrency=concurrency, waiting=waiting, timeout=app.get(WORK_TIMEOUT_KEY, timeout)
    )
