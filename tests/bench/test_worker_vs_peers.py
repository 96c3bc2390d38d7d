"""The benchmark harness's arguments and its correctness checks (no benchmark is run here)."""

from __future__ import annotations

import copy
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH_DIR))

from _aggregate import differences, latency_good_counts, reference, worker_differences
from _history import cpu_shares, tenths, topic_shares
from _pipeline_events import generate_requests
from _real_worker import Followed, Sample, restamp_window_start
from worker_vs_peers import QUICK, parse_args

END_MS = 1_764_460_800_000  # 2025-11-30T00:00Z


def test_help_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH_DIR / "worker_vs_peers.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--history-months" in result.stdout and "--quick" in result.stdout


def test_quick_shrinks_every_default_but_an_explicit_flag_wins() -> None:
    args = parse_args(["--quick", "--events", "5000"])
    assert args.events == 5000
    assert args.envelope_events == QUICK["envelope_events"] < parse_args([]).envelope_events
    assert args.rounds == 1 and args.history_months == QUICK["history_months"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--events", "10"], "--events must be at least 1000"),
        (["--batch-month", "2026/10"], "--batch-month must be YYYY-MM"),
        (["--history-months", "-1"], "--history-months must be >= 0"),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_contender_off_by_one_event_or_one_sketch_bin_is_not_exact() -> None:
    events = list(generate_requests(3000, END_MS))
    expected = reference(events)
    assert differences(expected, reference(events)) == []
    assert differences(expected, reference(events[:-1]))  # one event lost
    recounted = copy.deepcopy(expected)
    recounted["minutes"]["orders-api"][next(iter(recounted["minutes"]["orders-api"]))][1] -= 1
    assert differences(expected, recounted) == ["orders-api: 1 minutes differ, 0 unexpected"]
    shifted = copy.deepcopy(events)
    for event in shifted[:200]:
        event["latency_ms"] *= 50  # enough to move the 95th percentile
    assert any("p95" in problem for problem in differences(expected, reference(shifted)))


def test_worker_answer_is_checked_against_the_reference() -> None:
    events = list(generate_requests(3000, END_MS))
    expected, good_latency = reference(events), latency_good_counts(events)
    orders = sum(1 for e in events if e["service"] == "orders-api")
    catalog = len(events) - orders
    orders_good = sum(1 for e in events if e["service"] == "orders-api" and e["status"] < 500)
    catalog_good = sum(1 for e in events if e["service"] == "catalog-api" and e["status"] < 500)
    minutes = len(expected["minutes"]["orders-api"])
    answer = {
        "slos": [
            {"name": "api-availability", "window": "30d", "good": orders_good, "total": orders},
            {
                "name": "catalog-availability",
                "window": "30d",
                "good": catalog_good,
                "total": catalog,
            },
            {
                "name": "api-latency",
                "window": "30d",
                "good": good_latency["orders-api"],
                "total": orders,
                "p95_ms": expected["p95_ms"]["orders-api"],
            },
            {"name": "api-uptime", "window": "30d", "good": minutes, "total": minutes},
        ]
    }
    assert worker_differences(expected, good_latency, answer) == []
    answer["slos"][1]["total"] -= 1
    answer["slos"][2]["p95_ms"] *= 1.02
    problems = worker_differences(expected, good_latency, answer)
    assert len(problems) == 2
    assert problems[0].startswith("catalog-availability") and "p95" in problems[1]


def test_tenths_show_a_replay_that_slows_down_in_its_second_half() -> None:
    # 1,000 events a second for 5 s, then 250 a second for 20 s: 10,000 events in all
    followed = Followed()
    applied = 0
    for second in range(26):
        followed.samples.append(Sample(float(second), 0.0, 0, applied))
        applied = min(10_000, applied + (1000 if second < 5 else 250))
    rates = tenths(followed, 10_000)
    assert rates[:5] == pytest.approx([1000.0] * 5)
    assert rates[5:] == pytest.approx([250.0] * 5)


def test_cpu_share_per_tenth_tells_waiting_from_working() -> None:
    # 1,000 events a second throughout; the worker is busy for the first half, idle 80 %
    # of the time in the second
    followed = Followed()
    cpu = 0.0
    for second in range(11):
        followed.samples.append(Sample(float(second), cpu, 0, second * 1000))
        cpu += 1.0 if second < 5 else 0.2
    assert cpu_shares(followed, 10_000) == pytest.approx([1.0] * 5 + [0.2] * 5)


def test_topic_share_per_tenth_shows_which_topic_a_slow_stretch_was_spent_on() -> None:
    # 5,000 request events in the first 5 s, then 5,000 order events in the next 50 s
    followed = Followed()
    for second in range(56):
        requests = min(5000, second * 1000)
        orders = 0 if second <= 5 else (second - 5) * 100
        followed.samples.append(
            Sample(
                float(second),
                0.0,
                0,
                requests + orders,
                {"sla.requests": requests, "sla.orders": orders},
            )
        )
    shares = topic_shares(followed, 10_000)
    assert [s["sla.orders"] for s in shares] == pytest.approx([0.0] * 5 + [1.0] * 5)
    assert tenths(followed, 10_000) == pytest.approx([1000.0] * 5 + [100.0] * 5)


class SlowCounterWorker:
    """The bench's view of a worker whose /metrics read passes a read barrier: the read takes
    time, during which the worker applies events and spends CPU."""

    def __init__(self) -> None:
        self.cpu, self.applied = 1.0, 0

    def cpu_seconds(self) -> float:
        return self.cpu

    def main_thread_schedstat(self) -> tuple[float, float]:
        return self.cpu, 0.0

    def processed_by_topic(self) -> dict[str, int]:
        time.sleep(0.05)  # the scrape waits at the barrier while the worker works
        self.cpu += 0.5
        self.applied += 40_000
        return {"sla.requests": self.applied}


def test_the_window_starts_where_the_counter_was_read_not_before_the_scrape() -> None:
    worker = SlowCounterWorker()
    before = time.perf_counter()
    sample = Sample(before, worker.cpu_seconds(), 0)
    sample.by_topic = worker.processed_by_topic()
    sample.processed = sum(sample.by_topic.values())
    restamp_window_start(worker, sample)
    assert sample.at >= before + 0.05 and sample.cpu_s == 1.5
    # then 60,000 more events on 0.5 CPU-s: 120,000 per CPU-s, not 100,000 / 1.0
    followed = Followed([sample, Sample(sample.at + 1.0, 2.0, 0)], complete=True)
    assert followed.rates(100_000)["events_per_cpu_s"] == pytest.approx(120_000)


def test_the_event_loop_idle_share_counts_the_busy_stretch_not_the_commit_tail() -> None:
    """CPU-bound means the event loop never idles while there is work; the tail that only
    waits for the last flush and commit is not part of that question."""
    followed = Followed()
    on_cpu = waited = 0.0
    # 10 polls of 0.1 s: on a CPU 0.07 s and queued 0.02 s each (idle 10 %), then 5 idle polls
    for poll in range(16):
        sample = Sample(poll * 0.1, on_cpu, 0, processed=1 if poll == 0 else None)
        sample.main_on_cpu_s, sample.main_runnable_wait_s = on_cpu, waited
        followed.samples.append(sample)
        if poll < 10:
            on_cpu, waited = on_cpu + 0.07, waited + 0.02
    assert followed.main_thread_idle(followed.samples[0]) == pytest.approx(0.10)
    idle = Followed(samples=[Sample(0.0, 0.0, 0), Sample(0.1, 0.0, 0)])
    assert math.isnan(idle.main_thread_idle(idle.samples[0]))  # never busy: no verdict
