"""``slaengine worker`` recording the CPU time of each /metrics body it builds.

    python bench/_timed_worker.py TIMES_FILE worker [worker flags ...]

Appends one line per /metrics request to TIMES_FILE: the milliseconds of main-thread CPU
spent building the body (settling the global view, rendering the SLOs, the other collectors).
The process-CPU accounting of ``--scrape-only`` also counts whatever else the worker did in
the same seconds (flushes, the evaluator, the report scheduler): a difference of two such
stretches moves by several ms per scrape from one run to the next. This is the scrape alone,
without aiohttp's request parsing and response writing around it.

With ``SCRAPE_PROFILE=FILE`` in the environment, the default bodies built (not
``?windows=all``) are also profiled (cProfile, only the body's own calls) and the stats of
all of them so far are written to FILE after each body (``python -m pstats FILE``): where a
scrape's CPU goes in the real worker.
"""

from __future__ import annotations

import cProfile
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    times_path, argv = Path(sys.argv[1]), sys.argv[2:]
    sys.path.insert(0, str(REPO_ROOT))  # as `python -m slaengine.cli` run from the repository
    import slaengine.http.app as http_app
    from slaengine.cli import main as slaengine_main

    exposition = http_app.exposition
    profile_path = os.environ.get("SCRAPE_PROFILE")
    profile = cProfile.Profile() if profile_path else None

    def timed(registry: Any, every_window: bool = False) -> bytes:
        profiled = None if every_window else profile
        started = time.thread_time()
        if profiled is not None:
            profiled.enable()
        body = exposition(registry, every_window=every_window)
        if profiled is not None:
            profiled.disable()
        spent_ms = (time.thread_time() - started) * 1000
        if profiled is not None and profile_path:
            profiled.dump_stats(profile_path)
        with times_path.open("a") as out:
            out.write(f"{spent_ms:.3f}\n")
        return body

    http_app.exposition = timed  # what the /metrics handler calls
    return slaengine_main(argv)


if __name__ == "__main__":
    sys.exit(main())
