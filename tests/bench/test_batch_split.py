"""bench/batch_split.py tells the main process of compute and report from their helper process."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH_DIR))

from batch_split import CONFIG, measure

from slaengine.synthetic import generate_events, plan_for_days


def test_the_helper_process_is_measured_apart_from_the_main_process(tmp_path: Path) -> None:
    log = tmp_path / "events.ndjson"
    events = generate_events(plan_for_days(datetime(2026, 10, 3, tzinfo=UTC), 2, seed=1))
    log.write_text("".join(json.dumps(event) + "\n" for event in events))

    compute = measure(["compute", "--events", str(log), "--config", str(CONFIG)])
    report = measure(
        [
            *("report", "--month", "2026-10", "--events", str(log)),
            *("--config", str(CONFIG), "--out", str(tmp_path / "report.pdf")),
        ]
    )

    assert compute["main_cpu_s"] > 0 and compute["helper_cpu_s"] > 0  # orders, projections
    # and the forecasts: their imports alone take more than a second
    assert report["main_cpu_s"] > 0 and report["helper_cpu_s"] > compute["helper_cpu_s"] + 0.1
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")
