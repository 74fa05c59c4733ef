"""The configuration file: ``policyengine.yaml`` in the working directory, or ``--config``.

It holds what a pipeline would otherwise repeat on every command line — rule directories,
waivers, the baseline, thresholds, report formats and files (``schemas/config.schema.json``).
Paths in it are relative to the file. Options given on the command line win.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policyengine.errors import RuleLoadError, RuleLoadErrors, Span, UsageError

if TYPE_CHECKING:
    from policyengine.loading.yaml_nodes import JsonPath

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
    gate: str | None = None
    framework: str | None = None
    outputs: tuple[Output, ...] = field(default_factory=tuple)
    skip_paths: tuple[str, ...] = ()


def find_config(explicit: str | None) -> Path | None:
    """``--config FILE``, else ``policyengine.yaml`` in the working directory, else none."""
    if explicit:
        path = Path(explicit)
        if path.is_dir():
            raise UsageError("--config names a directory, not a configuration file", Span(explicit))
        if not path.exists():
            raise UsageError("--config: no such file", Span(explicit))
        return path
    default = Path(DEFAULT_NAME)
    return default if default.is_file() else None


def load_config(path: Path) -> Config:
    """Read and check the configuration file; errors at ``file:line:col``."""
    # Imported here: YAML and jsonschema cost ~90 ms at start-up, and most runs (--help, a
    # scan with no policyengine.yaml, the report writers importing Output) never read one.
    from policyengine.loading.schema import dotted, validate
    from policyengine.loading.yaml_nodes import load_documents, read_text

    docs = list(load_documents(read_text(path, str(path), "configuration"), str(path)))
    if len(docs) != 1:
        raise RuleLoadError("a configuration file holds exactly one YAML document", Span(str(path), 1, 1))
    errors = validate(docs[0], "config.schema.json")
    data: dict[str, Any] = docs[0].data
    if not errors:
        # The operating system takes no NUL in a path: said here, at its line, rather than
        # as a ValueError when the file is opened.
        errors = [RuleLoadError(f"{dotted(where)}: a path cannot hold a NUL character",
                                docs[0].positions.of(where))
                  for where, value in _paths(data) if "\x00" in value]
    if errors:
        raise RuleLoadErrors(errors)
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
        gate=data.get("gate"),
        framework=data.get("framework"),
        outputs=tuple(Output(o["format"], rel(o["file"]) if "file" in o else None)
                      for o in data.get("outputs", [])),
        skip_paths=tuple(data.get("skipPaths", [])),
    )


def _paths(data: dict[str, Any]) -> list[tuple[JsonPath, str]]:
    """Every path the configuration names, with where it is in the document."""
    found: list[tuple[JsonPath, str]] = [
        ((key, i), value) for key in ("paths", "rules", "waivers", "skipPaths")
        for i, value in enumerate(data.get(key, []))]
    if "baseline" in data:
        found.append((("baseline",), data["baseline"]))
    outputs = enumerate(data.get("outputs", []))
    found += [(("outputs", i, "file"), o["file"]) for i, o in outputs if "file" in o]
    return found
