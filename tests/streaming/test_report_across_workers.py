"""Three real `slaengine worker` processes, each with its own disk: last month's report is
generated and e-mailed exactly once (claimed through sla.report-claims; aiosmtpd receives)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.report.test_scheduler import Inbox
from tests.streaming.conftest import CONFIG, WorkerProcess, free_port
from tests.streaming.test_worker_on_kafka import wait_for

pytestmark = pytest.mark.slow


def config_with_report(tmp_path: Path, smtp_port: int) -> Path:
    path = tmp_path / "slo.yaml"
    path.write_text(
        CONFIG.read_text()
        + f"""
report:
  organisation: Acme Retail
  service_name: Shop platform
  folder: reports                  # in each worker's own data dir: no shared disk
  schedule: {{at: "06:00", check_interval_seconds: 1}}
  email:
    recipients: [sla@acme.example]
    sender: slaengine@acme.example
    smtp: {{host: 127.0.0.1, port: {smtp_port}, timeout_seconds: 5}}
"""
    )
    return path


def test_three_workers_without_a_shared_disk_mail_last_months_report_exactly_once(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    inbox, smtp_port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        config = config_with_report(tmp_path, smtp_port)
        trio = [
            WorkerProcess(
                kafka_bootstrap,
                topic_prefix,
                tmp_path / f"w{n}",
                worker_id=f"worker-{n}",
                config=config,
            )
            for n in range(3)
        ]
        workers.extend(trio)
        with ThreadPoolExecutor(3) as pool:  # start together: their first ticks race for the month
            list(pool.map(WorkerProcess.start, trio))
        wait_for(lambda: len(inbox.messages) >= 1, timeout=120, what="the report e-mail")
        time.sleep(4)  # every worker ticks every second meanwhile
        assert len(inbox.messages) == 1
        pdfs = sorted(p.relative_to(tmp_path).parts[0] for p in tmp_path.glob("w*/reports/*.pdf"))
        assert len(pdfs) == 1, pdfs
        assert all(w.alive for w in trio)
    finally:
        controller.stop()
