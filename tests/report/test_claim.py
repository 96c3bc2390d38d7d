"""One worker per month: the O_CREAT|O_EXCL claim and its stale-claim takeover."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from slaengine.report.claim import FileMonthClaim

OCT = date(2026, 10, 1)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_only_one_of_many_racing_workers_wins(tmp_path: Path) -> None:
    clock = Clock()
    claims = [FileMonthClaim(tmp_path, clock, owner=f"w{i}") for i in range(16)]
    results: list[bool] = []
    barrier = threading.Barrier(len(claims))

    def race(claim: FileMonthClaim) -> None:
        barrier.wait()
        results.append(claim.try_claim(OCT))

    threads = [threading.Thread(target=race, args=(claim,)) for claim in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1


def test_a_done_month_is_never_claimed_again(tmp_path: Path) -> None:
    clock = Clock()
    first, second = FileMonthClaim(tmp_path, clock), FileMonthClaim(tmp_path, clock)
    assert first.try_claim(OCT)
    first.mark_done(OCT)
    clock.now += timedelta(days=40)
    assert not second.try_claim(OCT)
    assert second.state_of(OCT)["state"] == "done"  # type: ignore[index]


def test_a_released_claim_can_be_taken_again(tmp_path: Path) -> None:
    clock = Clock()
    first, second = FileMonthClaim(tmp_path, clock), FileMonthClaim(tmp_path, clock)
    assert first.try_claim(OCT)
    assert not second.try_claim(OCT)
    first.release(OCT)
    assert second.try_claim(OCT)


def test_a_crashed_workers_claim_expires(tmp_path: Path) -> None:
    clock = Clock()
    crashed = FileMonthClaim(tmp_path, clock, owner="crashed", stale_after=timedelta(minutes=30))
    other = FileMonthClaim(tmp_path, clock, owner="other", stale_after=timedelta(minutes=30))
    assert crashed.try_claim(OCT)
    clock.now += timedelta(minutes=29)
    assert not other.try_claim(OCT)
    clock.now += timedelta(minutes=2)
    assert other.try_claim(OCT)
    assert other.state_of(OCT)["owner"] == "other"  # type: ignore[index]
    assert not crashed.try_claim(OCT)  # and the takeover is itself a fresh claim
