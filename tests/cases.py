"""Table-driven operator cases, shared by every back end (the Python evaluator now, the
compiled KQL later): each is a comparison on ``properties.x`` and the verdict it must give.

``ABSENT`` as the actual value means the property is not there at all (rule onMissing is
``unknown``); ``None`` means JSON null, which Azure treats as not set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

ABSENT: Final = object()


@dataclass(frozen=True)
class Case:
    id: str
    op: str
    expected: Any
    actual: Any
    verdict: str  # pass | fail | unknown | error
    case_sensitive: bool = False


OPERATOR_CASES: tuple[Case, ...] = (
    Case("equals-ci", "equals", "on", "ON", "pass"),
    Case("equals-cs", "equals", "on", "ON", "fail", case_sensitive=True),
    Case("equals-diff", "equals", "on", "off", "fail"),
    Case("equals-absent", "equals", "on", ABSENT, "unknown"),
    Case("equals-null", "equals", "on", None, "unknown"),
    Case("equals-number", "equals", 30, 30, "pass"),
    Case("equals-numeric-string", "equals", 30, "30", "pass"),
    Case("equals-number-vs-word", "equals", 30, "thirty", "error"),
    Case("equals-string-vs-number", "equals", "TLS1_2", 12, "error"),
    Case("equals-bool", "equals", True, True, "pass"),
    Case("equals-bool-string", "equals", True, "True", "pass"),
    Case("equals-bool-vs-word", "equals", True, "yes", "error"),
    Case("equals-ascii-fold-only", "equals", "straße", "STRASSE", "fail"),
    Case("equals-non-ascii-case-kept", "equals", "été", "ÉTÉ", "fail"),
    Case("equals-non-ascii-same", "equals", "Été-ON", "Été-on", "pass"),
    Case("notEquals-ci", "notEquals", "Dropping", "dropping", "fail"),
    Case("notEquals-diff", "notEquals", "Dropping", "Ready", "pass"),
    Case("notEquals-absent", "notEquals", "Dropping", ABSENT, "unknown"),
    Case("in-ci", "in", ["TLSv1.2", "TLSv1.3"], "TLSV1.2", "pass"),
    Case("in-miss", "in", ["TLSv1.2", "TLSv1.3"], "TLSv1.1", "fail"),
    Case("in-cs", "in", ["TLSv1.2"], "tlsv1.2", "fail", case_sensitive=True),
    Case("in-absent", "in", ["TLSv1.2"], ABSENT, "unknown"),
    Case("in-type", "in", ["TLS1_2"], 12, "error"),
    Case("notIn-hit", "notIn", ["off"], "OFF", "fail"),
    Case("notIn-miss", "notIn", ["off"], "on", "pass"),
    Case("exists-yes", "exists", True, "x", "pass"),
    Case("exists-empty-string", "exists", True, "", "pass"),
    Case("exists-absent", "exists", True, ABSENT, "fail"),
    Case("exists-null", "exists", True, None, "fail"),
    Case("exists-false-absent", "exists", False, ABSENT, "pass"),
    Case("hasValue-yes", "hasValue", True, "x", "pass"),
    Case("hasValue-empty", "hasValue", True, "", "fail"),
    Case("hasValue-empty-list", "hasValue", True, [], "fail"),
    Case("hasValue-absent", "hasValue", True, ABSENT, "fail"),
    Case("hasValue-false-empty", "hasValue", False, "", "pass"),
    Case("contains-string", "contains", "prod", "pg-PROD-01", "pass"),
    Case("contains-string-cs", "contains", "prod", "pg-PROD-01", "fail", case_sensitive=True),
    Case("contains-list", "contains", "a@example.com", ["A@example.com"], "pass"),
    Case("contains-list-miss", "contains", "b@example.com", ["a@example.com"], "fail"),
    Case("contains-empty-list", "contains", "x", [], "fail"),
    Case("contains-number", "contains", "x", 5, "error"),
    Case("contains-list-other-types", "contains", "5", [5, True, None], "fail"),
    Case("contains-list-nested", "contains", "a", [["b", ["A"]]], "pass"),
    Case("contains-number-in-list", "contains", 22, [80, 22], "pass"),
    Case("contains-number-in-string", "contains", 22, "port 22", "error"),
    Case("notContains-list", "notContains", "Sql_Injection", ["sql_injection"], "fail"),
    Case("notContains-string", "notContains", "test", "pg-prod", "pass"),
    Case("startsWith", "startsWith", "pg-", "PG-prod", "pass"),
    Case("startsWith-miss", "startsWith", "pg-", "db-prod", "fail"),
    Case("startsWith-type", "startsWith", "pg-", 5, "error"),
    Case("endsWith", "endsWith", "-prod", "pg-PROD", "pass"),
    Case("match-full", "match", "pg-[a-z]+-[0-9]{2}", "PG-payments-01", "pass"),
    Case("match-is-anchored", "match", "pg-[a-z]+", "pg-payments-01", "fail"),
    Case("match-cs", "match", "pg-[a-z]+", "PG-payments", "fail", case_sensitive=True),
    Case("match-type", "match", ".*", ["x"], "error"),
    Case("greater", "greater", 7, 30, "pass"),
    Case("greater-string", "greater", 7, "30", "pass"),
    Case("greater-string-exponent", "greater", 7, "1e3", "pass"),
    Case("greater-string-padded", "greater", 7, " 30", "error"),
    Case("greater-string-dot-first", "greater", 0, ".5", "error"),
    Case("greater-equal-edge", "greater", 30, "30", "fail"),
    Case("greaterOrEquals", "greaterOrEquals", 30, "30", "pass"),
    Case("less", "less", 1.5, 1.2, "pass"),
    Case("lessOrEquals", "lessOrEquals", 0, -1, "pass"),
    Case("less-word", "less", 3, "three", "error"),
    Case("less-bool", "less", 3, True, "error"),
    Case("less-absent", "less", 3, ABSENT, "unknown"),
)
