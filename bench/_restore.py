"""Restart at the scale of the retention (issue 14: 50 SLOs, 13 months) without replaying it.

Replaying 13 months (~9 M events) through a worker takes hours on the bench machine; what a
restart restores is the stage-1 changelogs. This mode writes them directly: one generated
month is applied to a stage-1 engine (``--partitions`` sources per topic, round robin), and
its records are written to the changelog topics as a worker's flushes would leave them after
``months``: the generated month as the worker wrote it, and before it ``months - 1`` copies
of it shifted back by 30 days each, in the form the stage-1 maintenance leaves hours that old
(compacted: no minute counts nor minute sketches, but for hours holding a local midnight).
Then a worker starts on an empty data dir (state from the changelogs) and again on the data
dir it left (RocksDB kept): each restore is timed until ``/api/v1/slos`` answers what a view
fed the same records answers, RSS taken then.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _history import DEMO_SLOS, config_with_slos, row_counts, wait_same_answer
from _real_worker import REPO_ROOT, RealWorker

from slaengine.batch import iter_lines, kind_of_event
from slaengine.config import SlaConfig, load_sla_config
from slaengine.events import SOURCE_NAMES, decode_read, read_message
from slaengine.ingest import apply_decoded
from slaengine.settings import DEFAULT_CONFIG
from slaengine.sli.buckets import HourBucket
from slaengine.sli.engine import SliEngine
from slaengine.sli.results import evaluate_all
from streams.global_view import GlobalView, changelog_topics

SHIFT_HOURS = 30 * 24
SHIFT_MS = SHIFT_HOURS * 3_600_000


@dataclass
class RestoreResult:
    months: int
    slos: int
    records: int
    changelog_mb: float
    write_s: float
    restore_from_changelog_s: float
    rss_after_changelog_restore_mb: float
    restore_kept_state_s: float
    rss_after_kept_restore_mb: float
    slos_answer_s: float  # one /api/v1/slos (every SLO, every window, 13 past months)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def month_engine(config: SlaConfig, events_file: Path, partitions: int) -> SliEngine:
    now_ms = int(time.time() * 1000) + 10**12
    engine = SliEngine(config)
    for number, raw in iter_lines(events_file):
        message = read_message(raw)
        kind = kind_of_event(message.document)
        source = f"{SOURCE_NAMES[kind]}:{number % partitions}"
        apply_decoded(engine, decode_read(kind, message, now_ms), source, number)
    engine.maintain()
    return engine


def encoded(key: str, value: Any) -> tuple[bytes, bytes | None]:
    """A stage-1 table record as Faust writes it (json codec)."""
    return json.dumps(key).encode(), (
        None if value is None else json.dumps(value, separators=(",", ":")).encode()
    )


def older_copy(engine: SliEngine, months_back: int) -> Iterator[tuple[str, str, Any]]:
    """The generated month's buckets ``months_back`` x 30 days earlier, as maintenance leaves
    hours that old."""
    for (name, source), hours in engine.series.items():
        spec = engine.slos[name]
        for hour, bucket in hours.items():
            shifted = hour - months_back * SHIFT_HOURS
            copy = HourBucket.from_state(json.loads(json.dumps(bucket.to_state())))
            copy.hour = shifted
            if not engine._contains_local_midnight(shifted):
                copy.compact(spec.slice_ratio if spec.sli == "uptime" else None)
            yield f"b|{name}|{source}|{shifted}", source, copy.to_state()


def changelog_records(
    engine: SliEngine, months: int
) -> Iterator[tuple[str, int, bytes, bytes | None]]:
    """(table short name, partition, key, value) in the order the flushes wrote them."""
    for back in range(months - 1, 0, -1):
        for key, source, value in older_copy(engine, back):
            short, partition = source.split(":")
            yield (short, int(partition), *encoded(key, value))
    for key, source, value in engine.take_changes():
        if key.startswith("f|"):  # the first request: the oldest month's
            value = int(value) - (months - 1) * SHIFT_MS
        short, partition = source.split(":")
        yield (short, int(partition), *encoded(key, value))


async def write_changelogs(
    bootstrap: str, app_id: str, partitions: int, records: Iterator[tuple[str, int, bytes, Any]]
) -> tuple[int, int]:
    from aiokafka import AIOKafkaProducer

    from streams.shared_state import ensure_compacted_topics

    shorts = SOURCE_NAMES.values()
    topics = dict(zip(shorts, changelog_topics(app_id, shorts), strict=True))
    await ensure_compacted_topics(bootstrap, topics.values(), partitions)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=50, max_batch_size=1 << 20, max_request_size=8 << 20
    )
    await producer.start()
    count = size = 0
    try:
        pending = []
        for short, partition, key, value in records:
            pending.append(await producer.send(topics[short], value, key=key, partition=partition))
            count, size = count + 1, size + len(key) + len(value or b"")
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return count, size


async def create_input_topics(bootstrap: str, prefix: str, partitions: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(f"{prefix}{topic}", partitions, 1) for topic in SOURCE_NAMES]
        )
    finally:
        await admin.close()


def run_restore(
    bootstrap: str,
    prefix: str,
    port: int,
    months: int,
    workdir: Path,
    timeout: float,
    slos: int = DEMO_SLOS,
    partitions: int = 4,
    memory_dumps: Path | None = None,
) -> RestoreResult:
    events_file = workdir / "month.ndjson"
    config_path = config_with_slos(slos, workdir / f"slo-{slos}.yaml") if slos > DEMO_SLOS else None
    config = load_sla_config(config_path or DEFAULT_CONFIG)
    print("  generating 30 days of events", flush=True)
    subprocess.run(
        [sys.executable, "-m", "slaengine.cli", "generate", "--days", "30", "--out",
         str(events_file), "--no-progress"],
        check=True, cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    engine = month_engine(config, events_file, partitions)
    print(f"  writing the changelogs of {months} months", flush=True)
    try:
        view = GlobalView(config, "unused:9092", [], partitions, cold_dir=workdir / "expected-cold")
    except TypeError:  # the code before cold hours (a comparison run): all in memory
        view = GlobalView(config, "unused:9092", [], partitions)

    def seen_by_view() -> Iterator[tuple[str, int, bytes, bytes | None]]:
        """The records, also put into a view: the answer the worker must give."""
        for record in changelog_records(engine, months):
            view.apply(record[2], record[3])
            yield record

    started = time.perf_counter()
    asyncio.run(create_input_topics(bootstrap, prefix, partitions))
    count, size = asyncio.run(
        write_changelogs(bootstrap, f"{prefix}slaengine", partitions, seen_by_view())
    )
    write_s = time.perf_counter() - started
    print(f"  {count:,} records, {size / 1e6:.0f} MB in {write_s:.0f} s", flush=True)
    view.settle()
    at_ms = int(time.time() * 1000)
    expected = row_counts({"slos": [row.to_json() for row in evaluate_all(view.engine, at_ms)]})
    data_dir = workdir / "restore-data"
    log_path = workdir / "restore-worker.log"
    print("  starting a worker on an empty data dir (state from the changelogs)", flush=True)
    worker = RealWorker(
        bootstrap, prefix, port, data_dir, log_path, config_path, memory_dumps=memory_dumps
    )
    try:
        from_changelog = wait_same_answer(worker, at_ms, expected, timeout)
        rss_changelog = worker.rss_mb()
        worker.dump_memory("restore-from-changelog")
        asked = time.perf_counter()
        worker.slos(at_ms)
        answer_s = time.perf_counter() - asked
    finally:
        worker.stop()
    print("  restarting it on its data dir (RocksDB kept)", flush=True)
    worker = RealWorker(
        bootstrap, prefix, port, data_dir, log_path, config_path, memory_dumps=memory_dumps
    )
    try:
        kept = wait_same_answer(worker, at_ms, expected, timeout)
        rss_kept = worker.rss_mb()
        worker.dump_memory("restore-kept")
    finally:
        worker.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return RestoreResult(
        months, slos, count, size / 1e6, write_s, from_changelog, rss_changelog, kept, rss_kept,
        answer_s,
    )  # fmt: skip
