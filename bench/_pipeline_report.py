"""The benchmark's side-by-side table and profile summaries."""

from __future__ import annotations

import io
import pstats
from pathlib import Path
from typing import Any

BARE_SHARE_TARGET = 0.85
NAIVE_MULTIPLE_TARGET = 5.0
BATCHED_TARGET = 100_000
FRESHNESS_TARGET_MS = 1000.0
STATE_TARGET_BYTES = 4096


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def rows_of(figures: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(measure, value, target, ratio, verdict) rows."""
    runs = figures["runs"]
    bare, naive, ours, batched = (runs[k] for k in ("bare", "naive", "pipeline", "batched"))
    fresh = figures["freshness"]
    rows = [
        ("bare Faust agent (iterates only)", f"{bare['events_per_s']:,.0f} ev/s", "", "", ""),
        ("naive agent (1 table write/event)", f"{naive['events_per_s']:,.0f} ev/s", "", "", ""),
        ("slaengine pipeline, single events", f"{ours['events_per_s']:,.0f} ev/s", "", "", ""),
    ]
    per_round = [
        f"{o / b:.0%}"
        for o, b in zip(ours["rounds_events_per_s"], bare["rounds_events_per_s"], strict=True)
    ]
    rows.append(("  ours / bare, each round (wall-clock)", " ".join(per_round), "", "", ""))
    for label, key in (("wall-clock", "events_per_s"), ("per CPU-second", "events_per_cpu_s")):
        share = ours[key] / bare[key]
        multiple = ours[key] / naive[key]
        rows.append(
            (
                f"  ours / bare ({label})",
                f"{share:.0%}",
                f">= {BARE_SHARE_TARGET:.0%}",
                f"{share / BARE_SHARE_TARGET:.2f}x",
                verdict(share >= BARE_SHARE_TARGET),
            )
        )
        rows.append(
            (
                f"  ours / naive ({label})",
                f"{multiple:.2f}x",
                f">= {NAIVE_MULTIPLE_TARGET:.0f}x",
                f"{multiple / NAIVE_MULTIPLE_TARGET:.2f}x",
                verdict(multiple >= NAIVE_MULTIPLE_TARGET),
            )
        )
    rows.append(
        (
            "slaengine pipeline, 500-event envelopes",
            f"{batched['events_per_s']:,.0f} ev/s",
            f">= {BATCHED_TARGET:,}",
            f"{batched['events_per_s'] / BATCHED_TARGET:.2f}x",
            verdict(batched["events_per_s"] >= BATCHED_TARGET),
        )
    )
    rows.append(("  same, per CPU-second", f"{batched['events_per_cpu_s']:,.0f} ev/s", "", "", ""))
    batched_multiple = batched["events_per_s"] / naive["events_per_s"]
    rows.append(
        (
            "  batched / naive (wall-clock)",
            f"{batched_multiple:.1f}x",
            f">= {NAIVE_MULTIPLE_TARGET:.0f}x",
            f"{batched_multiple / NAIVE_MULTIPLE_TARGET:.2f}x",
            verdict(batched_multiple >= NAIVE_MULTIPLE_TARGET),
        )
    )
    if "what_if" in runs:
        what_if = runs["what_if"]
        rows.append(
            (
                f"  what if fetch size {figures['what_if_fetch_mb']} MB/partition",
                f"{what_if['events_per_s']:,.0f} ev/s",
                f">= {BATCHED_TARGET:,}",
                f"{what_if['events_per_s'] / BATCHED_TARGET:.2f}x",
                verdict(what_if["events_per_s"] >= BATCHED_TARGET),
            )
        )
        rows.append(
            ("  same, per CPU-second", f"{what_if['events_per_cpu_s']:,.0f} ev/s", "", "", "")
        )
    core = figures["core"]
    rows.append(
        (
            "core decode+apply per CPU-second",
            f"{core['single']:,.0f} / {core['batched']:,.0f} ev/s",
            "single / batched",
            "",
            "",
        )
    )
    rows.append(
        (
            f"freshness at {fresh['rate']:,.0f} ev/s: applied p50/p99",
            f"{fresh['applied_ms'][0]:,.0f} / {fresh['applied_ms'][1]:,.0f} ms",
            "",
            "",
            "",
        )
    )
    rows.append(
        (
            "  worst second: when, applied p99",
            f"{fresh['worst_second'][0]:.0f} s, {fresh['worst_second'][1]:,.0f} ms",
            "",
            "",
            "",
        )
    )
    rows.append(
        (
            "  CPU share: worker / producer+scraper",
            f"{fresh['worker_cpu_share']:.0%} / {fresh['client_cpu_share']:.0%}",
            "",
            "",
            "",
        )
    )
    gauge_p99 = fresh["gauge_ms"][1]
    rows.append(
        (
            "  event-to-gauge p50/p99",
            f"{fresh['gauge_ms'][0]:,.0f} / {gauge_p99:,.0f} ms",
            f"p99 < {FRESHNESS_TARGET_MS:,.0f} ms",
            f"{gauge_p99 / FRESHNESS_TARGET_MS:.2f}x",
            verdict(gauge_p99 < FRESHNESS_TARGET_MS and fresh["unseen"] == 0),
        )
    )
    largest = max(figures["changelog"] + figures["busy"], key=lambda s: s["max_bytes"])
    for size in figures["changelog"] + figures["busy"]:
        is_largest = size is largest
        rows.append(
            (
                f"state/bucket: {size['label']}",
                f"{size['mean_bytes']:,.0f} B (max {size['max_bytes']:,})",
                f"<= {STATE_TARGET_BYTES:,} B" if is_largest else "",
                f"{size['max_bytes'] / STATE_TARGET_BYTES:.2f}x",
                verdict(size["max_bytes"] <= STATE_TARGET_BYTES) if is_largest else "",
            )
        )
    for slo, heap in sorted(figures["heap"].items()):
        rows.append((f"Python heap/bucket: {slo}", f"{heap:,.0f} B", "", "", ""))
    return rows


def print_table(figures: dict[str, Any]) -> None:
    rows = [("measure", "value", "target", "ratio", ""), *rows_of(figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    print()
    for index, row in enumerate(rows):
        print(
            "  ".join(
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(row)
            ).rstrip()
        )
        if index == 0:
            print("-" * (sum(widths) + 8))
    print(
        f"\n{figures['cpus']} CPUs, load {figures['load_1m']:.1f} at the end; freshness scrapes: "
        f"{figures['freshness']['scrapes']} (p50 {figures['freshness']['scrape_ms_p50']:.0f} ms)"
    )


def print_profile(path: Path, title: str, lines: int = 18) -> None:
    out = io.StringIO()
    pstats.Stats(str(path), stream=out).sort_stats("tottime").print_stats(lines)
    text = out.getvalue()
    start = text.find("   ncalls")
    print(f"\n{title}: {path}\n{text[start:] if start >= 0 else text}")
