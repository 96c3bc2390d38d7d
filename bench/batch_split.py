"""Batch mode's critical path: ``slaengine compute`` and ``slaengine report`` over one event log,
with the CPU of the main process and of its helper process apart.

``bench/_batch.py`` (the batch rows of worker_vs_peers.py) times whole process trees; here each
run is a fresh interpreter that runs the CLI in-process and reads ``RUSAGE_SELF`` (the main
process: imports, the requests' SLIs, the PDF) and ``RUSAGE_CHILDREN`` (the helper process
beside it: the orders', projections' and resources' SLIs, and the report's forecasts) at the
end. On two free cores the wall time is about the larger of the two.

    python bench/batch_split.py /tmp/month.ndjson --month 2026-10 --runs 3
    (make the log with: slaengine generate --month 2026-10 --out /tmp/month.ndjson)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG = REPO_ROOT / "slaengine" / "data" / "slo.yaml"

# runs in the child interpreter: the CLI, then the CPU of this process and of its children
_MEASURE = """
import contextlib, io, json, resource, sys, time
started = time.perf_counter()
from slaengine.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
me, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
print(json.dumps({"code": code, "wall_s": time.perf_counter() - started,
                  "main_cpu_s": me.ru_utime + me.ru_stime,
                  "helper_cpu_s": children.ru_utime + children.ru_stime}))
"""


def measure(args: list[str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    if result["code"]:
        raise RuntimeError(f"slaengine {' '.join(args)} exited {result['code']}: {done.stderr}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=Path, help="NDJSON event log")
    parser.add_argument("--month", required=True, help="the report's month, YYYY-MM")
    parser.add_argument("--runs", type=int, default=3, help="timed runs after one warm-up")
    options = parser.parse_args()
    out = Path(tempfile.mkdtemp()) / "report.pdf"
    commands = {
        "compute": ["compute", "--events", str(options.events), "--config", str(CONFIG)],
        "report": [
            "report",
            *("--month", options.month, "--events", str(options.events)),
            *("--config", str(CONFIG), "--out", str(out)),
        ],
    }
    for name, args in commands.items():
        runs = [measure(args) for _ in range(options.runs + 1)][1:]
        medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        each = " / ".join(f"{run['main_cpu_s']:.2f}" for run in runs)
        print(
            f"{name:8} wall {medians['wall_s']:.2f} s, main process CPU {medians['main_cpu_s']:.2f}"
            f" s (runs: {each}), helper process CPU {medians['helper_cpu_s']:.2f} s; "
            f"load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
