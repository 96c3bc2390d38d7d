"""Read SLO spec files (one or more YAML documents) into ``SloGroup`` objects.

A document is recognised by its header: ``version: prometheus/v1`` (Sloth) or
``apiVersion: openslo/v1alpha`` with ``kind: SLO``. slaengine's own SLO config
is read by ``slaengine.rules.fromconfig``.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError

from slaengine.errors import ConfigError
from slaengine.rules.model import SloGroup
from slaengine.rules.openslo import API_VERSION, OpenSloDocument
from slaengine.rules.sloth import SPEC_VERSION, SlothSpec
from slaengine.rules.windows import WindowsCatalog
from slaengine.yamlconfig import line_of, validate_document


def read_documents(path: str | Path) -> list[Any]:
    """All non-empty YAML documents of a file, with line information."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read file: {err.strerror}", file=source) from err
    try:
        return [doc for doc in YAML(typ="rt").load_all(io.StringIO(text)) if doc is not None]
    except MarkedYAMLError as err:
        line = err.problem_mark.line + 1 if err.problem_mark else None
        raise ConfigError(f"invalid YAML: {err.problem}", file=source, line=line) from err


def document_kind(document: Any) -> str:
    """``sloth``, ``openslo``, ``slaengine`` (SLO config), ``alert-rules``, ``windows`` or
    ``unknown``."""
    if not isinstance(document, dict):
        return "unknown"
    if "version" in document and "slos" in document:
        return "sloth"
    if document.get("apiVersion") == API_VERSION or document.get("kind") == "SLO":
        return "openslo"
    if document.get("kind") == "AlertWindows":
        return "windows"
    if any(key in document for key in ("threshold_rules", "slo_threshold_rules", "no_data_rules")):
        return "alert-rules"
    if "slos" in document:
        return "slaengine"
    return "unknown"


def load_slo_document(document: Any, source: str, period: timedelta) -> SloGroup:
    kind = document_kind(document)
    if kind == "sloth":
        return validate_document(document, SlothSpec, source).to_group(period)
    if kind == "openslo":
        return _load_openslo(document, source, period)
    line = document.lc.line + 1 if isinstance(document, CommentedMap) else None
    raise ConfigError(
        f"not an SLO spec: expected 'version: {SPEC_VERSION}' or "
        f"'apiVersion: {API_VERSION}' with 'kind: SLO'",
        file=source,
        line=line,
    )


def _load_openslo(document: Any, source: str, period: timedelta) -> SloGroup:
    for key, expected in (("apiVersion", API_VERSION), ("kind", "SLO")):
        if document.get(key) != expected:
            raise ConfigError(
                f"unsupported value {document.get(key)!r}: expected {expected!r}",
                file=source,
                line=line_of(document, (key,)),
                field=key,
            )
    spec = validate_document(document, OpenSloDocument, source)
    problem = spec.period_mismatch(period)
    if problem:
        loc = ("spec", "timeWindows", 0, "count")
        raise ConfigError(
            problem, file=source, line=line_of(document, loc), field="spec.timeWindows[0].count"
        )
    return spec.to_group(period)


def load_slo_file(path: str | Path, period: timedelta, catalog: WindowsCatalog) -> list[SloGroup]:
    """Every document of a Sloth/OpenSLO spec file, or slaengine's SLO config, as SloGroups."""
    documents = read_documents(path)
    if not documents:
        raise ConfigError("the file is empty", file=str(path))
    if len(documents) == 1 and document_kind(documents[0]) == "slaengine":
        from slaengine.rules.fromconfig import load_config_group

        return [load_config_group(path, catalog.for_period(period))]
    return [load_slo_document(doc, str(path), period) for doc in documents]
