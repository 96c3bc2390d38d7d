"""One benchmark consumer in its own process, Faust app and consumer group.

    python bench/_pipeline_consumer.py KIND --prefix P --count N --result FILE [--profile FILE]

KIND is ``bare`` (a Faust agent that only iterates), ``naive`` (one table write
per event) or ``pipeline`` (slaengine's agents built by ``streams.app.build_app``).
All three use the Faust settings of ``build_app`` that matter for throughput.
A watcher task polls the event counter every few milliseconds; the rate is
(events seen at the last poll - at the first poll) / (time between them), so
consumer start-up and group joins are left out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust

from slaengine.config import load_sla_config
from slaengine.settings import DEFAULT_CONFIG, Settings
from streams.app import build_app

POLL_S = 0.005
IDLE_TIMEOUT_S = 120.0  # give up when nothing arrives for this long


def faust_options(datadir: str) -> dict[str, Any]:
    """What build_app passes to faust.App, minus the table/changelog settings it alone needs."""
    return {
        "store": "memory://",
        "datadir": datadir,
        "web_enabled": False,
        "topic_partitions": 4,
        "topic_replication_factor": 1,
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,
        "broker_commit_interval": 1.0,
        "stream_buffer_maxsize": 65536,
        "stream_wait_empty": False,
        "topic_disable_leader": True,
        "table_standby_replicas": 0,
    }


@dataclass(frozen=True)
class BenchSettings(Settings):
    """Settings whose consumer group is fresh per run, so one topic can be read by many runs."""

    group: str = "bench"

    @property
    def app_id(self) -> str:
        return self.group


class Counter:
    events = 0


def build_bare(
    prefix: str, group: str, bootstrap: str, datadir: str
) -> tuple[faust.App, Callable[[], int]]:
    app = faust.App(group, broker=f"kafka://{bootstrap}", **faust_options(datadir))
    topic = app.topic(f"{prefix}sla.requests", key_serializer="raw", value_serializer="raw")
    counter = Counter()

    @app.agent(topic, name="bench.bare")
    async def bare(stream: Any) -> None:
        async for _ in stream:
            counter.events += 1

    return app, lambda: counter.events


def build_naive(
    prefix: str, group: str, bootstrap: str, datadir: str
) -> tuple[faust.App, Callable[[], int]]:
    app = faust.App(group, broker=f"kafka://{bootstrap}", **faust_options(datadir))
    topic = app.topic(f"{prefix}sla.requests", key_serializer="raw", value_serializer="raw")
    table = app.Table("naive-counts", default=int, key_type=str, value_type=int)
    counter = Counter()

    @app.agent(topic, name="bench.naive")
    async def naive(stream: Any) -> None:
        async for event in stream.events():
            table[event.key.decode()] += 1  # the changelog write per event is what we measure
            counter.events += 1

    return app, lambda: counter.events


def build_pipeline(
    prefix: str, group: str, bootstrap: str, datadir: str
) -> tuple[faust.App, Callable[[], int]]:
    settings = BenchSettings(
        group=group,
        kafka_bootstrap=bootstrap,
        store="memory://",
        topic_prefix=prefix,
        data_dir=Path(datadir),
        worker_id="bench",
        flush_interval_s=0.5,
    )
    (settings.data_dir / "faust" / settings.worker_id).mkdir(parents=True, exist_ok=True)
    app, runtime = build_app(settings, load_sla_config(DEFAULT_CONFIG))
    return app, lambda: runtime.engine.applied_events


BUILDERS = {"bare": build_bare, "naive": build_naive, "pipeline": build_pipeline}


def attach_watcher(
    app: faust.App, count_of: Callable[[], int], target: int, result_path: Path
) -> None:
    @app.task
    async def watch() -> None:
        started = time.monotonic()
        while (first := count_of()) == 0:
            if time.monotonic() - started > IDLE_TIMEOUT_S:
                break
            await asyncio.sleep(POLL_S)
        t_first, cpu_first = time.perf_counter(), time.process_time()
        last = first
        while last < target and time.perf_counter() - t_first < IDLE_TIMEOUT_S:
            await asyncio.sleep(POLL_S)
            last = count_of()
        seconds = time.perf_counter() - t_first
        cpu_seconds = time.process_time() - cpu_first  # all threads: robust to a busy machine
        result = {
            "events": last,
            "measured_events": last - first,
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "events_per_s": (last - first) / seconds if seconds > 0 else 0.0,
            "events_per_cpu_s": (last - first) / cpu_seconds if cpu_seconds > 0 else 0.0,
            "load_1m": os.getloadavg()[0],
            "complete": last >= target,
            "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
        await asyncio.sleep(1.2)  # let the pipeline's flush reach the changelog before stopping
        await app.producer.flush()
        result_path.write_text(json.dumps(result))
        os.kill(os.getpid(), signal.SIGTERM)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=sorted(BUILDERS))
    parser.add_argument("--prefix", required=True, help="topic prefix of the input topics")
    parser.add_argument("--group", required=True, help="a fresh consumer group (Faust app id)")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--count", type=int, required=True, help="stop after this many events")
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the worker here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-faust-") as datadir:
        app, count_of = BUILDERS[args.kind](args.prefix, args.group, args.bootstrap, datadir)
        attach_watcher(app, count_of, args.count, args.result)
        worker = faust.Worker(app, loglevel="WARNING", quiet=True, override_logging=True)
        if args.profile is None:
            worker.execute_from_commandline()
            return
        import cProfile

        profiler = cProfile.Profile()
        with contextlib.suppress(SystemExit):
            profiler.runcall(worker.execute_from_commandline)
        profiler.dump_stats(args.profile)


if __name__ == "__main__":
    main()
