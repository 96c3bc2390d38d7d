"""A small real deployment: worker on the real broker, PagerDuty stand-in, real Prometheus.

The worker pattern is copied from tests/streaming/conftest.py (importlib mode makes importing
another folder's conftest awkward). Prometheus runs through scripts/prometheus-local with the
deploy/prometheus/prometheus.yml of the compose stack, its DNS discovery swapped for the
worker's local port.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
CONFIG = REPO_ROOT / "slaengine" / "data" / "slo.yaml"
PROMETHEUS_LOCAL = REPO_ROOT / "scripts" / "prometheus-local"
API_TOKEN = "deploy-test-token"
ROUTING_KEY = "deploytest" + "0" * 22  # PagerDuty wants 32 characters


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_json(url: str, data: bytes | None = None, method: str | None = None) -> Any:
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (OSError, ValueError, KeyError) as err:
            last_error = err
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} ({last_error})")


@dataclass
class Process:
    """A slaengine CLI subprocess with its log in a file."""

    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "slaengine.cli", *self.argv],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                cwd=REPO_ROOT,
            )
        return self

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(
                f"{self.argv[0]} exited with {self.process.returncode}:\n{self.log_tail()}"
            )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


@dataclass
class Prometheus:
    port: int
    state_dir: Path
    env: dict[str, str] = field(default_factory=dict)  # e.g. PROMETHEUS_BIN

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, *command: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
        args = [str(PROMETHEUS_LOCAL), "--port", str(self.port)]
        if config is not None:
            args += ["--config", str(config)]
        return subprocess.run(
            [*args, *command],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PROMETHEUS_LOCAL_DIR": str(self.state_dir), **self.env},
            check=False,
        )

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = http_json(f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        assert body["status"] == "success", body
        return body["data"]["result"]

    def api(self, path: str) -> Any:
        return http_json(f"{self.url}{path}")["data"]


def local_prometheus_config(port: int, rules_glob: str) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with the worker on 127.0.0.1:port and 1 s intervals."""
    yaml = YAML(typ="safe")
    config = yaml.load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [rules_glob]
    config.pop("alerting", None)  # no Alertmanager here; routing has tests of its own
    jobs = [job for job in config["scrape_configs"] if job["job_name"] == "slaengine"]
    assert len(jobs) == 1, "deploy/prometheus/prometheus.yml lost its 'slaengine' job"
    job = jobs[0]
    del job["dns_sd_configs"]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
    config["scrape_configs"] = [job]
    return config


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def write_events(path: Path, events: Iterator[dict[str, Any]]) -> int:
    count = 0
    with path.open("w") as out:
        for event in events:
            out.write(json.dumps(event, separators=(",", ":")) + "\n")
            count += 1
    return count


def invalid_requests(now: datetime) -> list[dict[str, Any]]:
    """Requests the worker must dead-letter, one per kind of mistake."""
    base = {
        "ts": iso(now - timedelta(seconds=30)),
        "service": "orders-api",
        "endpoint": "GET /orders",
        "status": 200,
        "latency_ms": 12.0,
    }
    return [
        dict(base, status=700),
        dict(base, latency_ms=-1),
        {k: v for k, v in base.items() if k != "service"},
        dict(base, ts="yesterday"),
    ]


@dataclass
class DeployStack:
    prefix: str
    worker_url: str
    worker: Process
    pagerduty_url: str
    prometheus: Prometheus
    rules_dir: Path
    events: int

    def worker_json(self, path: str) -> Any:
        return http_json(self.worker_url + path)

    def worker_metrics(self) -> str:
        """What the stack's Prometheus scrapes (deploy/prometheus/prometheus.yml: every window)."""
        with urllib.request.urlopen(
            self.worker_url + "/metrics?windows=all", timeout=10
        ) as response:
            return response.read().decode()


def produce(bootstrap: str, prefix: str, path: Path, topic: str | None = None) -> None:
    argv = [
        sys.executable,
        "-m",
        "slaengine.cli",
        "produce",
        str(path),
        "--bootstrap",
        bootstrap,
        "--topic-prefix",
        prefix,
        "--batch-size",
        "50",
        "--no-progress",
    ]
    if topic:
        argv += ["--topic", topic]
    subprocess.run(argv, check=True, cwd=REPO_ROOT, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def deploy_stack(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DeployStack]:
    """Worker + PagerDuty stand-in + Prometheus, fed 60 days of resources, 3 hours of traffic
    with an outage of orders-api that is still going on, and a few invalid events."""
    from slaengine.synthetic import Incident, TrafficPlan, generate_events

    if shutil.which("prometheus") is None:
        pytest.fail(
            "prometheus not installed: apt-get install -y prometheus "
            "(or scripts/prometheus-local --install start)"
        )
    root = tmp_path_factory.mktemp("deploy")
    prefix = f"d{uuid.uuid4().hex[:8]}."
    now = datetime.now(UTC).replace(second=0, microsecond=0)

    # The routing config sends every alert to PagerDuty (the stand-in) within a second; the
    # stand-in fails the first two deliveries so retries show up too.
    routing = root / "routing.yaml"
    routing.write_text(
        "delivery: {initial_backoff: 200ms, max_backoff: 1s, max_age: 10m}\n"
        "route:\n  receiver: pager\n  group_by: [alertname, slo]\n"
        "  group_wait: 1s\n  group_interval: 5s\n  repeat_interval: 1h\n"
        "receivers:\n  - name: pager\n    pagerduty: {urgency: high}\n"
    )
    with ExitStack() as cleanup:
        pd_port = free_port()
        pagerduty = Process(
            ["dev", "pagerduty", "--port", str(pd_port)], root / "pagerduty.log"
        ).start()
        cleanup.callback(pagerduty.stop)
        pagerduty_url = f"http://127.0.0.1:{pd_port}"
        wait_for(
            lambda: http_json(pagerduty_url + "/_dev/events") is not None,
            30,
            "the PagerDuty stand-in",
        )
        http_json(pagerduty_url + "/_dev/faults", json.dumps({"status": 503, "count": 2}).encode())

        # Events go in before the worker starts, so its first capacity report (cached for a
        # minute) already sees 60 days of resources.
        resources = root / "resources.ndjson"
        write_events(
            resources,
            generate_events(
                TrafficPlan(
                    start=now - timedelta(days=60),
                    end=now - timedelta(days=2),
                    seed=4,
                    requests_per_minute=0,
                    orders_per_hour=0,
                    projection_samples_per_minute=0,
                )
            ),
        )
        orders = root / "orders.ndjson"  # shipping takes hours: orders need days to complete
        write_events(
            orders,
            generate_events(
                TrafficPlan(
                    start=now - timedelta(days=2),
                    end=now - timedelta(hours=3),
                    seed=5,
                    requests_per_minute=0,
                    orders_per_hour=30,
                    projection_samples_per_minute=0,
                )
            ),
        )
        traffic = root / "traffic.ndjson"
        outage = Incident(
            "orders-api", int((now - timedelta(minutes=20)).timestamp() * 1000), 25, 1.0, 3.0
        )
        count = write_events(
            traffic,
            generate_events(
                TrafficPlan(start=now - timedelta(hours=3), end=now, seed=3, incidents=[outage])
            ),
        )
        invalid = root / "invalid.ndjson"
        write_events(invalid, iter(invalid_requests(now)))
        for path in (resources, orders, traffic):
            produce(kafka_bootstrap, prefix, path)
        produce(kafka_bootstrap, prefix, invalid, topic=prefix + "sla.requests")

        worker_port = free_port()
        worker = Process(
            [
                "worker",
                "--store",
                "rocksdb://",
                "--data-dir",
                str(root / "worker"),
                "--http-port",
                str(worker_port),
                "--config",
                str(CONFIG),
                "--flush-interval",
                "0.2",
                "--worker-id",
                "deploy-1",
            ],
            root / "worker.log",
            env={
                "SLAENGINE_TOPIC_PREFIX": prefix,
                "SLAENGINE_KAFKA_BOOTSTRAP": kafka_bootstrap,
                "SLAENGINE_API_TOKEN": API_TOKEN,
                "SLAENGINE_ROUTING_CONFIG": str(routing),
                "SLAENGINE_PAGERDUTY_ROUTING_KEY": ROUTING_KEY,
                "SLAENGINE_PAGERDUTY_EVENTS_URL": pagerduty_url,
                "SLAENGINE_CAPACITY_REFRESH_S": "5",
            },
        ).start()
        cleanup.callback(worker.stop)
        worker_url = f"http://127.0.0.1:{worker_port}"
        prometheus = Prometheus(free_port(), root / "prometheus-local")
        cleanup.callback(prometheus.run, "stop")

        def worker_ready() -> bool:
            worker.check_alive()
            return http_json(worker_url + "/health")["status"] == "ok"

        def requests_counted() -> bool:  # /api/v1/slos, not /metrics: no capacity report yet
            rows = http_json(worker_url + "/api/v1/slos")["slos"]
            return (
                sum(
                    r["total"]
                    for r in rows
                    if r["window"] == "1d"
                    and r["service"] in ("orders-api", "catalog-api")
                    and r["sli"] == "availability"
                )
                >= requests
            )

        requests = sum(1 for line in traffic.open() if '"status"' in line)
        wait_for(worker_ready, 90, "the worker's /health")
        wait_for(requests_counted, 60, f"{requests} requests counted")
        time.sleep(1)  # resources share the worker's consumer: give them a moment more
        rules_dir = DEPLOY / "prometheus" / "rules"
        config = root / "prometheus.yml"
        YAML(typ="safe").dump(
            local_prometheus_config(worker_port, str(rules_dir / "*.yml")), config.open("w")
        )
        started = prometheus.run("start", config=config)
        assert started.returncode == 0, started.stdout + started.stderr
        yield DeployStack(prefix, worker_url, worker, pagerduty_url, prometheus, rules_dir, count)
