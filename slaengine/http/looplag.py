"""How late the event loop runs: ``slaengine_event_loop_lag_seconds``.

A task sleeps ``interval`` seconds again and again; how much later than asked it wakes up is
the time something else held the loop (a blocking call, a long computation). The gauge is the
largest lag of the last ``window`` seconds, so a scrape every 15 s still sees a short stall.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class LoopLagMonitor(Collector):
    def __init__(self, interval: float = 0.05, window: float = 30.0) -> None:
        self.interval = interval
        self.window = window
        self.samples: deque[tuple[float, float]] = deque()  # (monotonic time, lag seconds)
        self.max_seen = 0.0  # since start; for tests and benchmarks
        self._lock = threading.Lock()  # scrapes may come from other threads (rule replays)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._measure(), name="event-loop-lag"
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _measure(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval)
            now = time.perf_counter()
            lag = max(0.0, now - before - self.interval)
            with self._lock:
                self.samples.append((now, lag))
                self.max_seen = max(self.max_seen, lag)
                while self.samples and self.samples[0][0] < now - self.window:
                    self.samples.popleft()

    def recent_max(self) -> float:
        with self._lock:
            return max((lag for _, lag in self.samples), default=0.0)

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "slaengine_event_loop_lag_seconds",
            f"Largest delay of the event loop over the last {self.window:g} s (how long "
            "something held it).",
            value=self.recent_max(),
        )
