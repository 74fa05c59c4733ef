"""Pre-deployment inputs: the records that templates, Bicep files and Terraform plans declare.

Which files those are is found by :mod:`policyengine.sources.discovery` (re-exported here for
the modules that import it from this one).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policyengine.errors import InputError, Span, UsageError
from policyengine.records.model import Record
from policyengine.sources import files
from policyengine.sources.discovery import Discovery, Target, classify, discover
from policyengine.sources.sniff import Kind

if TYPE_CHECKING:
    from policyengine.sources.terraform import PlanResult
    from policyengine.status import Stats

__all__ = ["Discovery", "Kind", "Target", "TemplateOptions", "classify", "declared_records", "discover",
           "expand_target", "load_template", "parameters_beside", "target_records"]


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

    text = files.read_text(str(target.path), target.shown)
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
    return jsonpos.loads(files.read_text(str(target.path), target.shown), target.shown)


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
