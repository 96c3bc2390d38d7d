"""Two real `slaengine worker` processes on the real broker: a silence created through worker A
mutes an alert that worker B routes; the local PagerDuty contract server (`slaengine dev
pagerduty`) receives what is not silenced through the real pagerduty client."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from slaengine.alerts import Alert
from slaengine.router.config import DEFAULT_ROUTING_FILE, load_routing_config
from streams.router import GroupKeys
from tests.streaming.conftest import REPO_ROOT, WorkerProcess, free_port
from tests.streaming.test_worker_on_kafka import wait_for

pytestmark = pytest.mark.slow
TOKEN = "across-workers-token"
PARTITIONS = 4


@pytest.fixture
def pagerduty_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "pagerduty.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "slaengine.cli",
            "dev",
            "pagerduty",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO_ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: events(url) == [], timeout=30, what="the local PagerDuty")
    monkeypatch.setenv("SLAENGINE_API_TOKEN", TOKEN)
    monkeypatch.setenv("SLAENGINE_PAGERDUTY_ROUTING_KEY", "0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("SLAENGINE_PAGERDUTY_EVENTS_URL", url)
    yield url
    server.terminate()
    server.wait(10)


def events(url: str) -> list[dict[str, Any]] | None:
    try:
        with urllib.request.urlopen(url + "/_dev/events", timeout=5) as response:
            return list(json.loads(response.read())["events"])
    except OSError:
        return None


def post(worker: WorkerProcess, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        worker.url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def routed_partitions(worker: WorkerProcess) -> set[int]:
    """The sla.alerts partitions whose alert groups this worker routes now (from its log)."""
    owned: set[int] = set()
    for line in worker.log_text().splitlines():
        if "alert router took partition" in line:
            owned.add(int(line.split("took partition ")[1].split()[0]))
        elif "alert router handed partition" in line:
            owned.discard(int(line.split("handed partition ")[1].split()[0]))
    return owned


def settled(a: WorkerProcess, b: WorkerProcess) -> bool:
    mine, theirs = routed_partitions(a), routed_partitions(b)
    return bool(mine) and bool(theirs) and not mine & theirs and len(mine | theirs) == PARTITIONS


def am_alert(slo: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {
            "alertname": "SloErrorBudgetBurn",
            "severity": "critical",
            "service": "orders-api",
            "slo": slo,
        },
        "annotations": {"summary": f"{slo} burns its error budget"},
        "startsAt": "2026-11-30T06:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": slo,
    }


def slos_routed_on(partitions: set[int], count: int) -> list[str]:
    """SLO names whose alert group lands on one of ``partitions`` of sla.alerts."""
    keys, partitioner, every = (
        GroupKeys(load_routing_config(DEFAULT_ROUTING_FILE)),
        DefaultPartitioner(),
        list(range(PARTITIONS)),
    )
    found = []
    for n in range(1000):
        slo = f"slo-{n}"
        alert = Alert.from_json(
            {
                "labels": am_alert(slo)["labels"],
                "status": "firing",
                "starts_at": "2026-11-30T06:00:00+00:00",
            }
        )
        if partitioner(keys(alert), every, every) in partitions:
            found.append(slo)
            if len(found) == count:
                return found
    raise AssertionError("no SLO name lands on the wanted partitions")


def test_a_silence_created_through_worker_a_mutes_an_alert_routed_on_worker_b(
    kafka_bootstrap: str,
    topic_prefix: str,
    tmp_path: Path,
    workers: list[WorkerProcess],
    pagerduty_url: str,
) -> None:
    a = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "a", worker_id="worker-a").start()
    workers.append(a)
    b = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "b", worker_id="worker-b").start()
    workers.append(b)
    wait_for(lambda: settled(a, b), timeout=90, what="the alert groups to spread over both workers")
    silenced, control = slos_routed_on(routed_partitions(b), 2)

    post(
        a,
        "/api/v1/silences",
        {"matchers": [f'slo="{silenced}"'], "duration": "1h", "created_by": "ops"},
    )
    payload = {
        "version": "4",
        "status": "firing",
        "receiver": "slaengine",
        "groupKey": "k",
        "truncatedAlerts": 0,
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": [am_alert(silenced), am_alert(control)],
    }
    assert post(a, "/api/v1/alertmanager", payload) == {"status": "accepted", "alerts": 2}
    wait_for(lambda: len(events(pagerduty_url) or []) >= 1, timeout=30, what="the control page")
    time.sleep(2)  # group_wait is 0s for pages: the silenced one would have gone out by now
    sent = [json.dumps(e["event"]) for e in events(pagerduty_url) or []]
    assert len(sent) == 1 and control in sent[0], sent
    assert settled(a, b)  # no rebalance meanwhile
    # the page went out from worker B (and the silenced alert's group, keyed alike, is B's too)
    delivered = "slaengine_alert_deliveries_total"
    assert (
        a.metric(delivered, receiver="pagerduty-high"),
        b.metric(delivered, receiver="pagerduty-high"),
    ) == (0, 1)
