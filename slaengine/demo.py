"""The one-command demo: local Kafka, two workers, PagerDuty and SMTP stand-ins, Prometheus,
a month and a half of events, a live outage that pages and resolves, then a summary.

Run through ``scripts/demo`` (which bootstraps the machine first). Every run uses its own
topic prefix and data folder under ``.data/demo/``, so re-running starts clean; Ctrl-C
stops every process this run started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from slaengine.resources import data_path
from slaengine.settings import add_bootstrap_argument

REPO = Path(__file__).resolve().parents[1]  # the checkout scripts/demo runs in: cwd, .data/demo/
CONFIG = data_path("slo.yaml")
ROUTING_KEY = "demo0routing0key000000000000000a"  # 32 characters, like a real integration key
PD_PORT, SMTP_PORT, PROM_PORT, WORKER_PORTS = 8025, 8026, 9090, (8001, 8002)


class Demo:
    def __init__(self, run_dir: Path, bootstrap: str) -> None:
        self.run_dir = run_dir
        self.bootstrap = bootstrap
        self.prefix = f"demo{run_dir.name}."
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    # ---- processes ---------------------------------------------------------

    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        log = (self.run_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        self.processes.append((name, process))

    def stop_all(self) -> None:
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _name, process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()

    def check_alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                raise SystemExit(
                    f"demo: {name} exited ({process.returncode}); "
                    f"see {self.run_dir / (name + '.log')}"
                )

    # ---- steps -------------------------------------------------------------

    def start_services(self) -> None:
        cli = [sys.executable, "-m", "slaengine.cli"]
        self.spawn("pagerduty", [*cli, "dev", "pagerduty", "--port", str(PD_PORT)])
        self.spawn("smtp", [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{SMTP_PORT}"])
        routing = data_path("alert_rules/routing.yaml").read_text()
        routing = routing.replace(
            "host: localhost\n      port: 25", f"host: 127.0.0.1\n      port: {SMTP_PORT}"
        )
        (self.run_dir / "routing.yaml").write_text(routing)
        env = {
            "SLAENGINE_TOPIC_PREFIX": self.prefix,
            "SLAENGINE_KAFKA_BOOTSTRAP": self.bootstrap,
            "SLAENGINE_PAGERDUTY_ROUTING_KEY": ROUTING_KEY,
            "SLAENGINE_PAGERDUTY_EVENTS_URL": f"http://127.0.0.1:{PD_PORT}",
            "SLAENGINE_ROUTING_CONFIG": str(self.run_dir / "routing.yaml"),
            "SLAENGINE_API_TOKEN": "demo-token",
        }
        for index, port in enumerate(WORKER_PORTS, start=1):
            self.spawn(
                f"worker-{index}",
                [
                    *cli,
                    "worker",
                    "--config",
                    str(CONFIG),
                    "--http-port",
                    str(port),
                    "--data-dir",
                    str(self.run_dir / "data"),
                    "--worker-id",
                    f"worker-{index}",
                ],
                env,
            )
        self.start_prometheus()
        for port in WORKER_PORTS:
            wait_http(f"http://127.0.0.1:{port}/health", 120, self.check_alive)
        wait_http(f"http://127.0.0.1:{PD_PORT}/_dev/incidents", 30, self.check_alive)

    def start_prometheus(self) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            print(
                "demo: Debian's prometheus is not installed; skipping Prometheus "
                "(scripts/bootstrap installs it)"
            )
            return
        rules = self.run_dir / "slaengine-rules.yml"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "slaengine.cli",
                "rules",
                "generate",
                "--input",
                str(CONFIG),
                "--alert-rules",
                str(data_path("alert_rules/sla-thresholds.yaml")),
                "--out",
                str(rules),
            ],
            check=True,
            cwd=REPO,
            capture_output=True,
        )
        targets = ", ".join(f"'127.0.0.1:{p}'" for p in WORKER_PORTS)
        (self.run_dir / "prometheus.yml").write_text(
            "global: {scrape_interval: 5s, evaluation_interval: 15s}\n"
            f"rule_files: ['{rules}']\n"
            "scrape_configs:\n  - job_name: slaengine\n"
            f"    static_configs: [{{targets: [{targets}]}}]\n"
        )
        self.spawn(
            "prometheus",
            [
                binary,
                f"--config.file={self.run_dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.run_dir / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{PROM_PORT}",
            ],
        )

    def replay_history(self, start: datetime, end: datetime, seed: int) -> tuple[Path, int]:
        from slaengine.synthetic import TrafficPlan

        events = self.run_dir / "events.ndjson"
        plan = TrafficPlan(
            start=start, end=end, seed=seed, requests_per_minute=4.0, orders_per_hour=30.0
        )
        count = write_events(plan, events)
        print(f"demo: publishing {count:,} events to Kafka")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "slaengine.cli",
                "produce",
                str(events),
                "--bootstrap",
                self.bootstrap,
                "--topic-prefix",
                self.prefix,
                "--batch-size",
                "200",
            ],
            check=True,
            cwd=REPO,
        )
        return events, count

    def wait_processed(self, count: int, timeout: float = 600) -> None:
        from tqdm import tqdm

        with tqdm(total=count, unit="ev", desc="processing") as bar:
            deadline = time.monotonic() + timeout
            done = 0
            while done < count and time.monotonic() < deadline:
                self.check_alive()
                now = int(
                    sum(
                        metric(f"http://127.0.0.1:{p}", "slaengine_events_processed_total")
                        for p in WORKER_PORTS
                    )
                )
                bar.update(max(0, now - done))
                done = max(done, now)
                time.sleep(1)
        if done < count:
            raise SystemExit(
                f"demo: only {done} of {count} events processed within {timeout:.0f} s"
            )

    def live_outage(self, outage_s: float, timeout_s: float) -> list[dict[str, Any]]:
        """Real-time traffic with an outage of orders-api; returns PagerDuty incidents seen."""
        print(
            f"demo: live traffic with a {outage_s:.0f} s outage of orders-api; waiting for the "
            "page "
            "to fire and resolve (the burn-rate windows have to clear: several minutes)"
        )
        return asyncio.run(self._live(outage_s, timeout_s))

    async def _live(self, outage_s: float, timeout_s: float) -> list[dict[str, Any]]:
        from aiokafka import AIOKafkaProducer

        from slaengine.synthetic import PROJECTIONS

        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await producer.start()
        started = time.monotonic()
        incidents: list[dict[str, Any]] = []
        try:
            sequence = 0
            while time.monotonic() - started < timeout_s:
                failing = time.monotonic() - started < outage_s
                batch = []
                # 10 requests/s during the outage, then 300/s: a busy service dilutes the
                # outage in the 30-minute window soon enough to see the page resolve
                for _ in range(10 if failing else 300):
                    sequence += 1
                    batch.append(
                        {
                            "ts": int(time.time() * 1000),
                            "service": "orders-api",
                            "endpoint": "GET /orders/{id}",
                            "status": 503 if failing else 200,
                            "latency_ms": 900.0 if failing else 60.0,
                            "request_id": f"live-{sequence}",
                        }
                    )
                await producer.send_and_wait(
                    self.prefix + "sla.requests", json.dumps(batch).encode(), key=b"orders-api"
                )
                for projection in PROJECTIONS:  # the read models keep reporting their (small) lag
                    sample = {
                        "ts": int(time.time() * 1000),
                        "projection": projection,
                        "lag_ms": 120.0,
                    }
                    await producer.send_and_wait(
                        self.prefix + "sla.projections",
                        json.dumps(sample).encode(),
                        key=projection.encode(),
                    )
                await asyncio.sleep(1)
                if int(time.monotonic() - started) % 10 == 0:
                    incidents = pagerduty_incidents()
                    state = (
                        ", ".join(f"{i['title'][:60]} [{i['status']}]" for i in incidents)
                        or "none yet"
                    )
                    print(
                        f"  t+{time.monotonic() - started:4.0f}s "
                        f"{'OUTAGE' if failing else 'healthy'} "
                        f"- PagerDuty incidents: {state}",
                        flush=True,
                    )
                    outage_pages = [
                        i
                        for i in incidents
                        if "api-availability" in i["title"] and "SloErrorBudgetBurn" in i["title"]
                    ]
                    if (
                        not failing
                        and outage_pages
                        and all(i["status"] == "resolved" for i in outage_pages)
                    ):
                        break
        finally:
            await producer.stop()
        return pagerduty_incidents()


def write_events(plan: Any, path: Path) -> int:
    from tqdm import tqdm

    from slaengine.synthetic import generate_events

    minutes = int((plan.end - plan.start).total_seconds() // 60)
    count = 0
    with path.open("w") as out, tqdm(total=minutes, unit="min", desc="generating") as bar:
        last = ""
        for event in generate_events(plan):
            out.write(json.dumps(event, separators=(",", ":")) + "\n")
            count += 1
            if event["ts"][:16] != last:
                last = event["ts"][:16]
                bar.update(1)
    return count


def get_json(url: str, token: str | None = None) -> Any:
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {token}"} if token else {}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def metric(base: str, name: str) -> float:
    with urllib.request.urlopen(base + "/metrics", timeout=30) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((name + "{", name + " "))
    )


def wait_http(url: str, timeout: float, check: Any) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check()
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"demo: {url} did not answer within {timeout:.0f} s")


def pagerduty_incidents() -> list[dict[str, Any]]:
    return get_json(f"http://127.0.0.1:{PD_PORT}/_dev/incidents")["incidents"]


def print_summary(
    demo: Demo, events: Path, incidents: list[dict[str, Any]], report: Path | None
) -> None:
    at = datetime.now(UTC).isoformat()
    # any worker answers for every SLO (its global view of all partitions): ask the first
    url = f"http://127.0.0.1:{WORKER_PORTS[0]}/api/v1/slos?at={urllib.parse.quote(at)}"
    rows = {(row["name"], row["window"]): row for row in get_json(url)["slos"]}
    print(
        "\n=== SLOs (30-day rolling and current month; from one worker, which answers for all) ==="
    )
    print(f"{'SLO':24} {'window':15} {'SLI':>9} {'target':>7}  status")
    for (name, window), row in sorted(rows.items()):
        if window not in ("30d", "calendar-month"):
            continue
        value = row["good"] / row["total"] * 100 if row["total"] else None
        shown = f"{value:.3f}%" if value is not None else "no data"
        status = "no-data" if value is None else ("met" if value >= row["target"] else "breached")
        print(f"{name:24} {window:15} {shown:>9} {row['target']:>6}%  {status}")
    print("\n=== Incidents delivered to PagerDuty (local stand-in) ===")
    for incident in incidents:
        print(f"  {incident['status']:9} {incident['title'][:90]}")
    if not incidents:
        print("  none")
    print("\n=== Capacity ===")
    for port in WORKER_PORTS:
        resources = get_json(f"http://127.0.0.1:{port}/api/capacity/report").get("resources", {})
        for name, resource in sorted(resources.items()):
            advice = (resource.get("recommendation") or {}).get("message") or "no action needed"
            days = resource.get("days_to") or {}
            print(f"  {name}: {advice} (days to 80/90 %: {days.get('80')} / {days.get('90')})")
    print("\n=== Files and URLs ===")
    print(f"  events:        {events}")
    print(f"  SLA report:    {report if report else 'not generated (see report.log)'}")
    for port in WORKER_PORTS:
        print(
            f"  worker:        http://127.0.0.1:{port}/metrics   http://127.0.0.1:{port}/api/v1/slos"
        )
    print(f"  PagerDuty:     http://127.0.0.1:{PD_PORT}/_dev/incidents")
    if shutil.which("prometheus"):
        print(f"  Prometheus:    http://127.0.0.1:{PROM_PORT}/graph?g0.expr=sla_uptime_percentage")
    print(f"  e-mails:       {demo.run_dir / 'smtp.log'}")
    print(f"  logs:          {demo.run_dir}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__.splitlines()[0])
    add_bootstrap_argument(parser)
    parser.add_argument("--outage-seconds", type=float, default=60)
    parser.add_argument("--live-timeout", type=float, default=900)
    parser.add_argument(
        "--no-wait", action="store_true", help="exit after the summary instead of serving"
    )
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    run_dir = REPO / ".data" / "demo" / datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    run_dir.mkdir(parents=True)
    demo = Demo(run_dir, args.bootstrap)
    try:
        demo.start_services()
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        first_of_last_month = (now.replace(day=1) - timedelta(days=1)).replace(
            day=1, hour=0, minute=0
        )
        events, count = demo.replay_history(
            first_of_last_month, now - timedelta(minutes=10), args.seed
        )
        demo.wait_processed(count)
        incidents = demo.live_outage(args.outage_seconds, args.live_timeout)
        month = first_of_last_month.strftime("%Y-%m")
        report = run_dir / f"sla-report-{month}.pdf"
        with (run_dir / "report.log").open("w") as log:
            built = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "slaengine.cli",
                    "report",
                    "--month",
                    month,
                    "--events",
                    str(events),
                    "--config",
                    str(CONFIG),
                    "--out",
                    str(report),
                ],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        print_summary(demo, events, incidents, report if built.returncode == 0 else None)
        if not args.no_wait:
            print("\nEverything keeps running; press Ctrl-C to stop.")
            while True:
                demo.check_alive()
                time.sleep(2)
    except KeyboardInterrupt:
        print("\ndemo: stopping")
    finally:
        demo.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
