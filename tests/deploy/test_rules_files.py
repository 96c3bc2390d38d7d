"""deploy/prometheus/rules: generated from the SLO config, current, and valid for promtool."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from .conftest import DEPLOY, REPO_ROOT

RULES_DIR = DEPLOY / "prometheus" / "rules"
SLO_RULES = RULES_DIR / "slo-rules.yml"
REGENERATE = (
    "slaengine rules generate -i slaengine/data/slo.yaml -o deploy/prometheus/rules/slo-rules.yml"
)


def test_slo_rules_are_what_rules_generate_writes_today(tmp_path: Path) -> None:
    fresh = tmp_path / "slo-rules.yml"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "slaengine.cli",
            "rules",
            "generate",
            "-i",
            str(REPO_ROOT / "slaengine" / "data" / "slo.yaml"),
            "-o",
            str(fresh),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert SLO_RULES.read_text() == fresh.read_text(), f"stale rules: run {REGENERATE}"


@pytest.mark.parametrize("path", sorted(RULES_DIR.glob("*.yml")), ids=lambda p: p.name)
def test_each_rule_file_is_one_yaml_document_because_prometheus_reads_only_the_first(
    path: Path,
) -> None:
    documents = [d for d in YAML(typ="safe").load_all(path.read_text()) if d is not None]
    assert len(documents) == 1
    assert documents[0]["groups"]


@pytest.mark.prometheus
@pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool not installed (apt-get install -y prometheus)",
)
def test_rule_files_pass_promtool_with_every_rule_counted() -> None:
    files = sorted(RULES_DIR.glob("*.yml"))
    checked = subprocess.run(
        ["promtool", "check", "rules", "--lint=none", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = sum(
        len(group["rules"])
        for path in files
        for group in YAML(typ="safe").load(path.read_text())["groups"]
    )
    assert f"SUCCESS: {rules} rules found" in checked.stdout
