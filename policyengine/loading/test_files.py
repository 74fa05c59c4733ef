"""Test files kept beside rules (``x.tests.yaml``): resource documents with the verdict a
rule must give them, for tests too many or too large to sit inline in the rule.

    apiVersion: policyengine/v1
    kind: RuleTests
    rule: ACME-PG-001
    tests:
      - name: a public server tagged approved passes
        resource: {properties: {network: {publicNetworkAccess: Enabled}}, tags: {approved-public: "true"}}
        expect: pass

Each test has the shape of an inline test (``schemas/tests.schema.json``); errors are located.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from policyengine import ir
from policyengine.errors import RuleLoadError, RuleLoadErrors
from policyengine.loading.rules import TEST_SUFFIXES
from policyengine.loading.schema import valid_documents


def test_files(paths: Iterable[Path]) -> list[Path]:
    """The test files among ``paths``, and every test file below the directories among them."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(TEST_SUFFIXES))
        elif path.name.endswith(TEST_SUFFIXES):
            found.append(path)
    return found


def load_test_files(files: Iterable[Path], rules: Mapping[str, ir.Rule]) -> dict[str, list[ir.RuleTest]]:
    """The tests of ``files`` by (lower-case) rule id; :class:`RuleLoadErrors` with every
    problem, located (an unknown rule id, a related name the rule does not declare)."""
    tests: dict[str, list[ir.RuleTest]] = {}
    errors: list[RuleLoadError] = []
    for doc in valid_documents(files, "tests.schema.json", "test file", "tests", errors):
        rule = rules.get(str(doc.data["rule"]).lower())
        if rule is None:
            message = f"rule: no rule {doc.data['rule']!r} is loaded (give its rule file as well)"
            errors.append(RuleLoadError(message, doc.positions.of(("rule",))))
            continue
        for i, body in enumerate(doc.data["tests"]):
            for name in body.get("related", {}):
                if rule.related_named(name) is None:
                    where = doc.positions.of(("tests", i, "related", name), key=True)
                    errors.append(RuleLoadError(f"tests[{i}].related: '{name}' is not declared in the "
                                                f"spec.related of {rule.id}", where))
            tests.setdefault(rule.id.lower(), []).append(ir.RuleTest(
                name=body["name"], resource=body["resource"], related=body.get("related", {}),
                source=ir.SourceKind(body.get("source", "observed")), expect=body["expect"],
                span=doc.positions.of(("tests", i))))
    if errors:
        raise RuleLoadErrors(errors)
    return tests
