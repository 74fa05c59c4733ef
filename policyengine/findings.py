"""Findings: one verdict of one rule on one resource, with the evidence behind it."""

from __future__ import annotations

import datetime
import enum
import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from policyengine.ir import Rule
from policyengine.records.model import Origin
from policyengine.unknown import jsonable


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"
    ERROR = "error"
    WAIVED = "waived"  # a failure a waiver accepts, with its justification, owner and expiry


#: The order verdicts are listed in summaries.
VERDICT_ORDER = (Verdict.FAIL, Verdict.ERROR, Verdict.UNKNOWN, Verdict.WAIVED, Verdict.PASS,
                 Verdict.NOT_APPLICABLE)


@dataclass(frozen=True)
class Waiver:
    """An accepted failure: which rule and resources, why, who owns it and until when."""

    rule: str            # a rule id, or a glob over ids (PG-FLEX-*)
    resource: str        # a resource id, or a glob over ids (case-insensitive)
    justification: str
    owner: str
    expires: datetime.date
    where: str           # file:line of the waiver

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "resource": self.resource, "justification": self.justification,
                "owner": self.owner, "expires": self.expires.isoformat(), "source": self.where}


@dataclass(frozen=True)
class Evidence:
    """What one comparison saw: the path, the value found (``present`` false if absent),
    what the rule expected, its own outcome, and a note (default assumed, not observed...)."""

    path: str
    expected: str
    actual: Any
    present: bool
    outcome: Verdict
    note: str | None = None
    site: str | None = None  # where a template sets the value: file:line:col
    #: For a count over every related resource of a type: the names of those that matched
    #: (the firewall rule a fix deletes).
    matched: tuple[str, ...] = ()

    def sentence(self) -> str:
        if self.present:
            found = json.dumps(jsonable(self.actual), ensure_ascii=False)
        elif self.outcome is Verdict.UNKNOWN and self.note and not self.note.startswith("absent"):
            found = "not known"  # not read, or known only at deployment: the note says which
        else:
            found = "absent"
        text = f"{self.path} is {found}"
        if self.site:
            text += f" (set at {self.site})"
        text += f"; expected: {self.expected}"
        return f"{text} ({self.note})" if self.note else text

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "expected": self.expected,
            "outcome": self.outcome.value,
            "present": self.present,
        }
        if self.present:
            out["actual"] = jsonable(self.actual)
        if self.note:
            out["note"] = self.note
        if self.site:
            out["site"] = self.site
        if self.matched:
            out["matched"] = list(self.matched)
        return out


def fingerprint(rule_id: str, resource_id: str) -> str:
    """Stable across runs and verdicts: the same rule on the same resource, whatever casing
    the resource id came with."""
    # surrogatepass: an id with a lone surrogate (from hostile input) still has a fingerprint;
    # every other id encodes as plain UTF-8, so fingerprints are unchanged.
    key = f"{rule_id}\x1f{resource_id.lower()}".encode("utf-8", "surrogatepass")
    digest = hashlib.sha256(key).hexdigest()
    return digest[:32]


def _compose(title: str, verdict: Verdict, evidence: tuple[Evidence, ...]) -> str:
    detail = "; ".join(e.sentence() for e in evidence[:3])
    if len(evidence) > 3:
        detail += f"; and {len(evidence) - 3} more"
    if verdict is Verdict.NOT_APPLICABLE:
        return f"not applicable: {detail}"
    if verdict is Verdict.UNKNOWN:
        return f"cannot tell: {detail}"
    if verdict is Verdict.FAIL:
        return f"{title} — not met: {detail}"
    return f"{title} — met: {detail}"


@functools.lru_cache(maxsize=8192)
def _compose_cached(title: str, verdict: Verdict, evidence: tuple[Evidence, ...]) -> str:
    return _compose(title, verdict, evidence)


def compose_message(title: str, verdict: Verdict, evidence: tuple[Evidence, ...]) -> str:
    """The message of a finding, from its evidence. Servers of an estate share their values,
    so messages are cached (evidence holding an array is not hashable and is composed)."""
    try:
        return _compose_cached(title, verdict, evidence)
    except TypeError:
        return _compose(title, verdict, evidence)


@dataclass(frozen=True)
class Finding:
    rule: Rule
    resource_id: str
    resource_type: str
    subscription_id: str | None
    verdict: Verdict
    evidence: tuple[Evidence, ...]
    origin: Origin
    error: str | None = None  # why the rule could not be evaluated (verdict error)
    waiver: Waiver | None = None  # verdict waived: the waiver that accepts the failure
    baseline: bool = False  # the same rule failed on the same resource in the baseline report

    @property
    def message(self) -> str:
        """What a person reads: the verdict and the evidence behind it."""
        if self.error is not None:
            return self.error
        if self.waiver is not None:
            text = compose_message(self.rule.metadata.title, Verdict.FAIL, self.evidence)
            return (f"waived until {self.waiver.expires.isoformat()} ({self.waiver.owner}: "
                    f"{self.waiver.justification}) — {text}")
        return compose_message(self.rule.metadata.title, self.verdict, self.evidence)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.rule.id, self.resource_id)

    def to_json(self) -> dict[str, Any]:
        """The report shape of a finding (``schemas/report.schema.json``, ``finding``)."""
        source: dict[str, Any] = {"file": self.origin.file, "kind": self.origin.kind.value}
        if self.origin.line:
            source["line"] = self.origin.line
        if self.origin.column:
            source["column"] = self.origin.column
        if self.origin.address:
            source["address"] = self.origin.address
        return {
            "rule": {"id": self.rule.id, "severity": self.rule.metadata.severity.label},
            "resource": {
                "id": self.resource_id,
                "type": self.resource_type,
                "subscriptionId": self.subscription_id,
                "source": source,
            },
            "verdict": self.verdict.value,
            "message": self.message,
            "evidence": [e.to_json() for e in self.evidence],
            "fingerprint": self.fingerprint,
            **({"waiver": self.waiver.to_json()} if self.waiver else {}),
            **({"baseline": True} if self.baseline else {}),
        }
