"""Waivers: failures a team has decided to accept, for a reason, by an owner, until a date.

A waiver file is YAML (``schemas/waivers.schema.json``), errors located at ``file:line:col``::

    apiVersion: policyengine/v1
    kind: Waivers
    waivers:
      - rule: PG-FLEX-003
        resource: /subscriptions/*/resourceGroups/rg-sandbox/*
        justification: Sandbox servers hold no customer data; ATP is not worth its cost there.
        owner: platform-team@contoso.com
        expires: 2027-03-31

A failure whose rule and resource match a waiver in force becomes ``waived``. An expired
waiver does not apply (the failure stays a failure) and is reported; so is a waiver that
matches no finding, which is usually a typo or a resource that is gone.
"""

from __future__ import annotations

import dataclasses
import datetime
import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from policyengine.errors import RuleLoadError, RuleLoadErrors
from policyengine.findings import Finding, Verdict, Waiver

#: The verdicts a waiver turns into ``waived``: failures, not what could not be judged.
WAIVABLE = (Verdict.FAIL,)


def load_waivers(paths: Sequence[Path]) -> list[Waiver]:
    """Every waiver of ``paths``; :class:`RuleLoadErrors` with every problem, located."""
    if not paths:
        return []
    # Imported here: YAML and jsonschema (~80 ms) are needed only when there are waiver files.
    from policyengine.loading.schema import valid_documents

    waivers: list[Waiver] = []
    errors: list[RuleLoadError] = []
    for doc in valid_documents(paths, "waivers.schema.json", "waiver file", "waivers", errors):
        for i, item in enumerate(doc.data["waivers"]):
            where = doc.positions.of(("waivers", i))
            # The schema's "format": "date" has checked it reads as a date.
            expires = datetime.date.fromisoformat(item["expires"])
            waivers.append(Waiver(item["rule"], item["resource"], item["justification"],
                                  item["owner"], expires, where.prefix()))
    if errors:
        raise RuleLoadErrors(errors)
    return waivers


def _pattern(glob: str) -> re.Pattern[str]:
    """A case-insensitive glob: ``*`` matches anything (``/`` included), ``?`` one character."""
    return re.compile(fnmatch.translate(glob), re.IGNORECASE | re.DOTALL)


class WaiverBook:
    """Applies waivers to findings and remembers what each waiver did."""

    def __init__(self, waivers: Iterable[Waiver], today: datetime.date | None = None) -> None:
        self.today = today or datetime.date.today()
        self.entries = [(w, _pattern(w.rule), _pattern(w.resource)) for w in waivers]
        self.matched = [0] * len(self.entries)
        self.expired_hits = [0] * len(self.entries)

    def apply(self, finding: Finding) -> Finding:
        """The finding, waived if a waiver in force covers it."""
        if not self.entries or finding.verdict not in WAIVABLE:
            return finding
        for i, (waiver, rule, resource) in enumerate(self.entries):
            if rule.fullmatch(finding.rule.id) and resource.fullmatch(finding.resource_id):
                if waiver.expires < self.today:
                    self.expired_hits[i] += 1
                    continue
                self.matched[i] += 1
                return dataclasses.replace(finding, verdict=Verdict.WAIVED, waiver=waiver)
        return finding

    def report(self) -> tuple[dict[str, Any], ...]:
        """What became of each waiver, for the report."""
        out = []
        for i, (waiver, _, _) in enumerate(self.entries):
            if waiver.expires < self.today:
                status = "expired"
            elif self.matched[i]:
                status = "applied"
            else:
                status = "unmatched"
            out.append({"waiver": waiver.to_json(), "status": status, "matched": self.matched[i],
                        "expiredMatches": self.expired_hits[i]})
        return tuple(out)

    def warnings(self) -> list[str]:
        """One line per waiver that needs attention: expired, or matching nothing."""
        return [text for _, text in waiver_warnings(self.report())]


def waiver_warnings(waivers: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], str]]:
    """The waivers that need attention (entries of :meth:`WaiverBook.report`), each with a line
    saying why: expired, or matching no failure (a typo, or a resource that is gone)."""
    out = []
    for entry in waivers:
        waiver = entry["waiver"]
        what = f"{waiver['source']}: the waiver of {waiver['rule']} for {waiver['resource']}"
        if entry.get("status") == "expired":
            covered = entry.get("expiredMatches", 0)
            tail = f" ({covered} failure(s) it would cover)" if covered else ""
            out.append((entry, f"{what} expired on {waiver['expires']} and no longer applies{tail}"))
        elif entry.get("status") == "unmatched":
            out.append((entry, f"{what} matches no failing finding"))
    return out
