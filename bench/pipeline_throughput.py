"""The SLI pipeline against a bare and a naive Faust agent, side by side on one broker and data.

    python bench/pipeline_throughput.py [--events 100000] [--batched-events 600000] [--rounds 2]
        [--bootstrap 127.0.0.1:9092] [--freshness-seconds 20] [--json FILE] [--profile DIR]

Pre-produces request events (one per message, and in 500-event JSON-array
envelopes) to fresh prefixed topics, then runs, each in its own process, Faust
app and consumer group: a bare agent that only iterates, a naive agent doing
one table write per event, slaengine's pipeline (``streams.app.build_app``,
memory store) on single events and on envelopes. Then a real ``slaengine
worker`` gets events at half the pipeline's single-event rate while ``/metrics``
is scraped, for event-to-gauge freshness; finally state bytes per hour bucket.
Rates count from the first to the last event consumed; "per CPU-second" divides
by the process's CPU time instead, which a busy machine distorts much less.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path

from _pipeline_events import (
    create_pipeline_topics,
    enveloped_messages,
    generate_requests,
    produce,
    requests_topic,
    single_messages,
)
from _pipeline_freshness import FreshnessResult, run_freshness
from _pipeline_report import print_profile, print_table
from _pipeline_state import busy_bucket_sizes, changelog_sizes, python_bytes_per_bucket

from slaengine.config import load_sla_config
from slaengine.settings import DEFAULT_CONFIG

BENCH_DIR = Path(__file__).resolve().parent
ENVELOPE = 500
NAIVE_SHARE = 0.4  # the naive agent is slow: it reads this share of the events, same topic
CONSUMER_TIMEOUT_S = 300


def run_consumer(
    kind: str,
    prefix: str,
    group: str,
    count: int,
    bootstrap: str,
    workdir: Path,
    profile: Path | None = None,
    env: dict[str, str] | None = None,
) -> dict:
    result, log = workdir / f"{group}.json", workdir / f"{group}.log"
    command = [
        sys.executable,
        str(BENCH_DIR / "_pipeline_consumer.py"),
        kind,
        "--prefix",
        prefix,
        "--group",
        group,
        "--count",
        str(count),
        "--bootstrap",
        bootstrap,
        "--result",
        str(result),
    ]
    if profile is not None:
        command += ["--profile", str(profile)]
    with log.open("wb") as out:
        subprocess.run(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=CONSUMER_TIMEOUT_S,
            check=False,
            env={**os.environ, **(env or {})},
        )
    if not result.exists():
        raise SystemExit(f"pipeline_throughput: the {kind} consumer wrote no result; see {log}")
    measured = json.loads(result.read_text())
    if not measured["complete"]:
        raise SystemExit(
            f"pipeline_throughput: the {kind} consumer saw {measured['events']} of "
            f"{count} events; see {log}"
        )
    print(
        f"  {group.rsplit('g-', 1)[-1]:<18} {measured['events_per_s']:>10,.0f} events/s "
        f"({measured['events_per_cpu_s']:,.0f} per CPU-second, load {measured['load_1m']:.1f})",
        flush=True,
    )
    return measured


def median_run(results: list[dict]) -> dict:
    """Median rates over the rounds (the mean of the middle two for an even count), and each one."""
    return {
        **results[0],
        "events_per_s": statistics.median(r["events_per_s"] for r in results),
        "events_per_cpu_s": statistics.median(r["events_per_cpu_s"] for r in results),
        "rounds_events_per_s": [r["events_per_s"] for r in results],
        "rounds_events_per_cpu_s": [r["events_per_cpu_s"] for r in results],
    }


def consume_rounds(
    args: argparse.Namespace, prefix: str, batched_prefix: str, workdir: Path
) -> dict[str, dict]:
    """Bare, pipeline and batched runs alternate per round, so a busy spell hits all of them."""
    measured: dict[str, list[dict]] = {"bare": [], "pipeline": [], "batched": []}
    for index in range(args.rounds):
        for label, kind, topic_prefix, count in (
            ("bare", "bare", prefix, args.events),
            ("pipeline", "pipeline", prefix, args.events),
            ("batched", "pipeline", batched_prefix, args.batched_events),
        ):
            measured[label].append(
                run_consumer(
                    kind, topic_prefix, f"{prefix}g-{label}-{index}", count, args.bootstrap, workdir
                )
            )
    naive_count = max(1000, int(args.events * NAIVE_SHARE))
    naive = run_consumer("naive", prefix, f"{prefix}g-naive", naive_count, args.bootstrap, workdir)
    runs = {
        **{label: median_run(results) for label, results in measured.items()},
        "naive": median_run([naive]),
    }
    if args.what_if_fetch_mb:
        # Faust reads unset settings from the environment: the same pipeline, larger fetches
        env = {"CONSUMER_MAX_FETCH_SIZE": str(args.what_if_fetch_mb << 20)}
        runs["what_if"] = median_run(
            [
                run_consumer(
                    "pipeline",
                    batched_prefix,
                    f"{prefix}g-what-if",
                    args.batched_events,
                    args.bootstrap,
                    workdir,
                    env=env,
                )
            ]
        )
    return runs


def core_rate(messages: list[bytes]) -> float:
    """Decode + apply of the same bytes with no Kafka or Faust: the ceiling for the agents."""
    from slaengine.sli.engine import SliEngine
    from streams.pipeline import Pipeline

    pipeline = Pipeline(SliEngine(load_sla_config(DEFAULT_CONFIG)))
    now_ms = int(time.time() * 1000)
    started = time.process_time()  # CPU time: other processes on the machine do not count
    for offset, value in enumerate(messages):
        pipeline.on_message("sla.requests", 0, offset, value, now_ms)
    return pipeline.valid["sla.requests"] / (time.process_time() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="single-event messages")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="rounds of bare/pipeline/batched runs (medians are reported)",
    )
    parser.add_argument(
        "--batched-events",
        type=int,
        default=600_000,
        help=f"events sent in {ENVELOPE}-event envelopes",
    )
    parser.add_argument(
        "--bootstrap", default=os.environ.get("SLAENGINE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    parser.add_argument("--freshness-seconds", type=float, default=20.0)
    parser.add_argument("--http-port", type=int, default=18_731, help="the freshness worker's port")
    parser.add_argument(
        "--what-if-fetch-mb",
        type=int,
        default=8,
        help="also run the envelopes with this consumer_max_fetch_size (0: skip)",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--profile",
        type=Path,
        help="afterwards, profile the pipeline runs with cProfile into this folder",
    )
    args = parser.parse_args()
    if args.events < 1000 or args.batched_events < 10 * ENVELOPE or args.rounds < 1:
        parser.error(
            f"--events must be at least 1000, --batched-events at least {10 * ENVELOPE} "
            "and --rounds at least 1"
        )

    prefix = f"bench{uuid.uuid4().hex[:8]}."
    batched_prefix, fresh_prefix = f"{prefix}b.", f"{prefix}f."
    workdir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    config = load_sla_config(DEFAULT_CONFIG)
    print(
        f"topics {prefix}*, logs in {workdir}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )

    end_ms = int(time.time() * 1000)
    for topic_prefix in (prefix, batched_prefix):
        create_pipeline_topics(args.bootstrap, topic_prefix)
    singles = list(single_messages(requests_topic(prefix), generate_requests(args.events, end_ms)))
    started = time.perf_counter()
    produce(args.bootstrap, singles)
    envelopes = enveloped_messages(
        requests_topic(batched_prefix),
        generate_requests(args.batched_events, end_ms, seed=2),
        ENVELOPE,
    )
    envelope_count = produce(args.bootstrap, envelopes)
    print(
        f"produced {args.events:,} single-event messages and {args.batched_events:,} events in "
        f"{envelope_count:,} envelopes in {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    print(f"consuming, one process and consumer group each, {args.rounds} round(s):", flush=True)
    runs = consume_rounds(args, prefix, batched_prefix, workdir)
    batched_sample = [
        value
        for _, _, value in enveloped_messages(
            "sla.requests", generate_requests(100_000, end_ms, seed=3), ENVELOPE
        )
    ]
    core = {
        "single": core_rate([value for _, _, value in singles[:50_000]]),
        "batched": core_rate(batched_sample),
    }
    print(
        f"  core decode+apply {core['single']:>10,.0f} events per CPU-second single, "
        f"{core['batched']:,.0f} batched (no Kafka, no Faust)",
        flush=True,
    )

    rate = runs["pipeline"]["events_per_s"] / 2
    print(
        f"freshness: {rate:,.0f} events/s for {args.freshness_seconds:.0f} s into a real worker",
        flush=True,
    )
    freshness: FreshnessResult = run_freshness(
        args.bootstrap,
        fresh_prefix,
        args.http_port,
        rate,
        args.freshness_seconds,
        workdir / "worker.log",
    )
    print("state per bucket:", flush=True)
    changelog = changelog_sizes(
        args.bootstrap, f"{prefix}g-pipeline-0-sli-requests-changelog", config
    )
    busy = busy_bucket_sizes(config)
    heap = python_bytes_per_bucket(config)

    figures = {
        "runs": runs,
        "core": core,
        "freshness": asdict(freshness),
        "changelog": [asdict(s) for s in changelog],
        "busy": [asdict(s) for s in busy],
        "heap": heap,
        "what_if_fetch_mb": args.what_if_fetch_mb,
        "events": args.events,
        "batched_events": args.batched_events,
        "cpus": os.cpu_count(),
        "load_1m": os.getloadavg()[0],
    }
    print_table(figures)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2))
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        for kind, topic_prefix, count in (
            ("single", prefix, args.events),
            ("batched", batched_prefix, args.batched_events),
        ):
            stats = args.profile / f"pipeline-{kind}.pstats"
            run_consumer(
                "pipeline",
                topic_prefix,
                f"{prefix}g-profile-{kind}",
                count,
                args.bootstrap,
                workdir,
                profile=stats,
            )
            print_profile(stats, f"pipeline on {kind} events (cProfile, slower than unprofiled)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
