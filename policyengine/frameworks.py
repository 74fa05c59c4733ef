"""Compliance frameworks: the rules' control mappings read the other way round, so a report
can say how each control of CIS, MCSB or the Azure Policy built-ins fares.

A rule maps itself to controls in its metadata (``controls: {cis-azure-3.0.0: ["3.1.7.2"]}``);
a framework is every key that some rule uses. A control's status is the worst verdict of its
rules: failing if any finding fails, else unknown if any is unknown or erroneous, else
passing if any passes, else not applicable.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from policyengine import ir
from policyengine.errors import UsageError
from policyengine.findings import Verdict

#: What people call the frameworks whose ids the bundled rules use.
TITLES = {
    "azure-policy": "Azure Policy built-in definitions",
    "mcsb": "Microsoft cloud security benchmark",
    "cis-azure-2.0.0": "CIS Microsoft Azure Foundations Benchmark 2.0.0",
    "cis-azure-3.0.0": "CIS Microsoft Azure Foundations Benchmark 3.0.0",
}


@dataclass(frozen=True)
class Control:
    id: str
    rules: tuple[ir.Rule, ...]


@dataclass(frozen=True)
class Framework:
    id: str
    title: str
    controls: tuple[Control, ...]


def known(rules: Sequence[ir.Rule]) -> dict[str, Framework]:
    """Every framework the rules map to, by id, with its controls in natural order."""
    by_framework: dict[str, dict[str, list[ir.Rule]]] = {}
    for rule in rules:
        for framework, controls in rule.metadata.controls:
            for control in controls:
                by_framework.setdefault(framework, {}).setdefault(control, []).append(rule)
    return {fid: Framework(fid, TITLES.get(fid, fid), tuple(
        Control(cid, tuple(sorted(crules, key=lambda r: r.id)))
        for cid, crules in sorted(controls.items(), key=lambda kv: _natural(kv[0]))))
        for fid, controls in sorted(by_framework.items())}


def framework(rules: Sequence[ir.Rule], framework_id: str) -> Framework:
    """The framework ``framework_id`` (case-insensitive); :class:`UsageError` naming the known ones."""
    frameworks = known(rules)
    for fid, found in frameworks.items():
        if fid.lower() == framework_id.lower():
            return found
    names = ", ".join(frameworks) or "none"
    raise UsageError(f"unknown framework {framework_id!r}: the rules map to {names} "
                     "(see `policyengine frameworks`)")


def status(counts: Sequence[dict[Verdict, int]]) -> Verdict:
    """A control's status from the verdict counts of its rules."""
    total = {v: sum(c.get(v, 0) for c in counts) for v in Verdict}
    if total[Verdict.FAIL]:
        return Verdict.FAIL
    if total[Verdict.ERROR] or total[Verdict.UNKNOWN]:
        return Verdict.UNKNOWN
    if total[Verdict.PASS] or total[Verdict.WAIVED]:
        return Verdict.PASS
    return Verdict.NOT_APPLICABLE


def _natural(text: str) -> list[tuple[int, str]]:
    """``3.1.10`` after ``3.1.9``; ``LT-10`` after ``LT-2``."""
    return [(int(p), "") if p.isdigit() else (0, p) for p in re.split(r"(\d+)", text) if p]
