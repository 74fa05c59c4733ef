"""Pre-deployment inputs: which files are templates, Bicep files or Terraform plans, and the
records they declare.

A file is recognised by what it holds, not by its name: a deployment template by its
``$schema`` (or, without one, by ``contentVersion`` and ``resources``), a Terraform plan by
``format_version`` beside ``planned_values``/``resource_changes``. Given a directory, the scan
walks it for templates, Bicep files and plans and skips everything else with a note.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policyengine.errors import InputError, Span, UsageError
from policyengine.records.model import Record
from policyengine.status import InputProblem

if TYPE_CHECKING:
    from policyengine.records.assemble import Stats
    from policyengine.sources.terraform import PlanResult

HEAD = 64 * 1024
_SKIPPED_DIRS = {".git", "node_modules", ".terraform", "__pycache__", ".venv"}
_SUFFIXES = (".json", ".jsonc", ".bicep")


class Kind(Enum):
    TEMPLATE = "template"
    PARAMETERS = "parameters"
    PLAN = "plan"
    BICEP = "bicep"
    EXPORT = "export"
    OTHER = "other"


_SCHEMA = re.compile(r'"\$schema"\s*:\s*"([^"]*)"')


def classify(path: Path) -> Kind:
    """What a file is, from its name and its first 64 KiB."""
    if path.suffix.lower() == ".bicep":
        return Kind.BICEP
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            head = handle.read(HEAD)
    except OSError:
        return Kind.EXPORT  # the export reader reports why it cannot be read
    text = head.lstrip()
    if not text.startswith("{"):
        return Kind.EXPORT if text.startswith("[") else Kind.OTHER
    schema = _SCHEMA.search(head)
    if schema:
        lowered = schema.group(1).lower()
        if "deploymenttemplate.json" in lowered:
            return Kind.TEMPLATE
        if "deploymentparameters.json" in lowered:
            return Kind.PARAMETERS
    if re.match(r'\{\s*"format_version"\s*:', text) or ('"format_version"' in head and (
            '"planned_values"' in head or '"resource_changes"' in head)):
        return Kind.PLAN
    if '"contentVersion"' in head and '"resources"' in head:
        return Kind.TEMPLATE
    return Kind.EXPORT


@dataclass(frozen=True)
class Target:
    path: Path
    kind: Kind
    shown: str


@dataclass
class Discovery:
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # files skipped, and why
    #: Files found that cannot be read at all (each an input error).
    problems: list[InputProblem] = field(default_factory=list)
    #: ``--skip-path`` globs.
    skip: tuple[str, ...] = ()

    def skipped(self, path: Path, root: Path) -> str | None:
        """The ``--skip-path`` pattern that matches ``path`` (relative to the walked root, or
        by name alone for a pattern without ``/``), if any."""
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()
        for pattern in self.skip:
            target = path.name if "/" not in pattern.rstrip("/") else rel
            if fnmatch.fnmatchcase(target, pattern.rstrip("/")):
                return pattern
        return None


def discover(paths: Sequence[str], *, pre_deployment: bool = False, skip: Sequence[str] = ()) -> Discovery:
    """The inputs named on the command line: files as they are, directories walked.

    ``pre_deployment``: only templates, Bicep files and plans, even among files named
    explicitly (what a pre-commit hook passes: every staged JSON file). ``skip``: glob
    patterns of files and folders a directory walk leaves out."""
    found = Discovery(skip=tuple(skip))
    for given in paths:
        path = Path(given)
        if given != "-" and path.is_dir():
            _walk(path, found)
        elif pre_deployment:
            _keep(path, classify(path) if path.is_file() else Kind.OTHER, found)
        elif given == "-" or not path.exists():
            found.targets.append(Target(path, Kind.EXPORT, given))
        else:
            kind = classify(path)
            found.targets.append(Target(path, Kind.EXPORT if kind is Kind.OTHER else kind, given))
    return found


def _walk(root: Path, found: Discovery) -> None:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("."))
        here = Path(folder)
        for name in sorted(files):
            path = here / name
            if not name.lower().endswith(_SUFFIXES):
                continue
            kind = classify(path)
            if kind is Kind.BICEP and _compiled_beside(path):
                found.notes.append(f"{path}: skipped: its compiled template {path.with_suffix('.json').name} "
                                   "is scanned")
            else:
                _keep(path, kind, found)


def _keep(path: Path, kind: Kind, found: Discovery) -> None:
    if kind in (Kind.TEMPLATE, Kind.PLAN, Kind.BICEP):
        found.targets.append(Target(path, kind, str(path)))
    elif kind is Kind.PARAMETERS:
        found.notes.append(f"{path}: a parameters file (used by the template it is named after)")
    else:
        found.notes.append(f"{path}: skipped: not a template, Bicep file or Terraform plan")


def _compiled_beside(path: Path) -> bool:
    compiled = path.with_suffix(".json")
    return compiled.is_file() and classify(compiled) is Kind.TEMPLATE


def parameters_beside(template: Path) -> Path | None:
    """``x.parameters.json`` beside ``x.json`` (or ``x.bicep``), the convention of the Azure
    quickstart templates."""
    candidate = template.with_name(template.stem + ".parameters.json")
    return candidate if candidate.is_file() else None


@dataclass
class TemplateOptions:
    """What the user says about templates: parameter values and the deployment context."""

    parameters_file: Path | None = None
    inline: Sequence[str] = ()
    subscription_id: str | None = None
    resource_group: str | None = None
    location: str | None = None


def check_options(targets: Sequence[Target], options: TemplateOptions) -> None:
    """Parameter values given on the command line apply to exactly one template."""
    templates = [t for t in targets if t.kind in (Kind.TEMPLATE, Kind.BICEP)]
    if (options.parameters_file or options.inline) and len(templates) != 1:
        raise UsageError(f"--parameters and -p apply to one template; {len(templates)} templates were "
                         "found (scan them one at a time, or use x.parameters.json beside each x.json)")


def declared_records(targets: Sequence[Target], options: TemplateOptions, log: Stats) -> Iterator[Record]:
    """The records of every template, Bicep file and plan in ``targets`` (an unreadable one
    raises: :class:`policyengine.sources.DeclaredSource` reads each on its own)."""
    check_options(targets, options)
    for target in targets:
        yield from target_records(target, options, log)


def target_records(target: Target, options: TemplateOptions, log: Stats) -> Iterator[Record]:
    """The records one template, Bicep file or plan declares; its notes go to ``log``."""
    if target.kind is Kind.PLAN:
        result = _plan(target)
        log.notes.extend(result.notes)
        # A resource the plan cannot map is an input error of its own; the plan's others are judged.
        for problem in result.problems:
            log.add_error(problem)
        yield from result.records
    elif target.kind in (Kind.TEMPLATE, Kind.BICEP):
        from policyengine.sources.arm.records import template_records

        expansion = expand_target(target, options)
        built = template_records(expansion)
        log.notes.extend(expansion.notes + built.notes)
        # A resource ARM rejects is an input error of its own; the template's others are judged.
        for problem in expansion.problems + built.problems:
            log.add_error(problem)
        yield from built.records


def _plan(target: Target) -> PlanResult:
    import dataclasses
    import json
    import math

    from policyengine.sources import jsonpos
    from policyengine.sources.terraform import plan_records

    def refuse(text: str) -> Any:
        raise ValueError(text)

    def finite(text: str) -> float:
        value = float(text)
        return value if math.isfinite(value) else refuse(text)

    try:
        text = target.path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the plan: {exc}", Span(target.shown)) from None
    try:
        # The C decoder is the fast path (positions cost fifteen times as much on a large
        # plan); what it would read silently (NaN, 1e400) it refuses here.
        doc = json.loads(text, parse_constant=refuse, parse_float=finite)
    except (ValueError, RecursionError):
        # Not plain JSON: the positional decoder says where and why.
        return plan_records(jsonpos.loads(text, target.shown), target.shown)
    try:
        result = plan_records(doc, target.shown)
    except InputError:
        # Not a plan: read again with positions, so that the error names its line.
        return plan_records(jsonpos.loads(text, target.shown), target.shown)
    if result.problems:
        # An invalid resource: likewise, its error names its line; the records stay as read.
        located = plan_records(jsonpos.loads(text, target.shown), target.shown)
        result = dataclasses.replace(result, problems=located.problems)
    return result


def load_template(target: Target) -> Any:
    """A template's JSON with positions (a Bicep file compiled first)."""
    from policyengine.sources import jsonpos

    if target.kind is Kind.BICEP:
        from policyengine.sources.arm.bicep import build

        # Lines are the compiled JSON's (Bicep keeps no source map in it), and say so.
        return jsonpos.loads(build(target.path, target.shown), compiled_name(target))
    try:
        text = target.path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the template: {exc}", Span(target.shown)) from None
    return jsonpos.loads(text, target.shown)


def expand_target(target: Target, options: TemplateOptions) -> Any:
    """Expand one template with the parameter values the user gave, or found beside it."""
    from policyengine.sources.arm.expand import expand, is_template
    from policyengine.sources.arm.scope import Deployment, load_parameters_file, parse_inline

    template = load_template(target)
    if not is_template(template):
        raise InputError("not a deployment template (no deploymentTemplate $schema, or no "
                         "'resources')", Span(target.shown))
    values: dict[str, Any] = {}
    parameters = options.parameters_file or parameters_beside(target.path)
    if parameters is not None:
        values.update(load_parameters_file(parameters))
    for assignment in options.inline:
        name, value = parse_inline(assignment, template)
        values[name] = value
    deployment = Deployment(subscription_id=options.subscription_id, resource_group=options.resource_group,
                            location=options.location)
    file = compiled_name(target) if target.kind is Kind.BICEP else target.shown
    return expand(template, file, values, deployment)


def compiled_name(target: Target) -> str:
    return f"{target.shown} (compiled)"
