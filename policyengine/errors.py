"""One small error hierarchy. Every error that a user can cause carries where it happened.

The only function that turns a position into text is :meth:`Span.prefix`, so every message a
user sees starts the same way: ``file:line:col: message``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """A position in a source file; ``line`` and ``col`` are 1-based, 0 when unknown."""

    file: str
    line: int = 0
    col: int = 0

    def prefix(self) -> str:
        if self.line and self.col:
            return f"{self.file}:{self.line}:{self.col}"
        if self.line:
            return f"{self.file}:{self.line}"
        return self.file


class PolicyEngineError(Exception):
    """Base of every error policyengine reports to a user (never shown as a traceback)."""

    exit_code = 2

    def __init__(self, message: str, span: Span | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span

    def __str__(self) -> str:
        if self.span is None:
            return self.message
        return f"{self.span.prefix()}: {self.message}"


class RuleLoadError(PolicyEngineError):
    """A rule file is unreadable, not valid YAML, or not a valid rule."""


class RuleLoadErrors(PolicyEngineError):
    """Several load errors at once, so an author sees every problem in one run."""

    def __init__(self, errors: list[RuleLoadError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


class InputError(PolicyEngineError):
    """A scan input (export, snapshot, template) is unreadable or malformed."""


class UsageError(PolicyEngineError):
    """The command line asks for something that cannot be done (unknown rule id, bad option)."""


class IncompleteEvaluation(PolicyEngineError):
    """The evaluation could not complete: authentication, network, quota."""

    exit_code = 3
