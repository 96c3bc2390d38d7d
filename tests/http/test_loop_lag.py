"""The event loop stays responsive while the heavy endpoints are hammered (issue 12, defect 7).

Client threads send capacity forecasts, alert replays, report renderings, 1,000-alert intake
requests and scrapes at the API process for a bounded time, while another thread polls
``/metrics`` for ``slaengine_event_loop_lag_seconds`` (the largest loop delay of the last 2 s)
and creates silences with the token. The machine is shared, so the bound is the issue's 100 ms,
not a tight benchmark.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from .conftest import TOKEN, ApiServer

AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
HAMMER_SECONDS = 10.0
LAG_LIMIT_S = 0.1


def loop_lag(server: ApiServer) -> float:
    text = server.get("/metrics").body.decode()
    [line] = [
        line for line in text.splitlines() if line.startswith("slaengine_event_loop_lag_seconds ")
    ]
    return float(line.split()[1])


def intake_body() -> bytes:
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "Load", "severity": "warning", "service": f"svc-{n}"},
            "startsAt": "2026-11-01T00:00:00Z",
        }
        for n in range(1000)
    ]
    return json.dumps({"version": "4", "status": "firing", "alerts": alerts}).encode()


def heavy_requests() -> list[tuple[str, str, bytes | None]]:
    now = datetime.now(UTC)
    replay = (
        f"/api/v1/alerts/replay?start={(now - timedelta(days=1)).isoformat()}"
        f"&end={now.isoformat()}&step=30s"
    ).replace("+", "%2B")
    return [
        ("GET", "/api/capacity/report?rows=true", None),
        ("GET", replay, None),
        ("POST", f"/api/v1/reports?month={now:%Y-%m}", None),
        ("POST", "/api/v1/alertmanager", intake_body()),
        ("GET", "/api/v1/slos", None),
        ("GET", "/metrics", None),
    ]


def test_the_loop_lag_stays_under_100_ms_while_heavy_endpoints_are_hammered(
    api_server: ApiServer,
) -> None:
    requests = heavy_requests()
    # warm up once, like a worker's startup does (its first capacity refresh): first uses
    # import and compile modules (scipy, sklearn, reportlab) while holding the GIL
    for method, path, body in requests:
        api_server.request(method, path, body=body, headers=AUTH, timeout=60)
    time.sleep(2.5)  # let the warm-up leave the 2 s lag window
    assert loop_lag(api_server) < LAG_LIMIT_S
    stop = threading.Event()
    statuses: Counter[tuple[str, int]] = Counter()
    lags: list[float] = []
    silence_seconds: list[float] = []

    def hammer(offset: int) -> None:
        n = offset
        while not stop.is_set():
            method, path, body = requests[n % len(requests)]
            answer = api_server.request(method, path, body=body, headers=AUTH, timeout=60)
            statuses[(path.split("?")[0], answer.status)] += 1
            n += 1

    def watch() -> None:
        while not stop.is_set():
            lags.append(loop_lag(api_server))
            started = time.perf_counter()
            answer = api_server.request(
                "POST",
                "/api/v1/silences",
                headers=AUTH,
                body=json.dumps(
                    {
                        "matchers": ['service="checkout"'],
                        "duration": "1h",
                        "created_by": "load-test",
                    }
                ).encode(),
            )
            assert answer.status == 201, answer.body
            silence_seconds.append(time.perf_counter() - started)
            time.sleep(0.5)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(6)]
    threads.append(threading.Thread(target=watch))
    for thread in threads:
        thread.start()
    time.sleep(HAMMER_SECONDS)
    stop.set()
    for thread in threads:
        thread.join(timeout=90)
    lags.append(loop_lag(api_server))

    print(
        f"loop lag max {max(lags) * 1000:.1f} ms over {len(lags)} scrapes; silences max "
        f"{max(silence_seconds) * 1000:.0f} ms; answers {dict(statuses)}"
    )
    assert max(lags) < LAG_LIMIT_S, lags
    assert max(silence_seconds) < 1.0, silence_seconds  # was 14.5 s behind 8 forecasts
    assert all(status in (200, 429, 503) for (_, status) in statuses), statuses
    done = {path for (path, status) in statuses if status == 200}
    assert {
        "/api/capacity/report",
        "/api/v1/reports",
        "/api/v1/alertmanager",
        "/metrics",
    } <= done, statuses
