"""The configuration file: ``policyengine.yaml`` in the working directory, or ``--config``.

It holds what a pipeline would otherwise repeat on every command line — rule directories,
waivers, the baseline, thresholds, report formats and files (``schemas/config.schema.json``).
Paths in it are relative to the file. Options given on the command line win.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policyengine.errors import RuleLoadError, RuleLoadErrors, Span, UsageError
from policyengine.loading.schema import validate
from policyengine.loading.yaml_nodes import load_documents

DEFAULT_NAME = "policyengine.yaml"


@dataclass(frozen=True)
class Output:
    format: str
    file: str | None = None


@dataclass(frozen=True)
class Config:
    file: str | None = None
    paths: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    bundled_rules: bool = True
    waivers: tuple[str, ...] = ()
    baseline: str | None = None
    fail_on: str | None = None
    fail_on_unknown: bool = False
    framework: str | None = None
    outputs: tuple[Output, ...] = field(default_factory=tuple)
    skip_paths: tuple[str, ...] = ()


def find_config(explicit: str | None) -> Path | None:
    """``--config FILE``, else ``policyengine.yaml`` in the working directory, else none."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise UsageError(f"--config {explicit}: no such file")
        return path
    default = Path(DEFAULT_NAME)
    return default if default.is_file() else None


def load_config(path: Path) -> Config:
    """Read and check the configuration file; errors at ``file:line:col``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the configuration {path}: {exc}") from None
    docs = list(load_documents(text, str(path)))
    if len(docs) != 1:
        raise RuleLoadError("a configuration file holds exactly one YAML document", Span(str(path), 1, 1))
    errors = validate(docs[0], "config.schema.json")
    if errors:
        raise RuleLoadErrors(errors)
    data: dict[str, Any] = docs[0].data
    base = path.parent

    def rel(value: str) -> str:
        return str(base / value) if not Path(value).is_absolute() else value

    return Config(
        file=str(path),
        paths=tuple(rel(p) for p in data.get("paths", [])),
        rules=tuple(rel(p) for p in data.get("rules", [])),
        bundled_rules=data.get("bundledRules", True),
        waivers=tuple(rel(p) for p in data.get("waivers", [])),
        baseline=rel(data["baseline"]) if "baseline" in data else None,
        fail_on=data.get("failOn"),
        fail_on_unknown=data.get("failOnUnknown", False),
        framework=data.get("framework"),
        outputs=tuple(Output(o["format"], rel(o["file"]) if "file" in o else None)
                      for o in data.get("outputs", [])),
        skip_paths=tuple(data.get("skipPaths", [])),
    )
