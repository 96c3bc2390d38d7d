"""A worker's features start in order and stop in reverse, and stopping them ends every task they
started (the global view, the evaluation loop, the capacity refresh, the report scheduler, the
routers, the HTTP server): nothing is left for the event loop's shutdown to destroy."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from slaengine.config import load_sla_config
from slaengine.settings import DEFAULT_CONFIG, Settings
from streams.features import BackgroundLoop
from streams.runner import Worker, create_worker_topics

from .conftest import WorkerProcess, free_port

pytestmark = pytest.mark.slow  # a worker's features on the broker: not in scripts/test --quick


async def settled(before: set[asyncio.Task], timeout: float = 5.0) -> set[str]:
    """Names of the tasks started since ``before`` that are still running after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        left = {t for t in asyncio.all_tasks() - before if not t.done()}
        if not left or time.monotonic() > deadline:
            return {t.get_name() for t in left}
        await asyncio.sleep(0.05)


async def test_stopping_a_worker_ends_every_task_its_features_started(
    kafka_bootstrap: str,
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        data_dir=tmp_path,
        store="memory://",
        http_port=free_port(),
        partitions=2,
    )
    await create_worker_topics(settings)
    before = asyncio.all_tasks()
    worker = Worker(settings, load_sla_config(DEFAULT_CONFIG))
    assert [f.name for f in worker.features] == [
        "http",
        "sli",
        "router",
        "evaluator",
        "forecasting",
        "reports",
    ]
    await worker.start()
    try:
        running = {t.get_name() for t in asyncio.all_tasks() - before}
        assert {
            "global-view",
            "alert-evaluation",
            "capacity-refresh",
            "report-scheduler",
            "alert-routers",
            "silences",
            "event-loop-lag",
        } <= running
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{settings.http_port}/health") as response,
        ):
            assert response.status == 200
    finally:
        started = time.monotonic()
        await worker.stop()
    assert time.monotonic() - started < 5  # each loop ends on its stop signal, none is cancelled
    assert await settled(before) == set()
    with pytest.raises(aiohttp.ClientConnectionError):  # the HTTP server is closed too
        async with aiohttp.ClientSession() as session:
            await session.get(f"http://127.0.0.1:{settings.http_port}/health")


async def test_a_loop_that_ignores_its_stop_signal_is_cancelled_after_the_grace_time() -> None:
    async def stubborn(stop: asyncio.Event) -> None:
        await asyncio.sleep(3600)

    loop = BackgroundLoop("stubborn", stubborn, grace_s=0.2)
    await loop.start()
    task = loop.task
    assert task is not None
    started = time.monotonic()
    await loop.stop()
    assert task.cancelled() and time.monotonic() - started < 2
    assert loop.task is None
    await loop.stop()  # stopping twice is harmless


def test_sigterm_stops_every_feature_before_faust_stops(
    kafka_bootstrap: str,
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path, store="memory://").start()
    worker.stop()  # SIGTERM
    assert worker.process is not None and worker.process.returncode == 0
    log = worker.log_text()
    stopped = [
        line.split("streams.runner: ")[1].split(" stopped in")[0]
        for line in log.splitlines()
        if " stopped in " in line and "streams.runner" in line
    ]
    assert stopped == ["reports", "forecasting", "evaluator", "router", "sli", "http"], log[-3000:]
    # the features stop while Faust still runs: before it flushes its producer for the last time
    assert log.index("http stopped in") < log.index("Flush producer buffer")
    assert "Traceback" not in log and "was destroyed but it is pending" not in log
