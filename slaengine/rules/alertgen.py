"""Threshold and no-data rules -> Prometheus alerting rule groups."""

from __future__ import annotations

from collections.abc import Sequence

from slaengine.durations import format_duration
from slaengine.rules.alertspec import AlertRuleSet, NoDataRule
from slaengine.rules.fromconfig import EVENTS_TOTAL
from slaengine.rules.model import AlertingRule, RuleGroup, SloDefinition
from slaengine.rules.promql import format_number, label_filter


def alert_rule_groups(ruleset: AlertRuleSet, slos: Sequence[SloDefinition]) -> list[RuleGroup]:
    groups = []
    if ruleset.threshold_rules:
        rules = tuple(
            AlertingRule(
                rule.alert,
                f"{rule.metric}{label_filter(rule.matchers) if rule.matchers else ''}"
                f" {rule.op} {format_number(rule.threshold)}",
                rule.rule_labels(),
                rule.annotations(),
                rule.hold or None,
            )
            for rule in ruleset.threshold_rules
        )
        groups.append(RuleGroup("slaengine-threshold-rules", rules))
    no_data = tuple(alert for rule in ruleset.no_data_rules for alert in _no_data_rules(rule, slos))
    if no_data:
        groups.append(RuleGroup("slaengine-no-data-rules", no_data))
    return groups


def no_data_targets(rule: NoDataRule, slos: Sequence[SloDefinition]) -> list[SloDefinition]:
    return [slo for slo in slos if not rule.slos or slo.name in rule.slos]


def _no_data_rules(rule: NoDataRule, slos: Sequence[SloDefinition]) -> list[AlertingRule]:
    out = []
    for slo in no_data_targets(rule, slos):
        after = format_duration(slo.no_data_after or rule.after_delta)
        selector = label_filter({"slo": slo.name})
        # absent() covers counters that were never exported; increase() == 0 a stalled one
        expr = (
            f"(sum by (slo) (increase({EVENTS_TOTAL}{selector}[{after}])) == 0)\n"
            f"or\nabsent({EVENTS_TOTAL}{selector})\n"
        )
        out.append(
            AlertingRule(
                rule.alert,
                expr,
                {**rule.rule_labels(), "slo": slo.name},
                rule.annotations(),
                rule.hold or None,
            )
        )
    return out
