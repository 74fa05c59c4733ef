"""What the linter reports: a small value per problem, and the table of check codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from policyengine.errors import Span

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Check:
    """One check: its code, how bad a finding of it is, and what it catches (one line)."""

    code: str
    severity: str
    summary: str


#: Every check, by code. The table in :mod:`policyengine.lint`'s docstring says the same (a
#: test holds them equal).
CHECKS: dict[str, Check] = {c.code: c for c in (
    Check("PE001", ERROR, "the rule file does not load: YAML, schema or rule error, duplicate id"),
    Check("PE002", ERROR, "a catalog file (bundled or --catalog) does not load"),
    Check("PE100", WARNING, "the rule's resource type is not in the catalog, or has no Resource Graph table"),
    Check("PE101", WARNING, "a field path the catalog does not know for the type"),
    Check("PE102", ERROR, "a value the property can never take, or of a type it never compares with"),
    Check("PE103", ERROR, "a field or child type of the other server generation (single vs flexible)"),
    Check("PE104", ERROR, "a condition that can never be true, or never be false"),
    Check("PE105", WARNING, "a rule without tests"),
    Check("PE106", WARNING, "tests that never see the condition both pass and fail (or where both ways)"),
    Check("PE107", ERROR, "a related type the catalog cannot fetch: a live scan could never read it"),
    Check("PE108", WARNING, "a related default that differs from the catalog's platform default"),
)}


@dataclass(frozen=True)
class Problem:
    """One finding of the linter, at a place in a file."""

    span: Span
    code: str
    message: str

    @property
    def position(self) -> tuple[str, int, int, str, str]:
        """The sort key: by file and position, so a sorted list reads top to bottom."""
        return (self.span.file, self.span.line, self.span.col, self.code, self.message)

    @property
    def severity(self) -> str:
        return CHECKS[self.code].severity

    def text(self) -> str:
        """``file:line:col: error: PE101: message``."""
        return f"{self.span.prefix()}: {self.severity}: {self.code}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"file": self.span.file, "line": self.span.line, "column": self.span.col,
                "severity": self.severity, "code": self.code, "message": self.message}
