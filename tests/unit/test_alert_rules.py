"""The Prometheus alerting rules shipped in deploy/ name metrics and labels the services
really export (a rule on a metric that does not exist would never fire, silently)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from intake.metrics import REFERRALS_OVERDUE

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"


def test_every_rule_names_an_exported_metric_and_its_labels() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert rules
    exported = {f"{REFERRALS_OVERDUE._name}_total": set(REFERRALS_OVERDUE._labelnames)}
    for rule in rules:
        metrics = set(re.findall(r"\b(referrals_[a-z_]+)\b", rule["expr"]))
        assert metrics, rule["alert"]
        for metric in metrics:
            assert metric in exported, f"{rule['alert']}: {metric} is not exported"
            labels = set(re.findall(r"(\w+)\s*=", rule["expr"]))
            labels |= (
                set(re.findall(r"by \(([^)]*)\)", rule["expr"])[0].replace(" ", "").split(","))
                if "by (" in rule["expr"]
                else set()
            )
            assert labels <= exported[metric], f"{rule['alert']}: {labels - exported[metric]}"
        assert {"summary", "description"} <= set(rule["annotations"])
