"""What a scan saw and could not see, as typed values: the input errors, the parts of the
scope that were not evaluated, and the data the rules needed that the input lacked.

Errors belong to the smallest unit that has them (docs/architecture.md, "Input errors"): a
file, a row or a resource that cannot be read becomes an :class:`InputProblem`, everything
else is still judged, and every report format lists the problems. The JSON shape is made
only here (:meth:`ScanStatus.to_json`), at the report edge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from policyengine.errors import PolicyEngineError, Span


class Unit(Enum):
    """How much of the input an error takes out of the scan."""

    FILE = "file"  # a whole file: unreadable, not JSON, not a template ARM would accept
    ROW = "row"  # one row of an export
    RESOURCE = "resource"  # one resource of a template or plan


@dataclass(frozen=True)
class InputProblem:
    """An input error: where it is, what is wrong, and what it takes out of the scan."""

    span: Span
    message: str
    unit: Unit = Unit.FILE
    #: The resource it concerns, where one is known (an id, a template or plan address).
    resource: str | None = None

    @classmethod
    def of(cls, error: PolicyEngineError, unit: Unit = Unit.FILE, *, file: str = "",
           resource: str | None = None) -> InputProblem:
        """The problem an exception describes (``file`` when the exception has no span)."""
        return cls(error.span or Span(file), error.message, unit, resource)

    def text(self) -> str:
        """``file:line:col: message``, as every other located message reads."""
        return f"{self.span.prefix()}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.span.file, "line": self.span.line, "column": self.span.col,
                               "message": self.message, "unit": self.unit.value}
        if self.resource is not None:
            out["resource"] = self.resource
        return out


@dataclass(frozen=True)
class Gap:
    """A part of the scope that was not evaluated: a resource type in some subscriptions (or a
    management group) whose rows did not arrive, and why."""

    resource_type: str
    reason: str
    subscriptions: tuple[str, ...] = ()
    management_group: str | None = None

    def text(self) -> str:
        where = (f"management group {self.management_group}" if self.management_group
                 else f"{len(self.subscriptions)} subscription(s)")
        return f"{self.resource_type} not evaluated in {where}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        return {"resourceType": self.resource_type, "subscriptions": list(self.subscriptions),
                "managementGroup": self.management_group, "reason": self.reason}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Gap:
        subs = data.get("subscriptions")
        return cls(str(data.get("resourceType") or "?"), str(data.get("reason") or "not evaluated"),
                   tuple(str(s) for s in subs) if isinstance(subs, list) else (),
                   str(data["managementGroup"]) if data.get("managementGroup") else None)


@dataclass(frozen=True)
class Denied:
    """A read Azure refused (403): what was to be read, the resource or subscription it was
    read for, and the role that would allow it. It leaves the rules that need it ``unknown``
    and the scan incomplete (docs/architecture.md, "Scan status and missing data")."""

    what: str  # e.g. "Microsoft.Security/pricings 'OpenSourceRelationalDatabases'"
    scope: str  # the id the read was for: a server, a subscription
    role: str  # the built-in role that grants the read: "Reader", "Security Reader"

    def text(self) -> str:
        return f"read denied (403): {self.what} of {self.scope}; the {self.role} role there would allow it"

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "scope": self.scope, "role": self.role}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Denied:
        return cls(str(data.get("what") or "?"), str(data.get("scope") or "?"),
                   str(data.get("role") or "Reader"))


@dataclass(frozen=True)
class Missing:
    """Data the rules read that the input did not hold, and the command that would get it."""

    what: str  # e.g. "server parameters (flexibleServers/configurations)"
    resources: int  # how many resources lacked it
    rules: tuple[str, ...]  # the rules whose verdicts are unknown for it
    command: str  # the one command that would collect it

    def text(self) -> str:
        return (f"{self.resources} resource(s) lack {self.what}, so {', '.join(self.rules)} "
                f"cannot judge them; to collect it: {self.command}")

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "resources": self.resources, "rules": list(self.rules),
                "command": self.command}


@dataclass
class ScanStatus:
    """Whether a scan saw everything it was asked to, and if not, what it missed.

    ``source`` is where the records came from (``export``, ``snapshot``, ``live``,
    ``pre-deployment``, or ``mixed``). The scan is *complete* when every part of the scope was
    evaluated; input errors are counted apart (exit code 2), since the fix is the user's file,
    not another try."""

    source: str = "export"
    not_evaluated: list[Gap] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)
    unread_children: int = 0
    input_errors: list[InputProblem] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    tenant_id: str | None = None
    #: Reads Azure refused (403): each makes the scan incomplete.
    denied: list[Denied] = field(default_factory=list)
    #: Children Azure always has that ARM said it does not (404), counted apart from denials:
    #: their rules are ``unknown``, but the identity saw all it was allowed to.
    not_found: int = 0

    @property
    def complete(self) -> bool:
        return not self.not_evaluated and not self.truncated and not self.denied

    def merge(self, other: ScanStatus) -> None:
        """Take in what another part of the scan (a snapshot, the live side) could not do."""
        self.not_evaluated += other.not_evaluated
        self.truncated += other.truncated
        self.unread_children += other.unread_children
        self.input_errors += other.input_errors
        self.denied += other.denied
        self.not_found += other.not_found
        self.tenant_id = self.tenant_id or other.tenant_id

    def gap_lines(self) -> list[str]:
        """What an incomplete scan did not see, a line each; none for a complete scan."""
        if self.complete:
            return []
        lines = [gap.text() for gap in self.not_evaluated]
        lines += [f"truncated: {what}" for what in self.truncated]
        lines += [denied.text() for denied in self.denied]
        if self.unread_children:
            lines.append(f"{self.unread_children} child resource(s) could not be read")
        return lines

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "complete": self.complete,
            "notEvaluated": [g.to_json() for g in self.not_evaluated],
            "truncated": list(self.truncated),
            "unreadChildren": self.unread_children,
            "inputErrors": [p.to_json() for p in self.input_errors],
            "missingData": [m.to_json() for m in self.missing],
            "denied": [d.to_json() for d in self.denied],
            "notFound": self.not_found,
        }
        if self.tenant_id is not None:
            out["tenantId"] = self.tenant_id
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "snapshot") -> ScanStatus:
        """A snapshot's closing status line (what its collection could not do); malformed
        parts are kept as reasons rather than dropped."""
        gaps = data.get("notEvaluated")
        truncated = data.get("truncated")
        unread = data.get("unreadChildren")
        tenant = data.get("tenantId")
        denied = data.get("denied")
        found = data.get("notFound")
        status = cls(source,
                     [Gap.from_json(g) if isinstance(g, Mapping) else Gap("?", str(g))
                      for g in (gaps if isinstance(gaps, list) else [])],
                     [str(t) for t in (truncated if isinstance(truncated, list) else [])],
                     unread if isinstance(unread, int) and not isinstance(unread, bool) else 0,
                     tenant_id=tenant if isinstance(tenant, str) else None,
                     denied=[Denied.from_json(d) if isinstance(d, Mapping) else Denied(str(d), "?", "Reader")
                             for d in (denied if isinstance(denied, list) else [])],
                     not_found=found if isinstance(found, int) and not isinstance(found, bool) else 0)
        if data.get("complete") is False and status.complete:
            status.truncated.append("the snapshot says its collection was incomplete")
        return status


def sorted_problems(problems: Iterable[InputProblem]) -> list[InputProblem]:
    """Input errors in a stable order: by file, then position, then message."""
    return sorted(problems, key=lambda p: (p.span.file, p.span.line, p.span.col, p.message))


@dataclass
class Stats:
    """What the inputs held, for the report: nothing read is left unaccounted for."""

    rows: int = 0
    resources: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    orphans: int = 0
    notes: list[str] = field(default_factory=list)
    #: Input errors: files, rows and resources that could not be judged (every report lists them).
    errors: list[InputProblem] = field(default_factory=list)

    def note(self, span: Span, text: str) -> None:
        self.notes.append(f"{span.prefix()}: {text}")

    def add_error(self, problem: InputProblem) -> None:
        self.errors.append(problem)
