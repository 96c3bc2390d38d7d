"""One peer contender in its own process and consumer group: raw aiokafka, Quix Streams, bare Faust.

    python bench/_peer_consumer.py KIND --topic T --group G --messages N --result FILE

KIND is ``aiokafka`` (consume + the aggregation of ``_aggregate`` in a loop: the
ceiling), ``quix`` (Quix Streams 3.x: 1-minute tumbling windows per service
whose reducer keeps the count, the good count and DDSketch bins, in its
RocksDB state with changelog topics), ``faust-bare`` (a Faust agent that only
iterates) or ``faust-agg`` (a Faust agent doing the aggregation in memory).
The rate counts from the first message handled to the last, in this process:
events / wall seconds and events / CPU seconds (all threads), so start-up and
group joins are left out. The result JSON holds the summary to be checked.
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
from datetime import timedelta
from pathlib import Path
from typing import Any

from _aggregate import Aggregate, is_good_status, ts_ms
from ddsketch.mapping import LogarithmicMapping

from slaengine.sli.sketch import RELATIVE_ACCURACY, LatencySketch

IDLE_TIMEOUT_S = 120.0


class Progress:
    """Messages handled, and the clocks at the first one."""

    def __init__(self) -> None:
        self.messages = 0
        self.events = 0
        self.first: tuple[float, float, int] | None = None  # wall, cpu, events before it

    def start_if_first(self) -> None:
        if self.first is None:
            self.first = (time.perf_counter(), time.process_time(), self.events)

    def result(self, summary: dict[str, Any] | None, target: int) -> dict[str, Any]:
        wall, cpu, events_before = self.first or (time.perf_counter(), time.process_time(), 0)
        seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
        measured = self.events - events_before
        return {
            "messages": self.messages,
            "events": self.events,
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "events_per_s": measured / seconds if seconds > 0 else 0.0,
            "events_per_cpu_s": measured / cpu_seconds if cpu_seconds > 0 else 0.0,
            "complete": self.messages >= target,
            "load_1m": os.getloadavg()[0],
            "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "summary": summary,
        }


async def run_aiokafka(args: argparse.Namespace) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        auto_offset_reset="earliest",
        enable_auto_commit=True,
    )
    await consumer.start()
    aggregate, progress = Aggregate(), Progress()
    idle_since = time.monotonic()
    try:
        while progress.messages < args.messages:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            if not batches:
                if time.monotonic() - idle_since > IDLE_TIMEOUT_S:
                    break
                continue
            idle_since = time.monotonic()
            progress.start_if_first()
            for records in batches.values():
                for record in records:
                    aggregate.add_message(record.value)
                progress.messages += len(records)
            progress.events = aggregate.events
        return progress.result(aggregate.summary(), args.messages)
    finally:
        await consumer.stop()


def run_quix(args: argparse.Namespace, state_dir: str) -> dict[str, Any]:
    from quixstreams import Application

    mapping = LogarithmicMapping(RELATIVE_ACCURACY)
    min_value = mapping.min_possible

    def event_time(value: Any, headers: Any, timestamp: int, timestamp_type: Any) -> int:
        return ts_ms(value["ts"])

    def initializer(event: dict[str, Any]) -> dict[str, Any]:
        return reducer({"n": 0, "g": 0, "z": 0, "b": {}}, event)

    def reducer(window: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        window["n"] += 1
        window["g"] += is_good_status(event["status"])
        latency = float(event["latency_ms"])
        if latency < min_value:
            window["z"] += 1
        else:
            key = str(mapping.key(latency))  # state is JSON: string keys
            window["b"][key] = window["b"].get(key, 0) + 1
        return window

    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=state_dir,
        loglevel="WARNING",
    )
    topic = app.topic(
        args.topic,
        key_deserializer="str",
        value_deserializer="json",
        timestamp_extractor=event_time,
    )
    latest: dict[tuple[str, int], dict[str, Any]] = {}  # (service, window start) -> last value
    progress = Progress()

    def collect(value: dict[str, Any], key: Any, timestamp: int, headers: Any) -> None:
        progress.start_if_first()
        latest[(key, value["start"])] = value["value"]
        progress.messages += 1
        progress.events += 1
        if progress.messages >= args.messages:
            app.stop()

    sdf = app.dataframe(topic)
    sdf = sdf.tumbling_window(timedelta(minutes=1)).reduce(reducer, initializer).current()
    sdf.update(collect, metadata=True)
    app.run()
    return progress.result(summary_of_windows(latest), args.messages)


def summary_of_windows(latest: dict[tuple[str, int], dict[str, Any]]) -> dict[str, Any]:
    aggregate = Aggregate()
    for (service, start), window in latest.items():
        aggregate.events += window["n"]
        aggregate.minutes.setdefault(service, {})[start // 60_000] = [window["n"], window["g"]]
        sketch = aggregate.sketches.setdefault(service, LatencySketch())
        sketch.merge(LatencySketch({int(k): v for k, v in window["b"].items()}, window["z"]))
    return aggregate.summary()


def run_faust(args: argparse.Namespace, datadir: str, aggregating: bool) -> dict[str, Any]:
    import faust
    from _pipeline_consumer import faust_options

    app = faust.App(args.group, broker=f"kafka://{args.bootstrap}", **faust_options(datadir))
    topic = app.topic(args.topic, key_serializer="raw", value_serializer="raw")
    aggregate, progress = Aggregate(), Progress()
    outcome: dict[str, Any] = {}

    @app.agent(topic, name="bench.peer")
    async def agent(stream: Any) -> None:
        async for value in stream:
            progress.start_if_first()
            if aggregating:
                aggregate.add_message(value)
                progress.events = aggregate.events
            else:
                progress.events += 1
            progress.messages += 1

    @app.task
    async def watch() -> None:
        started = time.monotonic()
        while progress.messages < args.messages and time.monotonic() - started < 600:
            await asyncio.sleep(0.005)
        summary = aggregate.summary() if aggregating else None
        outcome.update(progress.result(summary, args.messages))
        args.result.write_text(json.dumps(outcome))
        os.kill(os.getpid(), signal.SIGTERM)

    worker = faust.Worker(app, loglevel="WARNING", quiet=True, override_logging=True)
    with contextlib.suppress(SystemExit):
        worker.execute_from_commandline()
    return outcome


def main() -> None:
    runners: dict[str, Callable[[argparse.Namespace, str], dict[str, Any]]] = {
        "aiokafka": lambda args, _: asyncio.run(run_aiokafka(args)),
        "quix": run_quix,
        "faust-bare": lambda args, tmp: run_faust(args, tmp, aggregating=False),
        "faust-agg": lambda args, tmp: run_faust(args, tmp, aggregating=True),
    }
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=sorted(runners))
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True, help="a fresh consumer group")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--messages", type=int, required=True, help="stop after this many")
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp:
        result = runners[args.kind](args, tmp)
    if result:
        args.result.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
