"""Compliance frameworks: the rules' control mappings read the other way round, so a report
can say how each control of CIS, MCSB or the Azure Policy built-ins fares.

A rule maps itself to controls in its metadata (``controls: {cis-azure-3.0.0: ["3.1.7.2"]}``).
Some frameworks also have a definition in ``policyengine/data/frameworks/<id>.yaml``: every
control of the part of the framework that bears on PostgreSQL, with its number and title as a
cited source gives them, and for a control no bundled rule covers, why. A framework's controls
are its definition's and every other one a rule maps to; a control no rule maps to is shown,
as *not covered*, with that reason. So the view fills in as rules are added.

A covered control's status is the worst verdict of its rules: failing if any finding fails,
else unknown if any is unknown or erroneous, else passing if any passes, else not applicable.
"""

from __future__ import annotations

import difflib
import enum
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from policyengine import ir
from policyengine.errors import UsageError
from policyengine.findings import Verdict

#: What people call the frameworks that rules map to but that have no definition.
TITLES = {
    "azure-policy": "Azure Policy built-in definitions",
    "mcsb": "Microsoft cloud security benchmark",
}
#: Why a control is not covered when its definition does not say.
NO_RULE = "no rule maps to it"


class ControlStatus(enum.StrEnum):
    """How a control fares: a verdict, or not covered by any rule of the scan."""

    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"
    NOT_COVERED = "not_covered"


@dataclass(frozen=True)
class Control:
    id: str
    rules: tuple[ir.Rule, ...]
    #: The control's title as its source words it ("" where no definition gives one).
    title: str = ""
    #: Why no bundled rule covers it, from the definition: shown when ``rules`` is empty.
    uncovered: str = ""

    @property
    def reason(self) -> str:
        """Why the control is not covered (meaningful only when it has no rules)."""
        return self.uncovered or NO_RULE


@dataclass(frozen=True)
class Framework:
    id: str
    title: str
    controls: tuple[Control, ...]
    #: For a defined framework: which of its controls the definition lists, and its sources.
    scope: str = ""
    sources: tuple[str, ...] = ()

    @property
    def covered(self) -> int:
        """How many of the controls some rule maps to."""
        return sum(1 for control in self.controls if control.rules)


@dataclass(frozen=True)
class _Defined:
    """One control as a definition file lists it."""

    id: str
    title: str
    uncovered: str


@dataclass(frozen=True)
class Definition:
    """A framework definition file, read."""

    id: str
    title: str
    scope: str
    sources: tuple[str, ...]
    controls: tuple[_Defined, ...]


class DefinitionError(Exception):
    """A bundled framework definition is malformed: a bug in policyengine's data."""


def known(rules: Sequence[ir.Rule]) -> dict[str, Framework]:
    """Every framework that has a definition or that a rule maps to, by lower-case id, each
    with its controls in natural order (``3.1.10`` after ``3.1.9``)."""
    mapped: dict[str, dict[str, list[ir.Rule]]] = {}
    spelled: dict[str, str] = {}  # a framework id as its definition or first rule writes it
    for rule in rules:
        for fid, control_ids in rule.metadata.controls:
            spelled.setdefault(fid.lower(), fid)
            for control in control_ids:
                mapped.setdefault(fid.lower(), {}).setdefault(control, []).append(rule)
    defined = definitions()
    spelled.update((key, d.id) for key, d in defined.items())
    out: dict[str, Framework] = {}
    for key in sorted({*defined, *mapped}):
        fid = spelled[key]
        by_control = mapped.get(key, {})
        definition = defined.get(key)
        listed = {c.id: c for c in definition.controls} if definition else {}
        ids = sorted({*listed, *by_control}, key=_natural)
        controls = tuple(Control(cid, tuple(sorted(by_control.get(cid, ()), key=lambda r: r.id)),
                                 listed[cid].title if cid in listed else "",
                                 listed[cid].uncovered if cid in listed else "") for cid in ids)
        if definition is None:
            out[key] = Framework(fid, TITLES.get(key, fid), controls)
        else:
            out[key] = Framework(fid, definition.title, controls, definition.scope, definition.sources)
    return out


def framework(rules: Sequence[ir.Rule], framework_id: str) -> Framework:
    """The framework ``framework_id`` (case-insensitive); a :class:`UsageError` with the
    closest known id and the list of them otherwise."""
    frameworks = known(rules)
    found = frameworks.get(framework_id.lower())
    if found is not None:
        return found
    close = difflib.get_close_matches(framework_id.lower(), list(frameworks), n=1, cutoff=0.6)
    hint = f" (did you mean {frameworks[close[0]].id}?)" if close else ""
    names = ", ".join(f.id for f in frameworks.values()) or "none"
    raise UsageError(f"unknown framework {framework_id!r}{hint}; known: {names} "
                     "(see `policyengine frameworks`)")


def status(counts: Sequence[Mapping[Verdict, int]]) -> ControlStatus:
    """A control's status from the verdict counts of its rules, one mapping per rule: not
    covered without rules."""
    if not counts:
        return ControlStatus.NOT_COVERED
    total = {v: sum(c.get(v, 0) for c in counts) for v in Verdict}
    if total[Verdict.FAIL]:
        return ControlStatus.FAIL
    if total[Verdict.ERROR] or total[Verdict.UNKNOWN]:
        return ControlStatus.UNKNOWN
    if total[Verdict.PASS] or total[Verdict.WAIVED]:
        return ControlStatus.PASS
    return ControlStatus.NOT_APPLICABLE


@functools.cache
def definitions() -> dict[str, Definition]:
    """The bundled framework definitions by lower-case id (read once)."""
    folder = resources.files("policyengine") / "data" / "frameworks"
    out: dict[str, Definition] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            definition = parse_definition(yaml.safe_load(entry.read_text("utf-8")), entry.name)
            if definition.id.lower() in out:
                raise DefinitionError(f"{entry.name}: framework {definition.id} is defined twice")
            out[definition.id.lower()] = definition
    return out


def parse_definition(data: Any, name: str) -> Definition:
    """A definition file's content, checked: every control needs a number and a title, and
    a number appears once."""
    if not isinstance(data, dict):
        raise DefinitionError(f"{name}: not a mapping")
    for key in ("id", "title", "scope"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise DefinitionError(f"{name}: {key} must be a non-empty string")
    sources = data.get("sources")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        raise DefinitionError(f"{name}: sources must list where the controls come from")
    items = data.get("controls")
    if not isinstance(items, list) or not items:
        raise DefinitionError(f"{name}: controls must be a non-empty list")
    controls: list[_Defined] = []
    for at, item in enumerate(items):
        if not isinstance(item, dict) or set(item) - {"id", "title", "uncovered"}:
            raise DefinitionError(f"{name}: controls[{at}] must have id, title and optionally uncovered")
        cid, title, uncovered = item.get("id"), item.get("title"), item.get("uncovered", "")
        if not (isinstance(cid, str) and isinstance(title, str) and isinstance(uncovered, str)
                and cid.strip() and title.strip()):
            raise DefinitionError(f"{name}: controls[{at}]: id and title must be non-empty strings")
        if any(c.id == cid for c in controls):
            raise DefinitionError(f"{name}: control {cid} is listed twice")
        controls.append(_Defined(cid, " ".join(title.split()), " ".join(uncovered.split())))
    return Definition(data["id"], data["title"], " ".join(data["scope"].split()), tuple(sources),
                      tuple(controls))


def _natural(text: str) -> list[tuple[int, str]]:
    """``3.1.10`` after ``3.1.9``; ``LT-10`` after ``LT-2``."""
    return [(int(p), "") if p.isdigit() else (0, p) for p in re.split(r"(\d+)", text) if p]
