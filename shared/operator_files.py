"""Operator data files (YAML: the service directory, the BaRS mapping) read into their
pydantic models. Every error names the file and each failing field with pydantic's own
message, whole: this is operator data, not patient data."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from shared.errors import ConfigurationError

Model = TypeVar("Model", bound=BaseModel)


def read_yaml(path: Path, error: type[ConfigurationError]) -> tuple[bytes, dict[str, Any]]:
    """The file's bytes and its top-level mapping; raises `error` saying what is wrong."""
    try:
        raw = path.read_bytes()
    except OSError as failure:
        raise error(f"{path}: cannot read ({failure.strerror})") from failure
    try:
        data: Any = yaml.safe_load(raw)
    except yaml.YAMLError as failure:
        raise error(f"{path}: not valid YAML: {failure}") from failure
    if not isinstance(data, dict):
        raise error(f"{path}: the top level must be a mapping")
    return raw, data


def validated(
    model: type[Model], data: dict[str, Any], path: Path, error: type[ConfigurationError]
) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as failure:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
            for e in failure.errors(include_input=False, include_url=False)
        )
        raise error(f"{path}: {problems}") from failure
