"""Sloth's golden files (../shared/conformance/sloth) through ``slaengine rules generate``."""

from __future__ import annotations

import io
import math
import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from slaengine import __version__

from .conftest import NO_SLOTH_FIXTURES, SLOTH_FIXTURES

_NUMBER = re.compile(r"(?<![\w.:])\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w.])")
_GO_LITERAL = re.compile(r'\{\{"(.*?)"\}\}')


def render_expected(template: str) -> str:
    """Execute the two Go template actions the fixtures use."""
    text = re.sub(r"\{\{\s*\.version\s*\}\}", __version__, template)
    return _GO_LITERAL.sub(lambda m: m.group(1), text)


def load_documents(text: str) -> list[Any]:
    return [doc for doc in YAML(typ="safe").load_all(io.StringIO(text)) if doc is not None]


def split_numbers(text: str) -> tuple[str, list[float]]:
    normalised = " ".join(str(text).split())
    numbers = [float(n) for n in _NUMBER.findall(normalised)]
    return _NUMBER.sub("#", normalised), numbers


def assert_same_text(actual: str, expected: str, where: str) -> None:
    shape_a, nums_a = split_numbers(actual)
    shape_e, nums_e = split_numbers(expected)
    assert shape_a == shape_e, f"{where}: {actual!r} != {expected!r}"
    assert all(math.isclose(a, e, rel_tol=1e-9) for a, e in zip(nums_a, nums_e, strict=True)), where


def assert_same_rules(actual: list[Any], expected: list[Any]) -> None:
    assert len(actual) == len(expected), "number of YAML documents"
    for doc_a, doc_e in zip(actual, expected, strict=True):
        names_a = [g["name"] for g in doc_a["groups"]]
        assert names_a == [g["name"] for g in doc_e["groups"]]
        for group_a, group_e in zip(doc_a["groups"], doc_e["groups"], strict=True):
            assert len(group_a["rules"]) == len(group_e["rules"]), group_a["name"]
            for rule_a, rule_e in zip(group_a["rules"], group_e["rules"], strict=True):
                where = f"{group_a['name']}/{rule_e.get('record') or rule_e.get('alert')}"
                assert set(rule_a) == set(rule_e), where
                for key in ("record", "alert", "for"):
                    assert rule_a.get(key) == rule_e.get(key), where
                assert_same_text(rule_a["expr"], rule_e["expr"], where)
                for mapping in ("labels", "annotations"):
                    got, want = rule_a.get(mapping, {}), rule_e.get(mapping, {})
                    assert set(got) == set(want), f"{where} {mapping}"
                    for key in want:
                        assert_same_text(str(got[key]), str(want[key]), f"{where} {mapping}.{key}")


CASES = [
    pytest.param("in-base.yaml", [], "out-base.yaml.tpl", id="base spec gives Sloth's rules"),
    pytest.param(
        "in-base.yaml",
        ["--disable-alerts"],
        "out-base-no-alerts.yaml.tpl",
        id="disabling alerts keeps only recordings",
    ),
    pytest.param(
        "in-base.yaml",
        ["--disable-recordings"],
        "out-base-no-recordings.yaml.tpl",
        id="disabling recordings keeps only alerts",
    ),
    pytest.param(
        "in-base.yaml",
        ["-l", "exk1=exv1", "-l", "exk2=exv2"],
        "out-base-extra-labels.yaml.tpl",
        id="extra labels land on every recording",
    ),
    pytest.param(
        "in-base.yaml",
        ["--default-slo-period", "28d"],
        "out-base-28d.yaml.tpl",
        id="a 28 day period derives its burn factors",
    ),
    pytest.param(
        "in-base.yaml",
        ["--default-slo-period", "7d", "--slo-period-windows-path", "{fixtures}/windows"],
        "out-base-custom-windows-7d.yaml.tpl",
        id="custom 7 day windows replace the built-in ones",
    ),
    pytest.param("in-openslo.yaml", [], "out-openslo.yaml.tpl", id="OpenSLO gives recordings only"),
    pytest.param(
        "in-multifile.yaml",
        [],
        "out-multifile.yaml.tpl",
        id="each YAML document gives its own rule document",
    ),
]


@pytest.mark.parametrize(("spec", "options", "expected"), CASES)
def test_generated_rules_match_sloth(
    run_cli, sloth_fixtures: Path, tmp_path: Path, spec: str, options: list[str], expected: str
) -> None:
    out = tmp_path / "rules.yaml"
    options = [o.replace("{fixtures}", str(sloth_fixtures)) for o in options]
    code = run_cli(
        "rules", "generate", "--input", str(sloth_fixtures / spec), "--out", str(out), *options
    )
    assert code == 0
    want = render_expected((sloth_fixtures / expected).read_text(encoding="utf-8"))
    assert_same_rules(load_documents(out.read_text(encoding="utf-8")), load_documents(want))


def test_invalid_version_fails_with_one_line_error(
    run_cli, sloth_fixtures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rules.yaml"
    code = run_cli(
        "rules",
        "generate",
        "--input",
        str(sloth_fixtures / "in-invalid-version.yaml"),
        "--out",
        str(out),
    )
    err = capsys.readouterr().err.strip()
    assert code == 1 and not out.exists()
    assert len(err.splitlines()) == 1
    assert "in-invalid-version.yaml:1: version: " in err and "prometheus/v999" in err


def _validate_cases(kind: str) -> list[Any]:
    if not SLOTH_FIXTURES.is_dir():
        skip = pytest.mark.skip(reason=NO_SLOTH_FIXTURES)
        return [pytest.param("", id=f"{kind} specs", marks=skip)]
    folder = SLOTH_FIXTURES / "validate" / kind
    return [pytest.param(p.name, id=f"{kind} {p.name}") for p in sorted(folder.glob("*.yaml"))]


@pytest.mark.parametrize("name", _validate_cases("good"))
def test_good_specs_validate(run_cli, sloth_fixtures: Path, name: str) -> None:
    assert run_cli("validate", str(sloth_fixtures / "validate" / "good" / name)) == 0


BAD_REASONS = {
    "bad-aa.yaml": ":28: slos[1].objective: Input should be less than or equal to 100",
    "bad-ab.yaml": ":28: slos[1].objective: Input should be less than or equal to 100",
    "bad-ba.yaml": ":28: slos[1].objective: Input should be less than or equal to 100",
    "bad-multi.yaml": ":77: slos[1].sli: Value error, one SLI type is required",
    "bad-openslo.yaml": ":22: spec.timeWindows[0].count: a 28 day time window does not match",
}


@pytest.mark.parametrize("name", _validate_cases("bad"))
def test_bad_specs_fail_with_file_line_and_field(
    run_cli, sloth_fixtures: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli("validate", str(sloth_fixtures / "validate" / "bad" / name))
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1
    assert f"{name}{BAD_REASONS[name]}" in err


def test_validate_reports_every_bad_file_of_a_directory(
    run_cli, sloth_fixtures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("validate", str(sloth_fixtures / "validate")) == 1
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == len(BAD_REASONS)
    assert captured.out.count(": ok (") == len(_validate_cases("good"))
