"""``slaengine worker`` recording the CPU time of each /metrics body it builds.

    python bench/_timed_worker.py TIMES_FILE worker [worker flags ...]

Appends one line per /metrics request to TIMES_FILE: the milliseconds of main-thread CPU
spent building the body (settling the global view, rendering the SLOs, the other collectors).
The process-CPU accounting of ``--scrape-only`` also counts whatever else the worker did in
the same seconds (flushes, the evaluator, the report scheduler): a difference of two such
stretches moves by several ms per scrape from one run to the next. This is the scrape alone,
without aiohttp's request parsing and response writing around it.
"""

from __future__ import annotations

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

    def timed(registry: Any, every_window: bool = False) -> bytes:
        started = time.thread_time()
        body = exposition(registry, every_window=every_window)
        spent_ms = (time.thread_time() - started) * 1000
        with times_path.open("a") as out:
            out.write(f"{spent_ms:.3f}\n")
        return body

    http_app.exposition = timed  # what the /metrics handler calls
    return slaengine_main(argv)


if __name__ == "__main__":
    sys.exit(main())
