"""``slaengine worker`` under cProfile counting CPU time, between two signals only.

    python bench/_profiled_worker.py STATS_FILE worker [worker flags ...]

SIGRTMIN+1 starts the profiler, SIGRTMIN+2 stops it and writes STATS_FILE, so
the profile covers the measured stretch (no imports, start-up or idle waits;
mode's worker already uses SIGUSR1/SIGUSR2). Only the main thread, where the
event loop and every agent run, is profiled.
"""

from __future__ import annotations

import cProfile
import signal
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
START, STOP = signal.SIGRTMIN + 1, signal.SIGRTMIN + 2


def main() -> int:
    stats_path, argv = sys.argv[1], sys.argv[2:]
    sys.path.insert(0, str(REPO_ROOT))  # as `python -m slaengine.cli` run from the repository
    from slaengine.cli import main as slaengine_main

    profiler = cProfile.Profile(time.process_time)

    def start(*_: Any) -> None:
        profiler.enable()

    def stop(*_: Any) -> None:
        profiler.disable()
        profiler.dump_stats(stats_path)

    signal.signal(START, start)
    signal.signal(STOP, stop)
    return slaengine_main(argv)


if __name__ == "__main__":
    sys.exit(main())
