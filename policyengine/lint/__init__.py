"""``policyengine lint``: check rule files against the rule schema, the resource-type catalog
and themselves, before any resource is scanned.

Every problem is reported at ``file:line:col`` with a code:

======  ========  ===========================================================================
code    severity  what it catches
======  ========  ===========================================================================
PE001   error     the rule file does not load: YAML, schema or rule error, duplicate id
PE002   error     a catalog file (bundled or --catalog) does not load
PE100   warning   the rule's resource type is not in the catalog, or has no Resource Graph table
PE101   warning   a field path the catalog does not know for the type
PE102   error     a value the property can never take, or of a type it never compares with
PE103   error     a field or child type of the other server generation (single vs flexible)
PE104   error     a condition that can never be true, or never be false
PE105   warning   a rule without tests
PE106   warning   tests that never see the condition both pass and fail (or where both ways)
PE107   error     a related type the catalog cannot fetch: a live scan could never read it
PE108   warning   a related default that differs from the catalog's platform default
======  ========  ===========================================================================

Details:

* PE101 suggests the closest known path (``did you mean properties.sslEnforcement?``). The
  catalog cannot list every property Azure adds, hence a warning; declare new ones with
  ``--catalog``.
* PE102 compares as the evaluator does: case-insensitively, by the rule value's type, so
  ``enabled`` is ``Enabled`` but ``Enable``, ``TLSv1.4`` or the number ``1.2`` for
  ``TLS1_2`` is not; a property without listed values is checked for type (a string never
  equals an integer property). It reads ``equals notEquals in notIn``, and ``contains
  notContains`` on arrays.
* PE103 names what the other generation reads instead when the catalog says
  (``onCounterpart``): ``properties.sslEnforcement`` on a flexible server, a single server's
  ``securityAlertPolicies`` child under a flexible server.
* PE104 is a small, sound analysis; :mod:`policyengine.lint.logic` says exactly what it knows.
* PE106 runs the inline tests through the evaluator and looks at the verdicts they produce.
* PE107 reads the catalog as the query planner does: a child needs an ARM read; a
  subscription-scope resource a Resource Graph table or an ARM read.

A catalog problem (PE002) stops the run: the rules cannot be checked against a catalog that
does not load.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from policyengine.catalog import catalog
from policyengine.errors import RuleLoadErrors, Span
from policyengine.lint.context import RuleContext
from policyengine.lint.coverage import check_tests
from policyengine.lint.fields import check_fields, check_type
from policyengine.lint.logic import check_logic
from policyengine.lint.problems import CHECKS, ERROR, WARNING, Problem
from policyengine.lint.related import check_related
from policyengine.loading.rules import LoadedRule, drop_duplicate_ids, load_file_documents, rule_sources

__all__ = ["CHECKS", "ERROR", "WARNING", "Problem", "lint"]

CHECKERS = (check_type, check_fields, check_related, check_logic, check_tests)


def lint(paths: Sequence[Path], catalog_files: Sequence[Path] = ()) -> list[Problem]:
    """Every problem of the rule files under ``paths`` (the bundled rules when there are none),
    against the bundled catalog with ``catalog_files`` merged over it; sorted by position.

    Raises :class:`RuleLoadErrors` if a path does not exist (a usage error, not a finding).
    """
    try:
        cat = catalog(*catalog_files)
    except RuleLoadErrors as exc:
        return _sorted(Problem(e.span or Span("catalog"), "PE002", e.message) for e in exc.errors)
    problems: list[Problem] = []
    loaded: list[LoadedRule] = []
    for file, display in rule_sources(paths, include_bundled=not paths):
        rules, errors = load_file_documents(file, display)
        problems += [Problem(e.span or Span(display), "PE001", e.message) for e in errors]
        loaded += rules
    kept, duplicates = drop_duplicate_ids(x.rule for x in loaded)
    problems += [Problem(e.span or Span("rules"), "PE001", e.message) for e in duplicates]
    keep = {id(rule) for rule in kept}
    for item in loaded:
        if id(item.rule) in keep:
            ctx = RuleContext(item, cat)
            for check in CHECKERS:
                problems.extend(check(ctx))
    return _sorted(problems)


def _sorted(problems: Iterable[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: p.position)
