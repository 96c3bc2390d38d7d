"""The integer fast paths of the scrape's math give exactly what the plain definitions give
(issue 14: a /metrics re-render computes ~1,500 budgets and ~40 percentile sets)."""

from __future__ import annotations

import json
import random
from fractions import Fraction

from ddsketch.mapping import LogarithmicMapping

from slaengine.sli.sketch import RELATIVE_ACCURACY, BinCounts, LatencySketch
from slaengine.slo import MAX_BURN_RATE, ErrorBudget, as_fraction

MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)
OBJECTIVES: list[float | Fraction] = [
    Fraction(999, 1000),
    Fraction(9999, 10000),
    Fraction(1),
    Fraction(0),
    0.999,
    0.95,
    1.0,
    Fraction(995, 1000),
]


def reference(objective: float | Fraction, good: float, total: float) -> dict[str, object]:
    """Burn rate, budget left, met and status with ``Fraction`` throughout, as written down."""
    exact_objective = as_fraction(objective)
    error_ratio = Fraction(total - good) / Fraction(total) if total > 0 else Fraction(0)
    allowed = 1 - exact_objective
    burn: Fraction | None = error_ratio / allowed if allowed > 0 else None  # None: infinite
    if allowed <= 0 and error_ratio == 0:
        burn = Fraction(0)
    if total <= 0:
        remaining = Fraction(1)
    elif exact_objective >= 1:
        remaining = Fraction(1) if burn == 0 else Fraction(0)
    else:
        assert burn is not None
        remaining = 1 - burn
    met = total > 0 and Fraction(good) >= exact_objective * Fraction(total)
    if total <= 0:
        status = "no-data"
    elif not met:
        status = "breached"
    else:
        status = "at-risk" if remaining < Fraction(1, 4) else "met"  # with a recent burn > 1
    return {
        "burn_rate": MAX_BURN_RATE if burn is None else min(float(burn), MAX_BURN_RATE),
        "remaining": float(remaining),
        "error_ratio": float(error_ratio),
        "met": met,
        "status": status,
    }


def cases() -> list[tuple[float | Fraction, float, float]]:
    rng = random.Random(14)
    found: list[tuple[float | Fraction, float, float]] = [
        (Fraction(999, 1000), 999, 1000),  # exactly on the objective: met, budget exactly 0
        (Fraction(1), 10, 10),
        (Fraction(1), 9, 10),
        (Fraction(999, 1000), 0, 0),
        (0.95, 3, 4),
        (Fraction(999, 1000), 12, 10),  # more good than valid (a withdrawn decision)
    ]
    for _ in range(3000):
        objective = rng.choice(OBJECTIVES)
        total = rng.choice([rng.randrange(1, 50), rng.randrange(1, 10**7), 10**15 + 7])
        good = total - rng.choice([0, 1, rng.randrange(0, total + 1)])
        if rng.random() < 0.2:  # the alert evaluator's counts can be floats (rates)
            found.append((objective, good * 0.37, total * 0.37))
        else:
            found.append((objective, good, total))
    return found


def test_error_budget_equals_the_fraction_definitions() -> None:
    for objective, good, total in cases():
        budget = ErrorBudget(objective, good, total)
        found = {
            "burn_rate": budget.burn_rate,
            "remaining": budget.remaining,
            "error_ratio": budget.error_ratio,
            "met": budget.met,
            "status": budget.status(recent_burn_rate=2.0),
        }
        assert found == reference(objective, good, total), (objective, good, total)


def reference_quantile(sketch: LatencySketch, q: float) -> float | None:
    """DDSketch's rank rule over the bins in key order, one quantile at a time."""
    if sketch.count == 0:
        return None
    rank = q * (sketch.count - 1)
    seen = sketch.zero_count
    if seen > rank:
        return 0.0
    bins = sorted(sketch.items())
    for key, count in bins:
        seen += count
        if seen > rank:
            return float(MAPPING.value(key))
    return float(MAPPING.value(bins[-1][0]))


def test_quantiles_in_one_pass_equal_each_quantile_alone() -> None:
    rng = random.Random(3)
    for size in (0, 1, 2, 5, 300, 5000):
        sketch = LatencySketch()
        for _ in range(size):
            sketch.add(rng.choice([0.001, rng.lognormvariate(4, 1.2)]))  # some in the zero bin
        qs = (0.0, 0.5, 0.95, 0.99, 1.0)
        one_by_one = [reference_quantile(sketch, q) for q in qs]
        assert sketch.quantiles(qs) == one_by_one
        sketch.pack()
        assert sketch.quantiles(qs) == one_by_one


def test_a_sketch_read_from_a_record_answers_as_the_sketch_written() -> None:
    """A sketch read back from its record (the global view reads every latency hour again at
    each flush) answers, merges, changes and packs as the sketch written."""
    rng = random.Random(5)
    written = LatencySketch()
    for _ in range(2000):
        written.add(rng.choice([0.001, rng.lognormvariate(4, 1.2)]))
    state = json.loads(json.dumps(written.to_state()))
    qs = (0.5, 0.95, 0.99)

    def read() -> LatencySketch:
        return LatencySketch.from_state(state)

    assert read().count == written.count and read().zero_count == written.zero_count
    assert read().to_state() == state
    assert read().quantiles(qs) == written.quantiles(qs)
    assert dict(read().items()) == written.bins
    merged, expected = LatencySketch({7: 1}), LatencySketch({7: 1})
    merged.merge(read())
    expected.merge(written)
    assert merged.bins == expected.bins and merged.count == expected.count
    changed = read()
    changed.add(250.0)
    written.add(250.0)
    assert changed.bins == written.bins and changed.count == written.count
    packed = read()
    packed.pack()
    assert packed.packed and packed.quantiles(qs) == read().quantiles(qs)
    assert LatencySketch.from_state({"z": 3, "b": {}}).quantiles(qs) == [0.0, 0.0, 0.0]


def test_window_bin_counts_answer_as_the_merged_sketch_also_past_the_tracked_range() -> None:
    """query.rolling_percentiles sums a window's minute and hour sketches as dense ``BinCounts``
    (no dict merges): its quantiles are those of the merged sketch, for packed hours and for
    records of older versions whose bins lie outside today's tracked range too."""
    rng = random.Random(8)
    parts = []
    for size in (0, 1, 40, 700):
        part = LatencySketch()
        for _ in range(size):
            part.add(rng.choice([0.001, rng.lognormvariate(4, 1.2)]))
        parts.append(part)
    parts[-1].pack()
    parts.append(LatencySketch.from_state({"z": 2, "b": {"-400": 3, "950": 5}}))
    qs = (0.0, 0.01, 0.5, 0.95, 0.99, 1.0)
    merged, summed = LatencySketch(), BinCounts()
    for part in parts:
        merged.merge(part)
        summed.add(part)
        assert summed.quantiles(qs) == [reference_quantile(merged, q) for q in qs]
    assert summed.quantiles(qs)[-1] == float(MAPPING.value(950))
    older, newer = BinCounts(), BinCounts()
    older.add(parts[-1])  # the wide one
    for part in parts[:-1]:
        newer.add(part)
    older_first = older.copy()
    older_first.add_counts(newer)
    newer.add_counts(older)  # the narrow one widens
    assert older_first.quantiles(qs) == newer.quantiles(qs) == summed.quantiles(qs)
    assert older.quantiles(qs) == LatencySketch.from_state(
        {"z": 2, "b": {"-400": 3, "950": 5}}
    ).quantiles(qs)
    assert BinCounts().quantiles(qs) == [None] * len(qs)


def test_a_status_asks_the_recent_burn_rate_only_when_it_decides() -> None:
    """The last day's burn rate costs a query: asked only when less than a quarter of the
    budget is left (at-risk or met), never for a budget that is plenty or breached."""
    asked: list[int] = []

    def recent() -> float:
        asked.append(1)
        return 2.0

    assert ErrorBudget(Fraction(99, 100), 995, 1000).status(recent) == "met"  # half left
    assert ErrorBudget(Fraction(99, 100), 980, 1000).status(recent) == "breached"
    assert asked == []
    assert ErrorBudget(Fraction(99, 100), 992, 1000).status(recent) == "at-risk"  # a fifth left
    assert asked == [1]
    assert ErrorBudget(Fraction(99, 100), 992, 1000).status(lambda: 0.5) == "met"
    assert ErrorBudget(Fraction(99, 100), 992, 1000).status(2.0) == "at-risk"


def test_a_sketch_read_from_a_record_is_parsed_only_when_used() -> None:
    """The global view reads every minute sketch of a latency hour again at each flush and a
    scrape sums a few of them: a sketch read from a record keeps the record's list (written
    back as it is, never modified) and answers from it until it changes."""
    rng = random.Random(9)
    written = LatencySketch()
    for _ in range(500):
        written.add(rng.choice([0.001, rng.lognormvariate(4, 1.2)]))
    record = json.dumps(written.to_state())
    state = json.loads(record)
    read = LatencySketch.from_state(state)
    assert read.to_state() is state and read.count == written.count
    qs = (0.5, 0.95, 0.99)
    summed = BinCounts()
    summed.add(read)
    assert summed.quantiles(qs) == read.quantiles(qs) == written.quantiles(qs)
    assert dict(read.items()) == written.bins and read.to_state() is state  # still unparsed
    read.add(250.0)
    written.add(250.0)
    assert read.to_state() == written.to_state() and read.to_state() is not state
    assert state == json.loads(record)
    packed = LatencySketch.from_state(json.loads(record))
    packed.pack()
    assert packed.packed and packed.quantiles(qs) == LatencySketch.from_state(state).quantiles(qs)
