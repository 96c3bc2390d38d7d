"""The real ``slaengine worker`` process, measured from outside.

It is started exactly as users start it (``slaengine worker`` with its
defaults: RocksDB store, HTTP API, evaluator), with a fresh data dir and topic
prefix, which also makes its consumer group (``<prefix>slaengine``) fresh.
Progress is read from the group's committed offsets on the broker (the worker
commits only behind its flushed state), CPU time from ``/proc/<pid>/stat``
(all threads), RSS from ``/proc/<pid>/status``; nothing is asked of the worker
while it runs, so the measurement costs it nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slaengine.events import REQUESTS_TOPIC

REPO_ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.1
PROCESSED = "slaengine_events_processed_total"
PROFILE_START, PROFILE_STOP = signal.SIGRTMIN + 1, signal.SIGRTMIN + 2  # see _profiled_worker.py
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    at: float  # time.perf_counter()
    cpu_s: float  # the worker's CPU seconds so far
    committed: int  # messages of the input topic committed by the worker's group
    processed: int | None = None  # events the worker had applied, when read
    by_topic: dict[str, int] | None = None  # the same per topic
    main_on_cpu_s: float = 0.0  # the worker's main (event-loop) thread: time on a CPU so far
    main_runnable_wait_s: float = 0.0  # and time it was ready to run but waited for a CPU


@dataclass
class Followed:
    samples: list[Sample] = field(default_factory=list)
    complete: bool = False

    def rates(self, total_events: int) -> dict[str, float]:
        """Rates from the first sample with progress to the end (start-up left out).

        Committed offsets lag the work by up to a flush and a commit interval, so
        the start is the first poll at which the worker's /metrics counter shows
        applied events (read every poll until then, never after); the end is when
        every message is committed, which includes the last flush.
        """
        started = next((s for s in self.samples if s.processed is not None), self.samples[-1])
        last = self.samples[-1]
        events = total_events - (started.processed or 0)
        seconds, cpu = last.at - started.at, last.cpu_s - started.cpu_s
        return {
            "events_per_s": events / seconds if seconds > 0 else 0.0,
            "events_per_cpu_s": events / cpu if cpu > 0 else 0.0,
            "seconds": seconds,
            "cpu_seconds": cpu,
            "measured_events": events,
            "startup_cpu_s": started.cpu_s,
            "main_thread_idle": self.main_thread_idle(started),
        }

    def main_thread_idle(self, started: Sample) -> float:
        """The share of the time the worker had work (from ``started`` to its last poll
        interval with the event loop busy at least half of the time: the tail that only waits
        for the last flush and commit is left out) that its event loop sat idle, neither on a
        CPU nor queued for one. Near 0 means CPU-bound: it never waited on fetches."""
        window = self.samples[self.samples.index(started) :]
        busy_until = 0
        for index in range(1, len(window)):
            before, after = window[index - 1], window[index]
            demand = (
                after.main_on_cpu_s
                - before.main_on_cpu_s
                + after.main_runnable_wait_s
                - before.main_runnable_wait_s
            )
            if demand >= 0.5 * (after.at - before.at):
                busy_until = index
        if busy_until == 0:
            return float("nan")
        end = window[busy_until]
        seconds = end.at - started.at
        demand = (
            end.main_on_cpu_s
            - started.main_on_cpu_s
            + end.main_runnable_wait_s
            - started.main_runnable_wait_s
        )
        return max(0.0, 1 - demand / seconds)


class RealWorker:
    def __init__(
        self,
        bootstrap: str,
        prefix: str,
        port: int,
        data_dir: Path,
        log_path: Path,
        config: Path | None = None,
        profile: Path | None = None,
        scrape_times: Path | None = None,
        memory_dumps: Path | None = None,
    ) -> None:
        """``profile``: run under bench/_profiled_worker.py; ``scrape_times``: under
        bench/_timed_worker.py, which appends each /metrics body's CPU ms to that file;
        ``memory_dumps``: under bench/_memory_worker.py (tracemalloc), see ``dump_memory``."""
        self.bootstrap, self.prefix, self.port = bootstrap, prefix, port
        self.data_dir, self.log_path = data_dir, log_path
        self.url = f"http://127.0.0.1:{port}"
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("SLAENGINE_API_TOKEN", "SLAENGINE_API_TOKEN_FILE", "SLAENGINE_STORE")
        }
        self.profile = profile
        launcher = (
            ["-m", "slaengine.cli"]
            if profile is None
            else [str(Path(__file__).with_name("_profiled_worker.py")), str(profile)]
        )
        if scrape_times is not None:
            launcher = [str(Path(__file__).with_name("_timed_worker.py")), str(scrape_times)]
        self.memory_dumps = memory_dumps
        if memory_dumps is not None:
            memory_dumps.mkdir(parents=True, exist_ok=True)
            launcher = [str(Path(__file__).with_name("_memory_worker.py")), str(memory_dumps)]
        command = [
            sys.executable,
            *launcher,
            "worker",
            "--bootstrap",
            bootstrap,
            "--topic-prefix",
            prefix,
            "--http-port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--worker-id",
            "bench",
        ]
        if config is not None:
            command += ["--config", str(config)]
        self.started_at = time.perf_counter()
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT
            )

    @property
    def group(self) -> str:
        return f"{self.prefix}slaengine"

    @property
    def topic(self) -> str:
        return f"{self.prefix}{REQUESTS_TOPIC}"

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICK

    def main_thread_schedstat(self) -> tuple[float, float]:
        """(seconds on a CPU, seconds runnable but queued) of the main thread, which runs the
        event loop, from the scheduler's accounting (/proc/<pid>/task/<pid>/schedstat)."""
        pid = self.process.pid
        on_cpu_ns, waited_ns, _ = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()
        return int(on_cpu_ns) / 1e9, int(waited_ns) / 1e9

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def processed_by_topic(self, topics: tuple[str, ...] = (REQUESTS_TOPIC,)) -> dict[str, int]:
        """Events of each of ``topics`` applied so far, from the worker's /metrics counter."""
        counts = dict.fromkeys(topics, 0)
        for line in self.get("/metrics").decode().splitlines():
            if line.startswith(PROCESSED + "{"):
                for topic in topics:
                    if f'topic="{topic}"' in line:
                        counts[topic] = int(float(line.rsplit(" ", 1)[1]))
        return counts

    def processed_events(self, topics: tuple[str, ...] = (REQUESTS_TOPIC,)) -> int:
        return sum(self.processed_by_topic(topics).values())

    def mark(self, profiling_signal: int) -> None:
        """Start or stop the profiler of a worker started with ``profile`` (else nothing)."""
        if self.profile is not None:
            os.kill(self.process.pid, profiling_signal)

    def dump_memory(self, label: str, timeout: float = 300) -> None:
        """A worker started with ``memory_dumps``: write where its memory goes now to
        ``<memory_dumps>/<label>.txt`` (else nothing)."""
        if self.memory_dumps is None:
            return
        done = {path.name for path in self.memory_dumps.glob("dump-*.txt")}
        os.kill(self.process.pid, signal.SIGRTMIN + 3)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = [p for p in self.memory_dumps.glob("dump-*.txt") if p.name not in done]
            if new:
                time.sleep(0.5)  # written in one call; let it finish
                new[0].rename(self.memory_dumps / f"{label}.txt")
                return
            time.sleep(0.2)

    def alive(self) -> bool:
        return self.process.poll() is None

    def get(self, path: str, timeout: float = 30) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
            return response.read()

    def slos(self, at_ms: int) -> dict[str, Any]:
        at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at_ms / 1000))
        return json.loads(self.get(f"/api/v1/slos?at={at}.{at_ms % 1000:03d}Z"))

    def wait_http(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"the worker exited; see {self.log_path}")
            try:
                self.get("/health", timeout=2)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the worker's HTTP API did not answer in {timeout} s")

    def follow(
        self,
        total_messages: int,
        timeout: float,
        read_counter_every: float | None = None,
        counted_topics: tuple[str, ...] = (REQUESTS_TOPIC,),
    ) -> Followed:
        """Poll committed offsets until ``total_messages``; see ``follow_offsets``."""
        return asyncio.run(
            follow_offsets(self, total_messages, timeout, read_counter_every, counted_topics)
        )

    def stop(self, timeout: float = 60) -> float:
        """SIGTERM (the worker flushes and commits), then wait; seconds it took to exit."""
        started = time.perf_counter()
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return time.perf_counter() - started


async def committed_messages(admin: Any, group: str, topic: str) -> int:
    offsets = await admin.list_consumer_group_offsets(group)
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0)


def restamp_window_start(worker: Any, sample: Sample) -> None:
    """The window starts where its counter was read: at the end of the /metrics request.

    A scrape passes the worker's read barrier (it flushes and waits up to a second for the
    global view while the worker is busy); stamped before the request, the events applied
    meanwhile were left out of the window while their time and CPU stayed in it.
    """
    sample.at, sample.cpu_s = time.perf_counter(), worker.cpu_seconds()
    sample.main_on_cpu_s, sample.main_runnable_wait_s = worker.main_thread_schedstat()


async def follow_offsets(
    worker: RealWorker,
    total: int,
    timeout: float,
    read_counter_every: float | None = None,
    counted_topics: tuple[str, ...] = (REQUESTS_TOPIC,),
) -> Followed:
    """Committed offsets of sla.requests and CPU every POLL_S until ``total`` messages; the
    applied-events counter of ``counted_topics`` until the first event, then every
    ``read_counter_every`` seconds if given (a scrape of /metrics: it costs the worker
    CPU, as Prometheus's scrapes do)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=worker.bootstrap)
    await admin.start()
    followed = Followed()
    deadline = time.monotonic() + timeout
    last_read: Sample | None = None
    try:
        while time.monotonic() < deadline and worker.alive():
            committed = await committed_messages(admin, worker.group, worker.topic)
            sample = Sample(time.perf_counter(), worker.cpu_seconds(), committed)
            sample.main_on_cpu_s, sample.main_runnable_wait_s = worker.main_thread_schedstat()
            if last_read is None or (
                read_counter_every is not None
                and (sample.at - last_read.at >= read_counter_every or committed >= total)
            ):
                try:
                    sample.by_topic = worker.processed_by_topic(counted_topics)
                    sample.processed = sum(sample.by_topic.values()) or None
                except OSError:
                    pass  # its HTTP API is not up yet
                if sample.processed is not None:
                    if last_read is None:
                        restamp_window_start(worker, sample)
                        worker.mark(PROFILE_START)
                    last_read = sample
            followed.samples.append(sample)
            if committed >= total:
                followed.complete = True
                worker.mark(PROFILE_STOP)
                break
            await asyncio.sleep(POLL_S)
    finally:
        await admin.close()
    if not followed.samples:
        raise RuntimeError(f"the worker exited before any progress; see {worker.log_path}")
    return followed


async def topic_end_offsets(bootstrap: str, topic: str) -> int:
    """Messages in ``topic`` (the sum of its partitions' end offsets)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(ends.values())
    finally:
        await consumer.stop()
