"""The real slaengine worker against bare Faust, Quix Streams and raw aiokafka, side by side.

    python bench/worker_vs_peers.py [--quick] [--events 200000] [--envelope-events 1000000]
        [--rounds 3] [--history-months 1] [--batch-month 2026-10] [--profile DIR] [--json FILE]

Every round writes the same request events (keyed by service, 4 partitions)
to fresh topics, one per message and in 500-event envelopes, and runs each
contender in its own process and consumer group on them:

- the real ``slaengine worker`` (RocksDB store, HTTP API, evaluator: what
  users start), measured from outside (committed offsets, /proc CPU), checked
  through its ``/api/v1/slos`` answer;
- a bare Faust agent that only iterates (checked by count), and a Faust agent
  doing the aggregation;
- Quix Streams 3.x: 1-minute tumbling windows per service, a reducer keeping
  the count and DDSketch bins;
- raw aiokafka, the ceiling: consume + the aggregation in a loop.

Each peer's per-minute counts and DDSketch p95 per service must equal the
reference computed here. Medians over the rounds, then: event-to-gauge
freshness at half the worker's rate, /metrics scrape cost at 16 SLOs (real
worker) and at ~1,000 series (``bench/scrape.py``), flat-under-history replay
with restarts, batch ``compute``/``report`` timings, and optionally a cProfile
of the worker's per-event cost. See bench/README.md for each row.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import pstats
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from _aggregate import differences, latency_good_counts, reference, worker_differences
from _batch import run_batch
from _history import run_history
from _pipeline_events import (
    create_pipeline_topics,
    enveloped_messages,
    generate_requests,
    produce,
    request_event,
    requests_topic,
    single_messages,
)
from _pipeline_freshness import run_freshness
from _real_worker import RealWorker

from slaengine.settings import DEFAULT_CONFIG

BENCH_DIR = Path(__file__).resolve().parent
ENVELOPE = 500
PEER_TIMEOUT_S = 600
TARGETS = {
    "worker_vs_faust": 0.9,
    "worker_vs_quix": 1.0,
    "envelope_events_per_s": 100_000,
    "envelope_idle_share": 0.10,  # CPU-bound: the event loop idles at most a tenth of the time
    "freshness_p99_ms": 1000,
    "scrape_cpu_ms": 5.0,
    "scrape_kb": 40.0,
    "scrape_1000_ms": 100.0,
    "history_flat": 0.20,
    "restore_s": 30.0,
    "rss_mb": 1024,
    "report_s": 5.0,
}
# (label, contender, data set): data set "single" or "envelopes"
CONTENDERS = (
    ("raw aiokafka, single events", "aiokafka", "single"),
    ("raw aiokafka, 500-event envelopes", "aiokafka", "envelopes"),
    ("Quix Streams 3.x, single events", "quix", "single"),
    ("Faust agent + aggregation", "faust-agg", "single"),
    ("bare Faust agent (iterates only)", "faust-bare", "single"),
    ("slaengine worker, single events", "worker", "single"),
    ("slaengine worker, 500-event envelopes", "worker", "envelopes"),
)
QUICK = {
    "events": 20_000,
    "envelope_events": 100_000,
    "rounds": 1,
    "freshness_seconds": 5.0,
    "history_months": 0.07,
    "batch_days": 2.0,
    "batch_runs": 1,
    "scrapes": 5,
    "profile_events": 10_000,
}

# Ten SLOs added to the demo config's six for the 16-SLO scrape.
EXTRA_SLOS = """
  - {name: orders-latency-250, service: orders-api, sli: latency, threshold_ms: 250, target: 90}
  - {name: orders-latency-1s, service: orders-api, sli: latency, threshold_ms: 1000, target: 99}
  - {name: orders-availability-strict, service: orders-api, sli: availability, target: 99.99}
  - {name: orders-uptime-strict, service: orders-api, sli: uptime, slice_good_ratio: 0.99, target:
  99}
  - {name: catalog-latency-300, service: catalog-api, sli: latency, threshold_ms: 300, target: 90}
  - {name: catalog-latency-500, service: catalog-api, sli: latency, threshold_ms: 500, target: 95}
  - {name: catalog-latency-1s, service: catalog-api, sli: latency, threshold_ms: 1000, target: 99}
  - {name: catalog-availability-30d, service: catalog-api, sli: availability, target: 99.9}
  - {name: catalog-uptime, service: catalog-api, sli: uptime, slice_good_ratio: 0.95, target: 99.5}
  - {name: catalog-uptime-strict, service: catalog-api, sli: uptime, slice_good_ratio: 0.99,
  target: 99}
"""


def iso_ms(ts: str) -> int:
    return int(datetime.fromisoformat(ts).timestamp() * 1000)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DataSet:
    """The messages of one data set, serialised once, and the reference they must produce."""

    def __init__(self, name: str, events: list[dict[str, Any]], envelope: int | None) -> None:
        self.name, self.events = name, len(events)
        # asked at an earlier time, uptime leaves out the minute in progress (docs/sli.md)
        last_minute = max(iso_ms(event["ts"]) for event in events) // 60_000
        self.answer_at_ms = (last_minute + 1) * 60_000
        raw = (
            enveloped_messages("t", events, envelope) if envelope else single_messages("t", events)
        )
        self.messages = [(key, value) for _, key, value in raw]
        self.reference = reference(events)
        self.latency_good = latency_good_counts(events)

    def publish(self, bootstrap: str, prefix: str) -> None:
        create_pipeline_topics(bootstrap, prefix)
        topic = requests_topic(prefix)
        produce(bootstrap, ((topic, key, value) for key, value in self.messages))


def run_peer(
    kind: str, data: DataSet, prefix: str, group: str, bootstrap: str, workdir: Path
) -> dict[str, Any]:
    result, log = workdir / f"{group}.json", workdir / f"{group}.log"
    command = [
        sys.executable,
        str(BENCH_DIR / "_peer_consumer.py"),
        kind,
        "--topic",
        requests_topic(prefix),
        "--group",
        group,
        "--bootstrap",
        bootstrap,
        "--messages",
        str(len(data.messages)),
        "--result",
        str(result),
    ]
    with log.open("wb") as out:
        subprocess.run(
            command, stdout=out, stderr=subprocess.STDOUT, timeout=PEER_TIMEOUT_S, check=False
        )
    if not result.exists():
        raise SystemExit(f"worker_vs_peers: {kind} wrote no result; see {log}")
    measured = json.loads(result.read_text())
    if not measured["complete"]:
        raise SystemExit(
            f"worker_vs_peers: {kind} saw {measured['messages']} of "
            f"{len(data.messages)} messages; see {log}"
        )
    summary = measured.pop("summary")
    if summary is None:  # the bare agent only counts
        problems = (
            [] if measured["events"] == len(data.messages) else [f"{measured['events']} events"]
        )
    else:
        problems = differences(data.reference, summary)
    measured["check"] = "exact" if not problems else "; ".join(problems)
    return measured


def run_worker(
    data: DataSet, prefix: str, bootstrap: str, workdir: Path, profile: Path | None = None
) -> dict[str, Any]:
    label = prefix.rstrip(".").rsplit(".", 1)[-1]
    worker = RealWorker(
        bootstrap,
        prefix,
        free_port(),
        workdir / f"data-{label}",
        workdir / f"worker-{label}.log",
        profile=profile,
    )
    try:
        followed = worker.follow(len(data.messages), PEER_TIMEOUT_S)
        if not followed.complete:
            raise SystemExit(f"worker_vs_peers: the worker did not finish; see {worker.log_path}")
        measured: dict[str, Any] = {**followed.rates(data.events)}
        measured["rss_mb"] = worker.rss_mb()
        worker.wait_http()
        measured["check"] = "; ".join(settled_differences(worker, data)) or "exact"
    finally:
        worker.stop()
    measured["load_1m"] = os.getloadavg()[0]
    return measured


def settled_differences(worker: RealWorker, data: DataSet, settle_s: float = 10.0) -> list[str]:
    """The worker's answer, at the end of the data's last minute or later, against the
    reference; read again for up to ``settle_s`` while it differs (the global view follows the
    changelogs a moment behind the committed input)."""
    deadline = time.monotonic() + settle_s
    while True:
        slos = worker.slos(max(int(time.time() * 1000), data.answer_at_ms))
        problems = worker_differences(data.reference, data.latency_good, slos)
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(0.5)


def run_rounds(
    args: argparse.Namespace, base: str, sets: dict[str, DataSet], workdir: Path
) -> dict[str, list[dict[str, Any]]]:
    measured: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in CONTENDERS}
    for index in range(args.rounds):
        prefixes = {name: f"{base}r{index}{name[0]}." for name in sets}
        started = time.perf_counter()
        for name, data in sets.items():
            data.publish(args.bootstrap, prefixes[name])
        print(
            f"round {index + 1}/{args.rounds}: produced in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        for label, kind, set_name in CONTENDERS:
            data, prefix = sets[set_name], prefixes[set_name]
            if kind == "worker":
                result = run_worker(data, prefix, args.bootstrap, workdir)
            else:
                result = run_peer(kind, data, prefix, f"{prefix}g-{kind}", args.bootstrap, workdir)
            measured[label].append(result)
            print(
                f"  {label:<40} {result['events_per_s']:>10,.0f} events/s "
                f"{result['events_per_cpu_s']:>10,.0f} per CPU-s  {result['check']}  "
                + (
                    f"event loop idle {result['main_thread_idle']:.0%}  "
                    if "main_thread_idle" in result
                    else ""
                )
                + f"(load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    return measured


def median_of(results: list[dict[str, Any]]) -> dict[str, Any]:
    idle = [r["main_thread_idle"] for r in results if "main_thread_idle" in r]
    return {
        **({"main_thread_idle": statistics.median(idle)} if idle else {}),
        "events_per_s": statistics.median(r["events_per_s"] for r in results),
        "events_per_cpu_s": statistics.median(r["events_per_cpu_s"] for r in results),
        "rounds_events_per_cpu_s": [round(r["events_per_cpu_s"]) for r in results],
        "check": "exact"
        if all(r["check"] == "exact" for r in results)
        else "; ".join(sorted({r["check"] for r in results if r["check"] != "exact"})),
    }


def scrape_16_slos(
    args: argparse.Namespace, base: str, data: DataSet, workdir: Path
) -> dict[str, float]:
    """Worker CPU per /metrics scrape of a real worker holding 16 SLOs' state.

    "changed": one event before each scrape (the scrape re-renders), less the CPU of the same
    events without scrapes; "unchanged": back to back, nothing new (the kept text is served);
    the same for ?windows=all (every window)."""
    config = workdir / "slo-16.yaml"
    config.write_text(DEFAULT_CONFIG.read_text() + EXTRA_SLOS)
    prefix = f"{base}scrape."
    data.publish(args.bootstrap, prefix)
    worker = RealWorker(
        args.bootstrap,
        prefix,
        free_port(),
        workdir / "data-scrape",
        workdir / "worker-scrape.log",
        config=config,
    )
    try:
        if not worker.follow(len(data.messages), PEER_TIMEOUT_S).complete:
            raise SystemExit(f"worker_vs_peers: the 16-SLO worker stalled; see {worker.log_path}")
        worker.wait_http()
        time.sleep(1.0)
        # The /proc clock ticks every 10 ms: time many scrapes together, less the idle CPU
        # (flush timer, evaluator) of an equally long stretch without scrapes.
        cpu = worker.cpu_seconds()
        time.sleep(0.4 * args.scrapes)
        idle_per_s = (worker.cpu_seconds() - cpu) / (0.4 * args.scrapes)
        figures: dict[str, float] = {"slos": 16, "idle_cpu_share": idle_per_s}
        for name, path in (("", "/metrics"), ("all_", "/metrics?windows=all")):
            changed = scrape_changed_cpu_ms(worker, args.bootstrap, args.scrapes, path)
            unchanged_ms, size = scrape_cpu_ms(worker, args.scrapes, 0.0, idle_per_s, path)
            figures.update(
                {
                    f"{name}cpu_ms": changed["cpu_ms"],
                    f"{name}bytes": size,
                    f"{name}back_to_back_cpu_ms": unchanged_ms,
                    f"{name}rerendered": changed["rerendered"],
                }
            )
    finally:
        worker.stop()
    return figures


SCRAPE_EVENT_WAIT_S = 1.2  # an event reaches the global view within a flush interval and a read


def scrape_changed_cpu_ms(
    worker: RealWorker, bootstrap: str, scrapes: int, path: str
) -> dict[str, float]:
    """The worker's CPU ms per scrape of a state that changed since the previous scrape."""
    rng = random.Random(14)

    def one_event() -> None:
        event = request_event(rng, int(time.time() * 1000), "orders-api")
        produce(bootstrap, [(worker.topic, b"orders-api", json.dumps(event).encode())])

    def stretch(scrape: bool) -> tuple[float, list[bytes]]:
        bodies, cpu = [], worker.cpu_seconds()
        for _ in range(scrapes):
            one_event()
            time.sleep(SCRAPE_EVENT_WAIT_S)
            if scrape:
                bodies.append(worker.get(path))
        return worker.cpu_seconds() - cpu, bodies

    events_only, _ = stretch(scrape=False)
    with_scrapes, bodies = stretch(scrape=True)
    rerendered = sum(1 for before, after in itertools.pairwise(bodies) if before != after)
    return {
        "cpu_ms": (with_scrapes - events_only) / scrapes * 1000,
        "rerendered": rerendered / max(1, len(bodies) - 1),
    }


def scrape_cpu_ms(
    worker: RealWorker, scrapes: int, spacing: float, idle_per_s: float, path: str = "/metrics"
) -> tuple[float, int]:
    """The worker's CPU ms per /metrics scrape over ``scrapes`` of them, and the body size."""
    cpu, started, size = worker.cpu_seconds(), time.perf_counter(), 0
    for _ in range(scrapes):
        time.sleep(spacing)
        size = len(worker.get(path))
    spent = worker.cpu_seconds() - cpu - idle_per_s * (time.perf_counter() - started)
    return spent / scrapes * 1000, size


def scrape_handler_cpu(
    args: argparse.Namespace, base: str, data: DataSet, workdir: Path
) -> dict[str, Any]:
    """``--scrape-handler-cpu``: the main-thread CPU of each /metrics body of a real 16-SLO
    worker (bench/_timed_worker.py), the background tasks left out; as ``scrape_16_slos``:
    "changed" with one event 1.2 s before each scrape, "unchanged" back to back."""
    config = workdir / "slo-16-timed.yaml"
    config.write_text(DEFAULT_CONFIG.read_text() + EXTRA_SLOS)
    prefix = f"{base}timed."
    data.publish(args.bootstrap, prefix)
    times = workdir / "scrape-times.txt"
    worker = RealWorker(
        args.bootstrap,
        prefix,
        free_port(),
        workdir / "data-timed",
        workdir / "worker-timed.log",
        config=config,
        scrape_times=times,
    )
    rng = random.Random(14)

    def timed(path: str, scrapes: int, event_before: bool) -> list[float]:
        before = len(times.read_text().split()) if times.exists() else 0
        for _ in range(scrapes):
            if event_before:
                event = request_event(rng, int(time.time() * 1000), "orders-api")
                produce(args.bootstrap, [(worker.topic, b"orders-api", json.dumps(event).encode())])
                time.sleep(SCRAPE_EVENT_WAIT_S)
            worker.get(path)
        return [float(ms) for ms in times.read_text().split()[before:]]

    try:
        if not worker.follow(len(data.messages), PEER_TIMEOUT_S).complete:
            raise SystemExit(f"worker_vs_peers: the timed worker stalled; see {worker.log_path}")
        worker.wait_http()
        time.sleep(1.0)
        figures: dict[str, Any] = {}
        for name, path in (("", "/metrics"), ("all_", "/metrics?windows=all")):
            worker.get(path)
            figures[f"{name}changed_ms"] = timed(path, args.scrapes, event_before=True)
            figures[f"{name}unchanged_ms"] = timed(path, args.scrapes, event_before=False)
    finally:
        worker.stop()
    return figures


def scrape_handler_rows(timed: dict[str, Any]) -> list[tuple[str, float, str, bool | None]]:
    rows: list[tuple[str, float, str, bool | None]] = []
    for name, label in (("", "/metrics"), ("all_", "/metrics?windows=all")):
        changed = sorted(timed[f"{name}changed_ms"])
        p90 = changed[min(len(changed) - 1, int(0.9 * len(changed)))]
        median = statistics.median(changed)
        unchanged = statistics.median(timed[f"{name}unchanged_ms"])
        rows.append(
            (
                (
                    f"{label} body CPU ms at 16 SLOs in the worker's handler, state changed: "
                    f"median (p90 {p90:.2f}, max {changed[-1]:.2f}; unchanged {unchanged:.2f})"
                ),
                median,
                f"<= {TARGETS['scrape_cpu_ms']}" if not name else "-",
                median <= TARGETS["scrape_cpu_ms"] if not name else None,
            )
        )
    return rows


def scrape_1000_series(scrapes: int) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, str(BENCH_DIR / "scrape.py"), "--scrapes", str(scrapes)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    median = re.search(r"median ([\d.]+) ms", output)
    series = re.search(r"series per family: (\d+)", output)
    return {
        "ms": float(median.group(1)) if median else float("nan"),
        "series": int(series.group(1)) if series else 0,
        "output": output.strip(),
    }


def print_profile(
    stats_path: Path, events: int, unprofiled_us: float, top: int = 18
) -> dict[str, Any]:
    """Where each microsecond of an event goes: own time per package and per function.

    cProfile's CPU-time clock costs far more than the code it measures, so the
    shares are what count; the µs column scales them to the unprofiled run's
    CPU time per event (``unprofiled_us``).
    """
    stats = pstats.Stats(str(stats_path))
    rows = stats.stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in rows.values())
    by_package: dict[str, float] = {}
    for (filename, _, name), row in rows.items():
        package = package_of(filename, name)
        by_package[package] = by_package.get(package, 0.0) + row[2]
    print(
        f"\nworker CPU profile (cProfile on CPU time, main thread, from the first event "
        f"applied to the last committed; {events:,} single events; µs scaled to the "
        f"unprofiled {unprofiled_us:.0f} µs/event):"
    )
    print("  per package (own time):")
    for package, seconds in sorted(by_package.items(), key=lambda kv: -kv[1]):
        if seconds / total >= 0.01:
            print(
                f"    {package:<60} {seconds / total:6.1%} {seconds / total * unprofiled_us:6.1f} "
                "µs"
            )
    print("  slaengine's own code, cumulative (the rest is Faust, mode, asyncio, aiokafka):")
    ours = [
        (key, row)
        for key, row in rows.items()
        if short_path(key[0]).startswith(("slaengine/", "streams/"))
    ]
    for (filename, line, name), row in sorted(ours, key=lambda kv: -kv[1][3])[:6]:
        print(
            f"    {row[3] / total:6.1%} {row[3] / total * unprofiled_us:6.1f} µs "
            f"{row[1] / events:6.1f} calls/event  {short_path(filename)}:{line}({name})"
        )
    print("  top functions (own time):")
    for (filename, line, name), row in sorted(rows.items(), key=lambda kv: -kv[1][2])[:top]:
        print(
            f"    {row[2] / total:6.1%} {row[2] / total * unprofiled_us:6.1f} µs "
            f"{row[1] / events:6.1f} calls/event  {short_path(filename)}:{line}({name})"
        )
    return {
        "unprofiled_us_per_event": unprofiled_us,
        "package_shares": {k: v / total for k, v in by_package.items()},
    }


def short_path(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1]
    filename = re.sub(r"^.*/lib/python3\.\d+/", "", filename)
    return filename.replace(str(BENCH_DIR.parent) + "/", "")


def package_of(filename: str, name: str) -> str:
    """slaengine/streams by module, site-packages by package, the rest as stdlib or C."""
    if filename == "~":
        return "C built-ins (isinstance, dict.get, epoll, json scanner ...)"
    path = short_path(filename)
    if path.startswith(("slaengine/", "streams/")):
        return path.split("/")[0] + "/" + path.split("/")[1].removesuffix(".py")
    if "site-packages/" in filename:
        return path.split("/")[0].removesuffix(".py")
    return "asyncio" if path.startswith("asyncio/") else "stdlib (other)"


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def scrape_rows(scrape: dict[str, float]) -> list[tuple[str, float, str, bool | None]]:
    """The 16-SLO scrape rows of the target table (default export, then ?windows=all)."""
    return [
        (
            (
                "scrape CPU ms at 16 SLOs (state changed before each scrape, re-rendered "
                f"{scrape['rerendered']:.0%}; unchanged, back to back "
                f"{scrape['back_to_back_cpu_ms']:.1f})"
            ),
            scrape["cpu_ms"],
            f"<= {TARGETS['scrape_cpu_ms']}",
            # A difference of two ~25 s stretches of process CPU: when the worker's background
            # work varied more than the scrapes cost, it says nothing (the handler rows do)
            scrape["cpu_ms"] <= TARGETS["scrape_cpu_ms"] if scrape["cpu_ms"] > 0 else None,
        ),
        (
            "scrape size kB at 16 SLOs",
            scrape["bytes"] / 1000,
            f"<= {TARGETS['scrape_kb']}",
            scrape["bytes"] / 1000 <= TARGETS["scrape_kb"],
        ),
        (
            (
                "scrape ?windows=all at 16 SLOs, CPU ms (state changed; unchanged "
                f"{scrape['all_back_to_back_cpu_ms']:.1f})"
            ),
            scrape["all_cpu_ms"],
            "-",
            None,
        ),
        ("scrape ?windows=all at 16 SLOs, kB", scrape["all_bytes"] / 1000, "-", None),
    ]


def scrape_only(args: argparse.Namespace) -> int:
    """``--scrape-only``: the scrape rows (and freshness at ``--freshness-rate``), nothing else."""
    base = f"bench{uuid.uuid4().hex[:8]}."
    workdir = Path(tempfile.mkdtemp(prefix="bench-scrape-"))
    print(f"topics {base}*, logs in {workdir}, load {os.getloadavg()[0]:.1f}", flush=True)
    data = DataSet(
        "envelopes",
        list(generate_requests(args.envelope_events, int(time.time() * 1000), seed=2)),
        ENVELOPE,
    )
    targets: list[tuple[str, float, str, bool | None]] = []
    try:
        if args.freshness_seconds > 0 and args.freshness_rate:
            print(
                f"freshness: {args.freshness_rate:,.0f} events/s for {args.freshness_seconds:g} s",
                flush=True,
            )
            fresh = run_freshness(
                args.bootstrap,
                f"{base}f.",
                free_port(),
                args.freshness_rate,
                args.freshness_seconds,
                workdir / "worker-freshness.log",
                store="rocksdb://",
            )
            p99 = fresh.gauge_ms[1]
            targets.append(
                (
                    (
                        f"freshness event -> gauge p99 ms at {args.freshness_rate:,.0f} "
                        f"events/s (p50 {fresh.gauge_ms[0]:.0f}; event -> applied p50 "
                        f"{fresh.applied_ms[0]:.0f}, p99 {fresh.applied_ms[1]:.0f})"
                    ),
                    p99,
                    f"< {TARGETS['freshness_p99_ms']}",
                    p99 < TARGETS["freshness_p99_ms"],
                )
            )
        print("scrapes: a real worker with 16 SLOs, then bench/scrape.py", flush=True)
        targets += scrape_rows(scrape_16_slos(args, base, data, workdir))
        if args.scrape_handler_cpu:
            print("scrapes: the /metrics handler's own CPU (bench/_timed_worker.py)", flush=True)
            targets += scrape_handler_rows(scrape_handler_cpu(args, base, data, workdir))
        thousand = scrape_1000_series(args.scrapes)
        print(thousand["output"])
        targets.append(
            (
                f"scrape ms at {thousand['series']} series per family",
                thousand["ms"],
                f"< {TARGETS['scrape_1000_ms']}",
                thousand["ms"] < TARGETS["scrape_1000_ms"],
            )
        )
    finally:
        if not args.keep_topics:
            asyncio.run(delete_topics(args.bootstrap, base))
    print(
        f"\nload {os.getloadavg()[0]:.1f} at the end\n| target | measured | goal | met "
        "|\n|---|---|---|---|"
    )
    for name, value, goal, met in targets:
        verdict = "-" if met is None else ("yes" if met else "NO")
        print(f"| {name} | {value:,.2f} | {goal} | {verdict} |")
    return 0


def print_report(figures: dict[str, Any]) -> None:
    runs = figures["runs"]
    bare = runs["bare Faust agent (iterates only)"]["events_per_cpu_s"]
    quix = runs["Quix Streams 3.x, single events"]["events_per_cpu_s"]
    print(
        f"\n{figures['events']:,} single events / {figures['envelope_events']:,} in envelopes, "
        f"{figures['rounds']} round(s), medians; {figures['cpus']} CPUs, load "
        f"{figures['load_1m']:.1f} at the end"
    )
    print(
        "| contender | events/s (wall) | events per CPU-second | vs bare Faust | vs Quix | "
        "per-CPU-s each round | check |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, _, _ in CONTENDERS:
        run = runs[label]
        print(
            f"| {label} | {run['events_per_s']:,.0f} | {run['events_per_cpu_s']:,.0f} | "
            f"{ratio(run['events_per_cpu_s'], bare):.2f} | "
            f"{ratio(run['events_per_cpu_s'], quix):.2f} | "
            f"{', '.join(f'{x:,}' for x in run['rounds_events_per_cpu_s'])} | {run['check']} |"
        )
    single = runs["slaengine worker, single events"]
    envelopes = runs["slaengine worker, 500-event envelopes"]
    targets = [
        (
            "worker single / bare Faust per CPU-s",
            ratio(single["events_per_cpu_s"], bare),
            f">= {TARGETS['worker_vs_faust']}",
            ratio(single["events_per_cpu_s"], bare) >= TARGETS["worker_vs_faust"],
        ),
        (
            "worker single / Quix per CPU-s (moonshot)",
            ratio(single["events_per_cpu_s"], quix),
            f">= {TARGETS['worker_vs_quix']}",
            ratio(single["events_per_cpu_s"], quix) >= TARGETS["worker_vs_quix"],
        ),
        (
            "worker envelopes, events/s (wall)",
            envelopes["events_per_s"],
            f">= {TARGETS['envelope_events_per_s']:,}",
            envelopes["events_per_s"] >= TARGETS["envelope_events_per_s"],
        ),
        (
            "worker envelopes, share of its busy time the event loop idled (CPU-bound)",
            envelopes["main_thread_idle"],
            f"<= {TARGETS['envelope_idle_share']}",
            envelopes["main_thread_idle"] <= TARGETS["envelope_idle_share"],
        ),
    ]
    if "freshness" in figures:
        p99 = figures["freshness"]["gauge_ms"][1]
        targets.append(
            (
                (
                    f"freshness event -> gauge p99 ms at {figures['freshness']['rate']:,.0f}"
                    " events/s"
                ),
                p99,
                f"< {TARGETS['freshness_p99_ms']}",
                p99 < TARGETS["freshness_p99_ms"],
            )
        )
    if "scrape_16" in figures:
        targets += scrape_rows(figures["scrape_16"])
    if "scrape_handler" in figures:
        targets += scrape_handler_rows(figures["scrape_handler"])
    if "scrape_1000" in figures:
        ms = figures["scrape_1000"]["ms"]
        targets.append(
            (
                f"scrape ms at {figures['scrape_1000']['series']} series per family",
                ms,
                f"< {TARGETS['scrape_1000_ms']}",
                ms < TARGETS["scrape_1000_ms"],
            )
        )
    if "history" in figures:
        targets += history_targets(figures["history"])
    for timing in figures.get("batch", []):
        is_report = timing["command"].startswith("slaengine report")
        targets.append(
            (
                f"{timing['command']} over {figures['batch_events']:,} events, wall s",
                timing["wall_s"],
                f"< {TARGETS['report_s']}" if is_report else "-",
                timing["wall_s"] < TARGETS["report_s"] if is_report else None,
            )
        )
    print_targets(targets)
    if "history" in figures:
        print_history(figures["history"])


def print_targets(targets: list[tuple[str, float, str, bool | None]]) -> None:
    print("\n| target | measured | goal | met |\n|---|---|---|---|")
    for name, value, goal, met in targets:
        verdict = "-" if met is None else ("yes" if met else "NO")
        print(f"| {name} | {value:,.2f} | {goal} | {verdict} |")


def history_targets(history: dict[str, Any]) -> list[tuple[str, float, str, bool | None]]:
    flat = history["worst_tenth_vs_median"]
    scale = f"{history['months']:g} months, {history['slos']} SLOs"
    return [
        (
            f"history ({scale}): worst tenth vs median"
            + (" (replay too short to cut into tenths)" if math.isnan(flat) else ""),
            flat,
            f"<= {TARGETS['history_flat']}",
            None if math.isnan(flat) else flat <= TARGETS["history_flat"],
        ),
        (
            f"history ({scale}): worst tenth vs median, per worker CPU-second",
            history["worst_tenth_per_cpu_vs_median"],
            f"<= {TARGETS['history_flat']}",
            None
            if math.isnan(history["worst_tenth_per_cpu_vs_median"])
            else history["worst_tenth_per_cpu_vs_median"] <= TARGETS["history_flat"],
        ),
        (
            f"restart ({scale}), state kept, s",
            history["restart_kept_state_s"],
            f"< {TARGETS['restore_s']}",
            history["restart_kept_state_s"] < TARGETS["restore_s"],
        ),
        (
            f"restart ({scale}), state from changelog, s",
            history["restart_empty_dir_s"],
            f"< {TARGETS['restore_s']}",
            history["restart_empty_dir_s"] < TARGETS["restore_s"],
        ),
        (
            "RSS MB after replay",
            history["rss_after_replay_mb"],
            f"< {TARGETS['rss_mb']}",
            history["rss_after_replay_mb"] < TARGETS["rss_mb"],
        ),
        (
            "RSS MB after restart, state kept / from changelog",
            max(history["rss_after_restart_mb"], history["rss_after_changelog_restore_mb"]),
            f"< {TARGETS['rss_mb']}",
            max(history["rss_after_restart_mb"], history["rss_after_changelog_restore_mb"])
            < TARGETS["rss_mb"],
        ),
    ]


def print_history(history: dict[str, Any]) -> None:
    print(
        "history replay: "
        + ", ".join(
            f"{topic} {history['events'][topic]:,} events in {history['messages'][topic]:,} "
            "messages"
            for topic in history["events"]
        )
    )
    print(
        f"  {history['events_per_s']:,.0f} events/s over {history['seconds']:,.0f} s, "
        f"{history['events_per_cpu_s']:,.0f} per CPU-second"
    )
    tenths = history["tenths_events_per_s"]
    if tenths:
        print("history replay, events/s per tenth: " + ", ".join(f"{x:,.0f}" for x in tenths))
        print(
            "  events per worker CPU-second in each tenth: "
            + ", ".join(f"{x:,.0f}" for x in history["tenths_events_per_cpu_s"])
        )
        print(
            "  the worker's CPU share in each tenth: "
            + ", ".join(f"{x:.2f}" for x in history["tenths_cpu_share"])
        )
        print(
            "  orders' share of the events each tenth applied: "
            + ", ".join(
                f"{shares.get('sla.orders', 0):.0%}" for shares in history["tenths_topic_share"]
            )
        )


def history_only(args: argparse.Namespace) -> int:
    """``--history-only``: the history replay and restarts, without the other rows."""
    base = f"bench{uuid.uuid4().hex[:8]}."
    workdir = Path(tempfile.mkdtemp(prefix="bench-history-"))
    print(
        f"topics {base}*, logs in {workdir}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    try:
        print(
            f"history: {args.history_months:g} months, {args.history_slos} SLOs into a real worker",
            flush=True,
        )
        history = run_history(
            args.bootstrap,
            f"{base}h.",
            free_port(),
            args.history_months,
            args.history_batch_size,
            workdir,
            timeout=3600,
            slos=args.history_slos,
            memory_dumps=args.history_memory,
        ).as_dict()
        print(f"\nload {os.getloadavg()[0]:.1f} at the end")
        print_targets(history_targets(history))
        print_history(history)
        if args.json is not None:
            args.json.write_text(
                json.dumps(
                    {"history": history, "cpus": os.cpu_count(), "load_1m": os.getloadavg()[0]},
                    indent=2,
                    default=str,
                )
            )
    finally:
        if not args.keep_topics:
            print(f"deleted {asyncio.run(delete_topics(args.bootstrap, base))} bench topics")
        shutil.rmtree(workdir / "history-data", ignore_errors=True)
    return 0


def restore_only(args: argparse.Namespace) -> int:
    """``--restore-months N``: restarts over N months of state written to the changelogs
    (bench/_restore.py), without the other rows."""
    from _restore import run_restore

    base = f"bench{uuid.uuid4().hex[:8]}."
    workdir = Path(tempfile.mkdtemp(prefix="bench-restore-"))
    print(
        f"topics {base}*, logs in {workdir}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    try:
        print(f"restore: {args.restore_months} months, {args.history_slos} SLOs", flush=True)
        result = run_restore(
            args.bootstrap,
            f"{base}r.",
            free_port(),
            args.restore_months,
            workdir,
            timeout=3600,
            slos=args.history_slos,
            memory_dumps=args.history_memory,
        ).as_dict()
        print(f"\nload {os.getloadavg()[0]:.1f} at the end")
        for name, value in result.items():
            print(f"  {name}: {value:,.2f}" if isinstance(value, float) else f"  {name}: {value}")
        if args.json is not None:
            args.json.write_text(json.dumps({"restore": result}, indent=2))
    finally:
        if not args.keep_topics:
            print(f"deleted {asyncio.run(delete_topics(args.bootstrap, base))} bench topics")
        shutil.rmtree(workdir / "restore-data", ignore_errors=True)
        shutil.rmtree(workdir / "expected-cold", ignore_errors=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="everything small (a smoke run of about two minutes)"
    )
    parser.add_argument("--events", type=int, default=200_000, help="single-event messages")
    parser.add_argument(
        "--envelope-events",
        type=int,
        default=1_000_000,
        help=f"events sent in {ENVELOPE}-event envelopes",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument(
        "--bootstrap", default=os.environ.get("SLAENGINE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    parser.add_argument(
        "--freshness-seconds",
        type=float,
        default=20.0,
        help="event-to-gauge freshness run (0: skip)",
    )
    parser.add_argument("--scrapes", type=int, default=20, help="scrapes timed per scrape row")
    parser.add_argument(
        "--scrape-only",
        action="store_true",
        help="only the scrape rows (and freshness with --freshness-rate)",
    )
    parser.add_argument(
        "--scrape-handler-cpu",
        action="store_true",
        help="with --scrape-only: also the /metrics handler's own CPU per scrape, timed inside "
        "a third worker (bench/_timed_worker.py), free of the process accounting's noise "
        "(the full run always measures it)",
    )
    parser.add_argument(
        "--freshness-rate",
        type=float,
        help="events/s of the freshness run (default: half the worker's "
        "single-event rate; with --scrape-only: no freshness run without it)",
    )
    parser.add_argument(
        "--history-months",
        type=float,
        default=1.0,
        help="months of generated history to replay (0: skip; 6 = full scale)",
    )
    parser.add_argument(
        "--history-batch-size",
        type=int,
        default=200,
        help="events per envelope in the replay (the demo's 200)",
    )
    parser.add_argument(
        "--history-slos",
        type=int,
        default=6,
        help="SLOs of the history worker: the demo's 6, or more with variants of "
        "them (50 = the issue's restore scale)",
    )
    parser.add_argument(
        "--restore-months",
        type=int,
        default=0,
        metavar="N",
        help="only time restarts over N months of state (with --history-slos) written straight "
        "to the changelog topics (bench/_restore.py)",
    )
    parser.add_argument(
        "--history-memory",
        type=Path,
        default=None,
        metavar="DIR",
        help="with --history-only: run the workers under tracemalloc and write where their "
        "memory goes after the replay and each restart to DIR (slow: about 2x)",
    )
    parser.add_argument(
        "--history-only",
        action="store_true",
        help="run only the history replay and restarts (with --history-months)",
    )
    parser.add_argument(
        "--batch-month",
        help="month (YYYY-MM) for compute/report timings (default: the last full month)",
    )
    parser.add_argument(
        "--batch-days",
        type=float,
        help="instead of a month: this many days ending now (0: skip batch)",
    )
    parser.add_argument("--batch-runs", type=int, default=3, help="timed runs of each command")
    parser.add_argument(
        "--profile",
        type=Path,
        help="also run the worker under cProfile on single events; stats here",
    )
    parser.add_argument(
        "--profile-events",
        type=int,
        default=30_000,
        help="single events of the profiled run (cProfile slows it ~10x)",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--keep-topics",
        action="store_true",
        help="leave the bench topics on the broker (default: delete them)",
    )
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quick:
        defaults = {action.dest: action.default for action in parser._actions}
        for name, value in QUICK.items():
            if getattr(args, name, None) == defaults.get(name):  # an explicit flag wins
                setattr(args, name, value)
    if args.events < 1000 or args.envelope_events < 10 * ENVELOPE or args.rounds < 1:
        parser.error(
            f"--events must be at least 1000, --envelope-events at least "
            f"{10 * ENVELOPE} and --rounds at least 1"
        )
    if args.batch_month and not re.fullmatch(r"\d{4}-\d{2}", args.batch_month):
        parser.error(f"--batch-month must be YYYY-MM, got {args.batch_month!r}")
    if args.history_months < 0 or args.scrapes < 1 or args.batch_runs < 1:
        parser.error("--history-months must be >= 0, --scrapes and --batch-runs >= 1")
    return args


def last_full_month() -> str:
    now = time.gmtime()
    year, month = (now.tm_year, now.tm_mon - 1) if now.tm_mon > 1 else (now.tm_year - 1, 12)
    return f"{year:04d}-{month:02d}"


async def delete_topics(bootstrap: str, prefix: str) -> int:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
        return len(names)
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.scrape_only:
        return scrape_only(args)
    if args.restore_months:
        return restore_only(args)
    if args.history_only:
        return history_only(args)
    base = f"bench{uuid.uuid4().hex[:8]}."
    workdir = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    print(
        f"topics {base}*, logs in {workdir}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    end_ms = int(time.time() * 1000)
    sets = {
        "single": DataSet("single", list(generate_requests(args.events, end_ms)), None),
        "envelopes": DataSet(
            "envelopes", list(generate_requests(args.envelope_events, end_ms, seed=2)), ENVELOPE
        ),
    }
    figures: dict[str, Any] = {
        "events": args.events,
        "envelope_events": args.envelope_events,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
    }
    try:
        measured = run_rounds(args, base, sets, workdir)
        figures["runs"] = {label: median_of(results) for label, results in measured.items()}
        if args.freshness_seconds > 0:
            rate = (
                args.freshness_rate
                or figures["runs"]["slaengine worker, single events"]["events_per_s"] / 2
            )
            print(
                f"freshness: {rate:,.0f} events/s for {args.freshness_seconds:g} s into a real "
                "worker (RocksDB store)",
                flush=True,
            )
            figures["freshness"] = asdict(
                run_freshness(
                    args.bootstrap,
                    f"{base}f.",
                    free_port(),
                    rate,
                    args.freshness_seconds,
                    workdir / "worker-freshness.log",
                    store="rocksdb://",
                )
            )
        print("scrapes: a real worker with 16 SLOs, then bench/scrape.py", flush=True)
        figures["scrape_16"] = scrape_16_slos(args, base, sets["envelopes"], workdir)
        print("scrapes: the /metrics handler's own CPU (bench/_timed_worker.py)", flush=True)
        figures["scrape_handler"] = scrape_handler_cpu(args, base, sets["envelopes"], workdir)
        figures["scrape_1000"] = scrape_1000_series(args.scrapes)
        if args.history_months > 0:
            print(f"history: {args.history_months:g} months into a real worker", flush=True)
            figures["history"] = run_history(
                args.bootstrap,
                f"{base}h.",
                free_port(),
                args.history_months,
                args.history_batch_size,
                workdir,
                timeout=3600,
                slos=args.history_slos,
            ).as_dict()
        if args.batch_days != 0:
            month = None if args.batch_days else (args.batch_month or last_full_month())
            print(f"batch: {month or f'{args.batch_days:g} days'}", flush=True)
            count, timings = run_batch(workdir, month, args.batch_days, args.batch_runs)
            figures["batch_events"] = count
            figures["batch"] = [t.as_dict() for t in timings]
        figures["load_1m"] = os.getloadavg()[0]
        print_report(figures)
        if args.profile is not None:
            args.profile.mkdir(parents=True, exist_ok=True)
            stats = args.profile / "worker-single.pstats"
            prefix = f"{base}prof."
            profile_set = DataSet(
                "profile",
                list(generate_requests(min(args.events, args.profile_events), end_ms)),
                None,
            )
            profile_set.publish(args.bootstrap, prefix)
            profiled = run_worker(profile_set, prefix, args.bootstrap, workdir, profile=stats)
            print(f"  profiled run: {profiled['check']}", flush=True)
            unprofiled = figures["runs"]["slaengine worker, single events"]["events_per_cpu_s"]
            figures["profile"] = print_profile(
                stats, int(profiled["measured_events"]), 1e6 / unprofiled
            )
        if args.json is not None:
            args.json.write_text(json.dumps(figures, indent=2, default=str))
    finally:
        if not args.keep_topics:
            deleted = asyncio.run(delete_topics(args.bootstrap, base))
            print(f"deleted {deleted} bench topics", flush=True)
        for state in workdir.glob("*data*"):  # RocksDB state; the logs stay
            shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
