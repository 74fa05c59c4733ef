"""Microsoft's documented examples of ARM template functions, with their documented outputs.

The cases (tests/fixtures/arm-functions, see its README for provenance and licence) are each a
template and the outputs a real deployment returns. One test per (case, output): the template's
default parameter values, overridden by the case's ``parameters``, evaluated and compared as
JSON (object key order free, array order kept, ``true`` is not ``1``, an int is not a float).
Outputs the documentation marks as environment-dependent are skipped by name, with the reason.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from policyengine.sources import jsonpos
from policyengine.sources.arm.functions_date import format_datetime, parse_datetime
from policyengine.sources.arm.scope import Deployment, TemplateScope
from policyengine.unknown import Unknown, contains_unknown

FIXTURES = Path(__file__).parents[2] / "fixtures" / "arm-functions"


def _cases() -> dict[str, dict[str, Any]]:
    cases: dict[str, dict[str, Any]] = {}
    for path in sorted(FIXTURES.glob("cases-*.json")):
        for case in jsonpos.loads(path.read_text(encoding="utf-8"), str(path)):
            cases[case["id"]] = case
    return cases


CASES = _cases()
OUTPUTS = [(case_id, name) for case_id, case in CASES.items() for name in case["outputs"]]


@functools.cache
def evaluated(case_id: str) -> dict[str, Any]:
    case = CASES[case_id]
    scope = TemplateScope(case["template"], case.get("parameters", {}), Deployment(), f"{case_id}.json")
    return scope.outputs()


def same_json(actual: Any, expected: Any) -> bool:
    """Equal as JSON values, with Python's bool/int/float kept apart."""
    if type(actual) is not type(expected) and not (isinstance(actual, dict) and isinstance(expected, dict)) \
            and not (isinstance(actual, list) and isinstance(expected, list)):
        return False
    if isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(same_json(actual[k], expected[k]) for k in expected)
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(same_json(a, e) for a, e in zip(actual, expected, strict=True))
    return bool(actual == expected)


@pytest.mark.parametrize(("case_id", "output"), OUTPUTS, ids=[f"{c}:{o}" for c, o in OUTPUTS])
def test_documented_output(case_id: str, output: str) -> None:
    documented = CASES[case_id]["outputs"][output]
    if documented.get("environmentDependent"):
        pytest.skip(f"{case_id}:{output} is environment-dependent: {documented['reason']}")
    actual = evaluated(case_id)[output]
    assert not isinstance(actual, Unknown), f"{output} is unknown: {actual.reason}"
    assert same_json(actual, documented["value"]), f"{output}: got {actual!r}, documented {documented['value']!r}"


def test_the_corpus_is_complete() -> None:
    """The README's counts: 85 cases, 185 outputs, 24 environment-dependent."""
    dependent = [o for c in CASES.values() for o in c["outputs"].values() if o.get("environmentDependent")]
    assert (len(CASES), len(OUTPUTS), len(dependent)) == (85, 185, 24)


# Environment-dependent outputs, checked against the documentation where telling the scanner
# about the deployment (or reading the docs' rendering) makes them exact; the rest must be unknown.
SUB = "{current-sub-id}"
GIVEN = {
    "resource.resourceid": Deployment(subscription_id=SUB, resource_group="examplegroup"),
    "scope.resourcegroup": Deployment(subscription_id="{subscription-id}", resource_group="examplegroup",
                                      location="southcentralus"),
    "scope.tenant": Deployment(tenant_id="aaaabbbb-0000-cccc-1111-dddd2222eeee"),
}
FIELDS = {"scope.resourcegroup": ("id", "name", "type", "location"), "scope.tenant": ("tenantId",)}
DEPENDENT = [(c, o) for c, o in OUTPUTS if CASES[c]["outputs"][o].get("environmentDependent")]


def documented_known(case_id: str, output: str, actual: Any) -> None:
    """Assert what the docs pin down for an environment-dependent output."""
    documented = CASES[case_id]["outputs"][output]["value"]
    if case_id == "date.datetimeadd":  # printed by PowerShell as en-US M/d/yyyy h:mm:ss tt
        assert format_datetime(parse_datetime(actual), "M/d/yyyy h:mm:ss tt") == documented
    elif case_id == "resource.resourceid":  # the docs scrub the template's own GUID
        assert actual == documented.replace("aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e", "1" * 8 + "-1111" * 3 + "-" + "1" * 12)
    elif case_id == "deployment.environment":
        assert actual == json.loads(documented)
    elif case_id in FIELDS:  # the fields a deployment's context fixes (the docs scrub the tenant's id)
        shown = json.loads(documented.split(":", 1)[1] if documented.startswith('"') else documented)
        shown = shown.get("value", shown)
        assert {k: actual[k] for k in FIELDS[case_id]} == {k: shown[k] for k in FIELDS[case_id]}
    else:
        assert contains_unknown(actual) is not None, f"{output} should be unknown before deployment: {actual!r}"


@pytest.mark.parametrize(("case_id", "output"), DEPENDENT, ids=[f"{c}:{o}" for c, o in DEPENDENT])
def test_environment_dependent_output(case_id: str, output: str) -> None:
    case = CASES[case_id]
    scope = TemplateScope(case["template"], case.get("parameters", {}), GIVEN.get(case_id, Deployment()), "t.json")
    documented_known(case_id, output, scope.outputs()[output])
