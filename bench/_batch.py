"""Batch mode: ``slaengine compute`` and ``slaengine report`` over a generated month, whole process.

Each command runs ``runs`` times after one warm-up run; wall seconds, CPU
seconds (user + system of the child, from ``wait4``) and peak RSS of each run,
the median quoted. The same figures come from ``/usr/bin/time -v``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _real_worker import REPO_ROOT

from slaengine.settings import DEFAULT_CONFIG


@dataclass
class Timing:
    command: str
    wall_s: float  # medians over the runs
    cpu_s: float
    max_rss_mb: float
    runs: int
    exit_codes: list[int]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure_child(command: list[str], stderr_path: str) -> dict[str, Any]:
    """Run ``command`` and return its wall time, CPU time and peak RSS.

    Runs inside a small launcher process (see ``__main__``): a child's peak RSS
    includes the memory of the process it was forked from, and the bench itself
    holds large data sets.
    """
    started = time.perf_counter()
    with open(stderr_path, "ab") as err:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
    return {
        "wall_s": time.perf_counter() - started,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "max_rss_mb": usage.ru_maxrss / 1024,
        "code": os.waitstatus_to_exitcode(status),
    }


def time_command(label: str, args: list[str], runs: int, log: Path) -> Timing:
    walls: list[float] = []
    cpus: list[float] = []
    rss: list[float] = []
    codes: list[int] = []
    for index in range(runs + 1):  # the first is a warm-up (imports, page cache)
        launcher = subprocess.run(
            [sys.executable, __file__, str(log), sys.executable, "-m", "slaengine.cli", *args],
            check=True,
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
        )
        run = json.loads(launcher.stdout)
        if run["code"] != 0:
            raise RuntimeError(f"slaengine {' '.join(args)} exited {run['code']}; see {log}")
        if index:
            walls.append(run["wall_s"])
            cpus.append(run["cpu_s"])
            rss.append(run["max_rss_mb"])
            codes.append(run["code"])
    return Timing(label, statistics.median(walls), statistics.median(cpus), max(rss), runs, codes)


def run_batch(
    workdir: Path, month: str | None, days: float | None, runs: int
) -> tuple[int, list[Timing]]:
    """Generate the events (one calendar month, or ``days`` ending now), then time both."""
    events = workdir / "batch.ndjson"
    span = ["--month", month] if month else ["--days", f"{days:g}"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "slaengine.cli",
            "generate",
            *span,
            "--out",
            str(events),
            "--no-progress",
        ],
        check=True,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
    )
    count = sum(1 for _ in events.open("rb"))
    report_month = month or time.strftime("%Y-%m", time.gmtime())
    print(
        f"  {count:,} events, {events.stat().st_size / 1e6:.0f} MB; {runs} run(s) each after a "
        "warm-up",
        flush=True,
    )
    compute = time_command(
        "slaengine compute",
        ["compute", "--events", str(events), "--config", str(DEFAULT_CONFIG), "--format", "json"],
        runs,
        workdir / "compute.log",
    )
    report = time_command(
        "slaengine report (pdf)",
        [
            "report",
            "--month",
            report_month,
            "--events",
            str(events),
            "--config",
            str(DEFAULT_CONFIG),
            "--out",
            str(workdir / "report.pdf"),
        ],
        runs,
        workdir / "report.log",
    )
    return count, [compute, report]


if __name__ == "__main__":  # the launcher: python _batch.py STDERR_LOG COMMAND...
    print(json.dumps(measure_child(sys.argv[2:], sys.argv[1])))
