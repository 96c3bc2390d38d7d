"""Event-to-gauge freshness: a real worker, a paced producer, a scraper of ``/metrics``.

Every event is an orders-api request keyed by its service, so all of them go
to one partition and are applied in send order: the n-th event is visible once
a scrape shows n applied events. Its freshness is the end of that scrape minus
the moment it was sent (its ``ts``). Two readings per scrape:

- ``applied``: ``slaengine_events_processed_total`` (the pipeline applied it);
- ``gauge``: ``slaengine_slo_window_events`` of api-availability over 30 d, the
  SLI gauge an operator sees, which the collector recomputes at most once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from _pipeline_events import request_event, requests_topic

from slaengine.settings import DEFAULT_CONFIG

REPO_ROOT = Path(__file__).resolve().parents[1]
APPLIED = ("slaengine_events_processed_total", {"topic": "sla.requests"})
GAUGE = ("slaengine_slo_window_events", {"slo": "api-availability", "window": "30d"})
SCRAPE_PAUSE_S = 0.1
WARMUP_EVENTS = 50


@dataclass(frozen=True)
class Scrape:
    at: float  # when the response was complete (time.time())
    applied: float
    gauge: float


@dataclass(frozen=True)
class FreshnessResult:
    rate: float  # events/s asked for
    sent: int
    seconds: float
    applied_ms: tuple[float, float, float]  # p50, p99, max
    gauge_ms: tuple[float, float, float]
    scrapes: int
    scrape_ms_p50: float
    unseen: int  # events no scrape showed before the deadline
    worst_second: tuple[float, float]  # (seconds after start, applied p99 ms) of the worst second
    worker_cpu_share: float  # the worker's CPU time / wall time while events were sent
    client_cpu_share: float  # the same for this producer-and-scraper process


def sample_matches(line: str, wanted: tuple[str, dict[str, str]]) -> bool:
    name, labels = wanted
    return line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items())


def parse_metrics(text: str) -> tuple[float, float]:
    """(applied events, gauge events) from an exposition text; label order does not matter."""
    applied = gauge = 0.0
    for line in text.splitlines():
        if sample_matches(line, APPLIED):
            applied = float(line.rsplit(" ", 1)[1])
        elif sample_matches(line, GAUGE):
            gauge = float(line.rsplit(" ", 1)[1])
    return applied, gauge


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def latencies_ms(
    send_times: list[float], scrapes: list[Scrape], first_count: int, reading: str
) -> list[float | None]:
    """Per event in send order: first scrape whose counter covers it minus its send time."""
    counts = [getattr(s, reading) for s in scrapes]  # non-decreasing within one worker
    out: list[float | None] = []
    for index, sent_at in enumerate(send_times):
        position = bisect_left(counts, first_count + index + 1)
        out.append(None if position == len(scrapes) else (scrapes[position].at - sent_at) * 1000)
    return out


def worst_second(send_times: list[float], latencies: list[float | None]) -> tuple[float, float]:
    """The second of the run whose events saw the highest p99: where a stall happened."""
    by_second: dict[int, list[float]] = {}
    for sent_at, latency in zip(send_times, latencies, strict=True):
        if latency is not None:
            by_second.setdefault(int(sent_at - send_times[0]), []).append(latency)
    worst = max(by_second.items(), key=lambda item: percentile(sorted(item[1]), 0.99))
    return float(worst[0]), percentile(sorted(worst[1]), 0.99)


def summary(latencies: list[float | None]) -> tuple[float, float, float]:
    seen = sorted(x for x in latencies if x is not None)
    return percentile(seen, 0.5), percentile(seen, 0.99), seen[-1] if seen else float("nan")


class WorkerUnderTest:
    """``slaengine worker`` (on a memory store unless told), started through the real CLI."""

    def __init__(
        self, bootstrap: str, prefix: str, port: int, log_path: Path, store: str = "memory://"
    ) -> None:
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.datadir = tempfile.mkdtemp(prefix="bench-worker-")
        self.log_path = log_path
        env = {**os.environ, "SLAENGINE_API_TOKEN": ""}
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "slaengine.cli",
                    "worker",
                    "--store",
                    store,
                    "--bootstrap",
                    bootstrap,
                    "--topic-prefix",
                    prefix,
                    "--http-port",
                    str(port),
                    "--data-dir",
                    self.datadir,
                    "--config",
                    str(DEFAULT_CONFIG),
                    "--worker-id",
                    "bench",
                    "--flush-interval",
                    "0.5",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO_ROOT,
            )

    def cpu_seconds(self) -> float:
        """User + system CPU time of the worker process so far, from /proc."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def scrape(session: aiohttp.ClientSession, url: str) -> Scrape:
    async with session.get(url) as response:
        text = await response.text()
    return Scrape(time.time(), *parse_metrics(text))


async def wait_for_applied(
    session: aiohttp.ClientSession, url: str, count: int, timeout: float, worker: WorkerUnderTest
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise RuntimeError(f"the worker exited; see {worker.log_path}")
        try:
            seen = await scrape(session, url)
            if seen.applied >= count and seen.gauge >= count:
                return
        except aiohttp.ClientError:
            pass  # not listening yet
        await asyncio.sleep(0.2)
    raise RuntimeError(
        f"the worker applied fewer than {count} events in {timeout} s; see {worker.log_path}"
    )


async def measure(
    bootstrap: str, prefix: str, worker: WorkerUnderTest, rate: float, seconds: float
) -> FreshnessResult:
    from aiokafka import AIOKafkaProducer

    topic, rng = requests_topic(prefix), random.Random(7)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, enable_idempotence=True
    )
    await producer.start()

    async def send_one() -> float:
        sent_at = time.time()
        event = request_event(rng, int(sent_at * 1000), "orders-api")
        await producer.send(
            topic, json.dumps(event, separators=(",", ":")).encode(), key=b"orders-api"
        )
        return sent_at

    async with aiohttp.ClientSession() as session:
        try:
            for _ in range(WARMUP_EVENTS):  # the worker must own the partition before we time
                await send_one()
            await producer.flush()
            await wait_for_applied(session, worker.url, WARMUP_EVENTS, 120, worker)
            send_times: list[float] = []
            scrapes: list[Scrape] = []
            scrape_ms: list[float] = []
            producing = True

            def all_visible() -> bool:
                return bool(scrapes) and scrapes[-1].gauge >= WARMUP_EVENTS + len(send_times)

            async def scraper() -> None:
                while producing or not all_visible():
                    began = time.time()
                    scrapes.append(await scrape(session, worker.url))
                    scrape_ms.append((scrapes[-1].at - began) * 1000)
                    await asyncio.sleep(SCRAPE_PAUSE_S)

            scraping = asyncio.create_task(scraper())
            started, worker_cpu, client_cpu = time.time(), worker.cpu_seconds(), time.process_time()
            while (elapsed := time.time() - started) < seconds:
                while len(send_times) < int(elapsed * rate):
                    send_times.append(await send_one())
                await asyncio.sleep(0.002)
            await producer.flush()
            wall = time.time() - started
            worker_cpu = (worker.cpu_seconds() - worker_cpu) / wall
            client_cpu = (time.process_time() - client_cpu) / wall
            producing = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(scraping, timeout=30)
        finally:
            await producer.stop()
    applied = latencies_ms(send_times, scrapes, WARMUP_EVENTS, "applied")
    gauge = latencies_ms(send_times, scrapes, WARMUP_EVENTS, "gauge")
    return FreshnessResult(
        rate,
        len(send_times),
        seconds,
        summary(applied),
        summary(gauge),
        len(scrapes),
        percentile(sorted(scrape_ms), 0.5),
        sum(1 for x in gauge if x is None),
        worst_second(send_times, applied),
        worker_cpu,
        client_cpu,
    )


def run_freshness(
    bootstrap: str,
    prefix: str,
    port: int,
    rate: float,
    seconds: float,
    log_path: Path,
    store: str = "memory://",
) -> FreshnessResult:
    worker = WorkerUnderTest(bootstrap, prefix, port, log_path, store)
    try:
        return asyncio.run(measure(bootstrap, prefix, worker, rate, seconds))
    finally:
        worker.stop()
