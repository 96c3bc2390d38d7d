"""Flat under history: replay generated months into the real worker, then restart it.

``slaengine generate`` writes N months of events ending now, ``slaengine
produce`` publishes them (in envelopes of ``batch_size``, as the demo does) to
fresh topics before the worker starts, so the worker reads at its own full
speed. The replay is cut into tenths by the worker's applied-events counter of
all four input topics (read from /metrics every second, as an eager Prometheus
would); each tenth's rate is compared with the median. Then the worker is stopped and
started again, once on its data dir (RocksDB state kept) and once on an empty
one (state rebuilt from the changelog topics): the restore time is until its
``/api/v1/slos`` answer equals the one before the stop, RSS taken then.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _real_worker import REPO_ROOT, Followed, RealWorker, Sample, topic_end_offsets

from slaengine.events import ORDERS_TOPIC, PROJECTIONS_TOPIC, REQUESTS_TOPIC, RESOURCES_TOPIC
from slaengine.settings import DEFAULT_CONFIG

TOPICS = (REQUESTS_TOPIC, ORDERS_TOPIC, RESOURCES_TOPIC, PROJECTIONS_TOPIC)
DEMO_SLOS = 6  # in slaengine/data/slo.yaml

COUNTER_EVERY_S = 1.0  # /metrics reads during the replay, for the rate per tenth
MIN_COUNTER_READS = 20  # fewer reads than this: no rate per tenth (the replay was too short)


@dataclass
class HistoryResult:
    months: float
    slos: int
    events: dict[str, int]  # per topic
    messages: dict[
        str, int
    ]  # per topic: orders are keyed by order id, so their envelopes are small
    batch_size: int
    seconds: float
    events_per_s: float
    events_per_cpu_s: float
    tenths_events_per_s: list[float]
    tenths_cpu_share: list[float]  # worker CPU seconds per wall second in each tenth
    tenths_topic_share: list[dict[str, float]]  # which topics' events each tenth applied
    worst_tenth_vs_median: float  # the largest |tenth / median - 1|
    # the same per CPU-second of the worker: on a shared machine the wall rate follows the
    # other processes' load; this one follows only the worker's own cost per event
    tenths_events_per_cpu_s: list[float]
    worst_tenth_per_cpu_vs_median: float
    rss_after_replay_mb: float
    restart_kept_state_s: float
    rss_after_restart_mb: float
    restart_empty_dir_s: float
    rss_after_changelog_restore_mb: float
    complete: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def slaengine(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "slaengine.cli", *args],
        check=True,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
    )


def tenth_marks(followed: Followed, total_events: int) -> list[float]:
    """When each tenth of the replay began and ended, from the applied-events counter.

    The counter is read every second or so; the moment each tenth was crossed
    is interpolated between two reads. The last tenth ends when the last read
    shows every event applied.
    """
    reads = [(s.at, s.processed) for s in followed.samples if s.processed is not None]
    if len(reads) < 2:
        return []
    start_at, start_events = reads[0]
    span = total_events - start_events

    def crossing(events: float) -> float:
        for (at_a, count_a), (at_b, count_b) in itertools.pairwise(reads):
            if count_b >= events:
                return at_a + (events - count_a) / max(1, count_b - count_a) * (at_b - at_a)
        return reads[-1][0]

    return [start_at] + [crossing(start_events + span * k / 10) for k in range(1, 11)]


def tenths(followed: Followed, total_events: int) -> list[float]:
    """Events per second in each tenth of the replay."""
    marks = tenth_marks(followed, total_events)
    if not marks:
        return []
    first = next(s.processed for s in followed.samples if s.processed is not None)
    tenth = (total_events - (first or 0)) / 10
    return [tenth / (b - a) if b > a else float("inf") for a, b in itertools.pairwise(marks)]


def topic_shares(followed: Followed, total_events: int) -> list[dict[str, float]]:
    """Which topics' events each tenth of the replay applied (shares of the tenth)."""
    marks = tenth_marks(followed, total_events)
    reads = [s for s in followed.samples if s.by_topic is not None]

    def counts_at(moment: float) -> dict[str, int]:
        return min(reads, key=lambda s: abs(s.at - moment)).by_topic or {}

    shares = []
    for a, b in itertools.pairwise(marks):
        before, after = counts_at(a), counts_at(b)
        applied = {topic: after.get(topic, 0) - before.get(topic, 0) for topic in after}
        total = sum(applied.values()) or 1
        shares.append({topic: count / total for topic, count in applied.items()})
    return shares


def cpu_shares(followed: Followed, total_events: int) -> list[float]:
    """The worker's CPU seconds per wall second in each tenth: below ~1 it was waiting."""

    def cpu_at(moment: float) -> float:
        return min(followed.samples, key=lambda s: abs(s.at - moment)).cpu_s

    marks = tenth_marks(followed, total_events)
    return [
        (cpu_at(b) - cpu_at(a)) / (b - a) if b > a else float("nan")
        for a, b in itertools.pairwise(marks)
    ]


def worst_vs_median(rates: list[float]) -> float:
    """The largest |rate / median - 1| (NaN without rates)."""
    if not rates:
        return float("nan")
    median = statistics.median(rates)
    return max(abs(rate / median - 1) for rate in rates)


def events_per_topic(events_file: Path) -> dict[str, int]:
    """Events of the generated file by the topic ``slaengine produce`` sends them to."""
    counts = dict.fromkeys(TOPICS, 0)
    with events_file.open("rb") as lines:
        for line in lines:
            if b'"latency_ms"' in line:
                counts[REQUESTS_TOPIC] += 1
            elif b'"order_id"' in line:
                counts[ORDERS_TOPIC] += 1
            elif b'"projection"' in line:
                counts[PROJECTIONS_TOPIC] += 1
            else:
                counts[RESOURCES_TOPIC] += 1
    return counts


def config_with_slos(count: int, path: Path) -> Path:
    """The demo's SLOs plus variants of them (other thresholds, targets, deadlines) up to
    ``count``."""
    variants = []
    for index in range(count - DEMO_SLOS):
        service = ("orders-api", "catalog-api")[index % 2]
        kind = index // 2 % 5
        name = f"bench-{index}"
        variants.append(
            f"{{name: {name}, service: {service}, sli: latency, "
            f"threshold_ms: {100 + 50 * index}, target: 95}}"
            if kind == 0
            else f"{{name: {name}, service: {service}, sli: availability, "
            f"target: {99 + index % 10 / 10:.1f}}}"
            if kind == 1
            else f"{{name: {name}, service: {service}, sli: uptime, "
            f"slice_good_ratio: 0.9{index % 10}, target: 99}}"
            if kind == 2
            else f"{{name: {name}, sli: fulfillment, within: {12 + index}h, target: 95}}"
            if kind == 3
            else f"{{name: {name}, sli: projection_lag, threshold_s: {1 + index % 5}, target: 99}}"
        )
    path.write_text(DEFAULT_CONFIG.read_text() + "".join(f"\n  - {v}" for v in variants) + "\n")
    return path


def row_counts(answer: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    return sorted((r["name"], r["window"], r["good"], r["total"]) for r in answer["slos"])


def wait_same_answer(
    worker: RealWorker, at_ms: int, expected: list[tuple[str, str, int, int]], timeout: float
) -> float:
    """Seconds from the worker's start until its answer equals ``expected``."""
    worker.wait_http(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if row_counts(worker.slos(at_ms)) == expected:
                return time.perf_counter() - worker.started_at
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(
        f"the restarted worker did not restore its state in {timeout} s; see {worker.log_path}"
    )


def run_history(
    bootstrap: str,
    prefix: str,
    port: int,
    months: float,
    batch_size: int,
    workdir: Path,
    timeout: float,
    slos: int = DEMO_SLOS,
    memory_dumps: Path | None = None,
) -> HistoryResult:
    """``slos`` above the demo's six: its config plus variants (``config_with_slos``);
    ``memory_dumps``: the workers run under tracemalloc and write where their memory goes
    after the replay and after each restart there (bench/_memory_worker.py)."""
    events_file = workdir / "history.ndjson"
    config = config_with_slos(slos, workdir / f"slo-{slos}.yaml") if slos > DEMO_SLOS else None
    days = max(0.05, months * 30.4)
    print(f"  generating {days:.1f} days of history", flush=True)
    slaengine("generate", "--days", f"{days:g}", "--out", str(events_file), "--no-progress")
    events = events_per_topic(events_file)
    print(f"  producing {sum(events.values()):,} events in envelopes of {batch_size}", flush=True)
    slaengine(
        "produce",
        str(events_file),
        "--bootstrap",
        bootstrap,
        "--topic-prefix",
        prefix,
        "--batch-size",
        str(batch_size),
        "--no-progress",
    )
    messages = {
        topic: asyncio.run(topic_end_offsets(bootstrap, f"{prefix}{topic}")) for topic in TOPICS
    }
    print(
        "  "
        + ", ".join(
            f"{topic}: {events[topic]:,} events in {messages[topic]:,} messages" for topic in TOPICS
        ),
        flush=True,
    )
    total_events = sum(events.values())
    deadline = time.monotonic() + timeout
    data_dir = workdir / "history-data"

    def history_worker() -> RealWorker:  # the same worker each time: replay, kept, changelog
        return RealWorker(
            bootstrap,
            prefix,
            port,
            data_dir,
            workdir / "history-worker.log",
            config,
            memory_dumps=memory_dumps,
        )

    worker = history_worker()
    try:
        # complete when sla.requests is committed and every event of every topic applied
        followed = worker.follow(messages[REQUESTS_TOPIC], timeout, COUNTER_EVERY_S, TOPICS)
        while worker.processed_events(TOPICS) < total_events and time.monotonic() < deadline:
            time.sleep(0.1)
        by_topic = worker.processed_by_topic(TOPICS)
        followed.samples.append(
            Sample(
                time.perf_counter(),
                worker.cpu_seconds(),
                messages[REQUESTS_TOPIC],
                sum(by_topic.values()),
                by_topic,
            )
        )
        at_ms = int(time.time() * 1000)
        rates = followed.rates(total_events)
        per_tenth = tenths(followed, total_events)
        rss_replay = worker.rss_mb()
        worker.dump_memory("after-replay")
        worker.wait_http()
        expected = row_counts(worker.slos(at_ms))
    finally:
        worker.stop()
    print(
        f"  replayed at {rates['events_per_s']:,.0f} events/s (all topics); restarting on "
        "the same data dir",
        flush=True,
    )
    worker = history_worker()
    try:
        kept = wait_same_answer(worker, at_ms, expected, timeout)
        rss_kept = worker.rss_mb()
        worker.dump_memory("after-restart-kept")
    finally:
        worker.stop()
    print("  restarting on an empty data dir (state from the changelog)", flush=True)
    shutil.rmtree(data_dir)
    worker = history_worker()
    try:
        empty = wait_same_answer(worker, at_ms, expected, timeout)
        rss_empty = worker.rss_mb()
        worker.dump_memory("after-changelog-restore")
    finally:
        worker.stop()
    reads = sum(1 for sample in followed.samples if sample.processed is not None)
    if reads < MIN_COUNTER_READS:  # a replay of a few seconds cannot be cut into tenths
        per_tenth = []
    shares = cpu_shares(followed, total_events) if per_tenth else []
    per_cpu_s = [
        rate / share if share > 0 else float("nan")
        for rate, share in zip(per_tenth, shares, strict=True)
    ]
    return HistoryResult(
        months,
        slos,
        events,
        messages,
        batch_size,
        rates["seconds"],
        rates["events_per_s"],
        rates["events_per_cpu_s"],
        per_tenth,
        shares,
        topic_shares(followed, total_events) if per_tenth else [],
        worst_vs_median(per_tenth),
        per_cpu_s,
        worst_vs_median(per_cpu_s),
        rss_replay,
        kept,
        rss_kept,
        empty,
        rss_empty,
        followed.complete,
    )
