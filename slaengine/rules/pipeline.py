"""What the CLI does, as functions: spec files -> rule YAML text, and file validation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from slaengine.errors import ConfigError
from slaengine.rules.generate import GenerateOptions, generate_group_rules
from slaengine.rules.model import RuleGroup, SloDefinition
from slaengine.rules.render import render_rule_documents
from slaengine.rules.specfile import document_kind, load_slo_document, load_slo_file, read_documents
from slaengine.rules.windows import WindowsCatalog, parse_windows_text


def yaml_files(paths: Iterable[Path]) -> list[Path]:
    """Files as given, directories expanded to their *.yaml/*.yml files (sorted)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(
                p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
            )
        else:
            out.append(path)
    return out


def generate_rules_text(
    spec_path: Path,
    *,
    version: str,
    period: timedelta = timedelta(days=30),
    windows_dir: Path | None = None,
    extra_labels: Mapping[str, str] | None = None,
    disable_alerts: bool = False,
    disable_recordings: bool = False,
    alert_rules: Path | None = None,
) -> str:
    catalog = (
        WindowsCatalog.from_directory(windows_dir) if windows_dir else WindowsCatalog.builtin()
    )
    catalog.for_period(period)  # fail early when the period has no windows
    options = GenerateOptions(
        version=version,
        extra_labels=dict(extra_labels or {}),
        disable_recordings=disable_recordings,
        disable_alerts=disable_alerts,
    )
    groups = load_slo_file(spec_path, period, catalog)
    documents: list[list[RuleGroup]] = [generate_group_rules(g, catalog, options) for g in groups]
    if alert_rules is not None and not disable_alerts:
        from slaengine.rules.alertgen import alert_rule_groups
        from slaengine.rules.alertspec import load_alert_rules

        slos: list[SloDefinition] = [
            slo for g in groups for slo in g.slos if g.spec == "slaengine/v1"
        ]
        # same document as the SLO rules: Prometheus reads only the first document of a file
        extra = alert_rule_groups(
            load_alert_rules(alert_rules).for_slos(_config_slos(spec_path)), slos
        )
        if documents:
            documents[-1] = [*documents[-1], *extra]
        else:
            documents.append(extra)
    if not any(documents):
        raise ConfigError("no rules generated: everything is disabled", file=str(spec_path))
    return render_rule_documents(documents, version)


def _config_slos(spec_path: Path) -> list[Any]:
    """The SLOs of a slaengine config (the per-SLO threshold rules need their SLI kinds)."""
    documents = read_documents(spec_path)
    if len(documents) != 1 or document_kind(documents[0]) != "slaengine":
        return []  # Sloth / OpenSLO specs have no SLI kinds: no per-SLO threshold rules
    from slaengine.config import load_sla_config

    return list(load_sla_config(spec_path).slos)


def validate_file(path: Path, *, period: timedelta = timedelta(days=30)) -> str:
    """Validate one file of any kind slaengine reads for rules; returns a short summary."""
    documents = read_documents(path)
    if not documents:
        raise ConfigError("the file is empty", file=str(path))
    kinds = {document_kind(doc) for doc in documents}
    if kinds == {"alert-rules"} and len(documents) == 1:
        from slaengine.rules.alertspec import load_alert_rules

        ruleset = load_alert_rules(path)
        return (
            f"{len(ruleset.threshold_rules)} threshold, {len(ruleset.slo_threshold_rules)} per-SLO "
            f"threshold and {len(ruleset.no_data_rules)} no-data rules"
        )
    if kinds == {"windows"} and len(documents) == 1:
        windows = parse_windows_text(path.read_text(encoding="utf-8"), str(path))
        return f"alert windows for {windows.period.days}d"
    if kinds == {"slaengine"} and len(documents) == 1:
        catalog = WindowsCatalog.builtin()
        group = load_slo_file(path, period, catalog)[0]
        return f"{len(group.slos)} SLOs"
    count = sum(len(load_slo_document(doc, str(path), period).slos) for doc in documents)
    return f"{count} SLOs in {len(documents)} document(s)"
