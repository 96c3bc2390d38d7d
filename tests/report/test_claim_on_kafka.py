"""The monthly report with several workers and no shared disk: claims in a compacted topic."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from slaengine.report.model import MonthReport
from slaengine.report.scheduler import ReportScheduler
from streams.shared_state import KafkaMonthClaim
from tests.conftest import CreateTopics
from tests.report import test_scheduler
from tests.report.test_scheduler import Builder, Clock, Inbox, first_of_november, report_config

pytestmark = pytest.mark.slow
smtp_port = test_scheduler.smtp_port  # the real aiosmtpd server of the scheduler tests
start_smtp = test_scheduler.start_smtp


async def test_three_workers_without_a_shared_disk_send_the_report_exactly_once(
    tmp_path: Path,
    kafka_bootstrap: str,
    create_topics: CreateTopics,
    smtp_port: int,
    start_smtp: Callable[..., Inbox],
    october_report: MonthReport,
) -> None:
    inbox = start_smtp()
    (topic,) = await create_topics("sla.report-claims", partitions=1)
    clock = Clock(first_of_november(6, 0) + timedelta(seconds=30))
    builders = [Builder(october_report) for _ in range(3)]
    schedulers = [
        ReportScheduler(
            report_config(tmp_path / f"worker-{n}", smtp_port),
            builders[n],
            clock,
            claim=KafkaMonthClaim(kafka_bootstrap, topic, clock, owner=f"worker-{n}"),
        )
        for n in range(3)
    ]
    for _ in range(3):  # every worker ticks at the same moment, three times (hours apart)
        await asyncio.gather(*(scheduler.tick() for scheduler in schedulers))
        clock.now += timedelta(hours=1)
    assert sum(len(builder.calls) for builder in builders) == 1
    assert len(inbox.messages) == 1
    pdfs = [p for n in range(3) for p in (tmp_path / f"worker-{n}").glob("*.pdf")]
    assert [p.name for p in pdfs] == ["sla-report-2026-10.pdf"]
    claim = KafkaMonthClaim(kafka_bootstrap, topic, clock, owner="observer")
    assert await claim.state_of(date(2026, 10, 1)) == (None, True)


async def test_a_failed_generation_is_released_and_another_worker_makes_the_report(
    tmp_path: Path,
    kafka_bootstrap: str,
    create_topics: CreateTopics,
    smtp_port: int,
    start_smtp: Callable[..., Inbox],
    october_report: MonthReport,
) -> None:
    inbox = start_smtp()
    (topic,) = await create_topics("sla.report-claims", partitions=1)
    clock = Clock(first_of_november(6, 0) + timedelta(seconds=30))
    failing, working = Builder(october_report, failures=1), Builder(october_report)
    first = ReportScheduler(
        report_config(tmp_path / "a", smtp_port),
        failing,
        clock,
        claim=KafkaMonthClaim(kafka_bootstrap, topic, clock, owner="a"),
    )
    second = ReportScheduler(
        report_config(tmp_path / "b", smtp_port),
        working,
        clock,
        claim=KafkaMonthClaim(kafka_bootstrap, topic, clock, owner="b"),
    )
    assert (await first.tick()).generated is None  # claimed, failed, released
    assert (await second.tick()).generated == date(2026, 10, 1)
    assert (await first.tick()).generated is None  # done: never again
    assert len(failing.calls) == 1 and len(working.calls) == 1
    assert len(inbox.messages) == 1


async def test_a_claim_left_by_a_dead_worker_is_taken_over_once_stale(
    kafka_bootstrap: str,
    create_topics: CreateTopics,
) -> None:
    (topic,) = await create_topics("sla.report-claims", partitions=1)
    clock = Clock(first_of_november(6, 0))
    month = date(2026, 10, 1)
    dead = KafkaMonthClaim(kafka_bootstrap, topic, clock, owner="dead")
    survivors = [KafkaMonthClaim(kafka_bootstrap, topic, clock, owner=f"s{n}") for n in range(2)]
    assert await dead.try_claim(month)
    assert [await s.try_claim(month) for s in survivors] == [False, False]
    clock.now += timedelta(minutes=31)
    won = await asyncio.gather(*(s.try_claim(month) for s in survivors))
    assert sorted(won) == [False, True]  # exactly one takes over
