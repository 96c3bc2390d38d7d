"""Load YAML into pydantic models, reporting errors as ``file:line: field: message``.

The one place where user-tuned YAML (SLOs, alert rules, routing, PagerDuty,
forecasting, reports) is parsed and validated.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from slaengine.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file keeping line information (ruamel round-trip nodes)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read file: {err.strerror}", file=str(path)) from err
    return parse_yaml_text(text, source=str(path))


def parse_yaml_text(text: str, source: str = "<string>") -> Any:
    yaml = YAML(typ="rt")
    try:
        return yaml.load(io.StringIO(text))
    except MarkedYAMLError as err:
        line = err.problem_mark.line + 1 if err.problem_mark else None
        raise ConfigError(f"invalid YAML: {err.problem}", file=source, line=line) from err
    except Exception as err:  # ruamel raises several unrelated types for broken input
        raise ConfigError(f"invalid YAML: {err}", file=source) from err


def line_of(document: Any, loc: tuple[str | int, ...]) -> int | None:
    """The 1-based line of the deepest node of ``loc`` that exists in the document."""
    node = document
    line: int | None = None
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            key_line = node.lc.key(part)[0]
            line = key_line + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    if line is None and isinstance(document, (CommentedMap, CommentedSeq)):
        line = document.lc.line + 1
    return line


def field_path(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def to_plain(node: Any) -> Any:
    """ruamel nodes to plain dicts/lists (pydantic validates plain data)."""
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    return node


def validate_document(document: Any, model: type[ModelT], source: str) -> ModelT:
    """Validate a parsed document; the first error is raised with its file, line and field."""
    if document is None:
        raise ConfigError("the file is empty", file=source)
    try:
        return model.model_validate(to_plain(document))
    except ValidationError as err:
        first = err.errors()[0]
        # pydantic appends the union member / validator name to loc; keep real path parts only
        loc = tuple(
            p for p in first["loc"] if isinstance(p, int) or not str(p).startswith("function-")
        )
        message = first["msg"]
        if len(err.errors()) > 1:
            message += f" (and {len(err.errors()) - 1} more error(s))"
        raise ConfigError(
            message, file=source, line=line_of(document, loc), field=field_path(loc) or None
        ) from err


def load_model(path: str | Path, model: type[ModelT]) -> ModelT:
    """Read and validate ``path`` as ``model``; raises ConfigError with file/line/field."""
    return validate_document(read_yaml(path), model, str(path))
