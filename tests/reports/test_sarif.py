"""The SARIF report: valid against the OASIS schema, with levels, locations, fingerprints,
suppressions and baseline states as code scanning needs them."""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator, FormatChecker

from policyengine import ir
from policyengine.findings import Finding, Verdict
from policyengine.reports.sarif import FINGERPRINT_KEY, SarifReporter
from policyengine.status import ScanStatus
from tests.conftest import Result
from tests.reports.scans import (
    HOSTILE,
    ROOT,
    WAIVER,
    estate,
    first,
    hostile,
    live,
    render,
    templates,
    waived,
    with_severity,
)

SCHEMA = Path(__file__).parents[1] / "fixtures" / "schemas" / "sarif-schema-2.1.0.json"

# RFC 3986 characters (unreserved, reserved, percent-encoded); jsonschema checks "uri" only
# with an optional package, so the test checks it itself.
_URI_CHARS = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
FORMATS = FormatChecker(())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    # RFC 3339 date-time; jsonschema checks it only with an optional package (rfc3339-validator),
    # which a fresh install does not have, so the test checks it itself.
    if isinstance(value, str):
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
            raise ValueError(value)
        datetime.datetime.fromisoformat(value)
    return True


FORMATS.checks("uri")(lambda v: not isinstance(v, str) or bool(_SCHEME.match(v) and _URI_CHARS.fullmatch(v)))
FORMATS.checks("uri-reference")(lambda v: not isinstance(v, str) or bool(_URI_CHARS.fullmatch(v)))


@cache
def validator() -> Draft4Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"  # hence Draft4Validator
    return Draft4Validator(schema, format_checker=FORMATS)


def sarif(findings: tuple[Finding, ...] | list[Finding], **context: Any) -> dict[str, Any]:
    """The SARIF log for ``findings`` (rules as in ``render``), checked against the schema."""
    log: dict[str, Any] = json.loads(render(SarifReporter, findings, **context))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator().iter_errors(log)]
    assert errors == []
    return log


def results_by_fingerprint(log: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["partialFingerprints"][FINGERPRINT_KEY]: r for r in log["runs"][0]["results"]}


def test_the_format_checks_catch_what_they_should() -> None:
    assert not FORMATS.conforms("not a uri", "uri")
    assert FORMATS.conforms("2026-11-22T07:00:00Z", "date-time")
    assert not FORMATS.conforms("2026-13-01T07:00:00Z", "date-time")
    assert not FORMATS.conforms("22/11/2026", "date-time")
    assert not FORMATS.conforms("examples/a b.json", "uri-reference")
    assert FORMATS.conforms("examples/a%20b.json", "uri-reference")


@pytest.mark.parametrize("source", [estate, templates], ids=["estate", "templates"])
def test_real_scans_give_schema_valid_sarif_with_a_result_per_finding_needing_attention(
        source: Callable[[], tuple[Finding, ...]]) -> None:
    findings = source()
    log = sarif(findings)
    assert log["version"] == "2.1.0"
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "policyengine"
    attention = [f for f in findings if f.verdict in (Verdict.FAIL, Verdict.ERROR, Verdict.UNKNOWN)]
    assert len(run["results"]) == len(attention) > 0
    assert {r["properties"]["verdict"] for r in run["results"]} <= {"fail", "error", "unknown"}
    # Each result names its rule by id and by index into the driver's rules.
    rules = run["tool"]["driver"]["rules"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in run["results"])
    # GitHub rejects a whole upload if one result has no physical location.
    assert all("physicalLocation" in r["locations"][0] for r in run["results"])


def test_rules_carry_what_github_shows() -> None:
    log = sarif(estate())
    rule = next(r for r in log["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "PG-FLEX-001")
    assert rule["shortDescription"]["text"] == "Flexible servers accept only encrypted (TLS) connections"
    assert rule["name"] == "FlexibleServersAcceptOnlyEncryptedTLSConnections"
    assert rule["helpUri"].startswith("https://learn.microsoft.com/")
    assert "require_secure_transport --value on" in rule["help"]["text"]
    assert "```sh\naz postgres flexible-server parameter set" in rule["help"]["markdown"]
    assert rule["defaultConfiguration"]["level"] == "error"
    properties = rule["properties"]
    assert properties["security-severity"] == "8.0"
    assert "security" in properties["tags"]
    assert properties["controls"]["cis-azure-3.0.0"] == ["5.2.1"]


@pytest.mark.parametrize(("severity", "level", "score"), [
    (ir.Severity.CRITICAL, "error", 9.5),
    (ir.Severity.HIGH, "error", 8.0),
    (ir.Severity.MEDIUM, "warning", 5.5),
    (ir.Severity.LOW, "note", 3.0),
    (ir.Severity.INFO, "note", 1.0),
])
def test_a_failure_level_follows_the_severity_and_an_unknown_is_open(
        severity: ir.Severity, level: str, score: float) -> None:
    failing = with_severity(first(estate(), Verdict.FAIL), severity)
    unknown = with_severity(first(estate(), Verdict.UNKNOWN), severity)
    run = sarif([failing, unknown], rule_set=(failing.rule, unknown.rule))["runs"][0]
    by_kind = {r["kind"]: r for r in run["results"]}
    assert by_kind["fail"]["level"] == level
    # SARIF §3.27.10: a kind other than fail has level none.
    assert by_kind["open"]["level"] == "none"
    scores = {float(r["properties"]["security-severity"]) for r in run["tool"]["driver"]["rules"]}
    assert scores == {score}
    assert {r["defaultConfiguration"]["level"] for r in run["tool"]["driver"]["rules"]} == {level}


def test_an_error_verdict_is_a_failing_result() -> None:
    error = first(estate(), Verdict.ERROR)
    (result,) = sarif([error])["runs"][0]["results"]
    assert (result["kind"], result["level"]) == ("fail", "error")
    assert result["message"]["text"] == error.message


def test_a_template_failure_points_at_the_line_that_sets_the_value() -> None:
    finding = next(f for f in templates() if f.verdict is Verdict.FAIL and f.rule.id == "PG-FLEX-001"
                   and f.origin.file.endswith("flexible-insecure.json"))
    result = results_by_fingerprint(sarif([finding]))[finding.fingerprint]
    primary = result["locations"][0]["physicalLocation"]
    assert primary["artifactLocation"] == {"uri": "examples/templates/flexible-insecure.json",
                                           "uriBaseId": "%SRCROOT%"}
    assert primary["region"] == {"startLine": 66, "startColumn": 18}
    line = (ROOT / "examples/templates/flexible-insecure.json").read_text().splitlines()[65]
    assert line[17:].startswith("\"[parameters('requireSecureTransport')]\"")
    (declared,) = result["relatedLocations"]
    assert declared["physicalLocation"]["region"] == {"startLine": 32, "startColumn": 5}
    assert result["locations"][0]["logicalLocations"] == [
        {"fullyQualifiedName": finding.resource_id, "kind": "resource"}]


def test_a_template_finding_without_a_site_points_at_the_declaration() -> None:
    finding = next(f for f in templates() if f.verdict is Verdict.FAIL and f.rule.id == "PG-FLEX-003"
                   and f.origin.line)
    result = sarif([finding])["runs"][0]["results"][0]
    assert result["locations"][0]["physicalLocation"]["region"] == {
        "startLine": finding.origin.line, "startColumn": finding.origin.column}
    assert "relatedLocations" not in result


def test_a_plan_finding_names_the_plan_and_keeps_its_identity_without_a_line() -> None:
    finding = first(templates(), Verdict.FAIL, address="azurerm_postgresql_flexible_server.reports")
    result = sarif([finding])["runs"][0]["results"][0]
    physical = result["locations"][0]["physicalLocation"]
    assert physical == {"artifactLocation": {"uri": "examples/templates/terraform/plan.json",
                                             "uriBaseId": "%SRCROOT%"}}
    assert result["partialFingerprints"]["primaryLocationLineHash"] == f"{finding.fingerprint}:1"


def test_an_estate_finding_names_the_resource_and_the_row_of_the_export() -> None:
    finding = first(estate(), Verdict.FAIL)
    (location,) = sarif([finding])["runs"][0]["results"][0]["locations"]
    assert location["logicalLocations"] == [{"fullyQualifiedName": finding.resource_id, "kind": "resource"}]
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "examples/estate.json", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": finding.origin.line}}


def test_a_live_finding_is_an_artifact_under_azure_resource_manager() -> None:
    finding = live(hostile(first(estate(), Verdict.FAIL)))
    run = sarif([finding])["runs"][0]
    location = run["results"][0]["locations"][0]
    artifact = location["physicalLocation"]["artifactLocation"]
    assert artifact["uriBaseId"] == "AZURE"
    assert run["originalUriBaseIds"]["AZURE"]["uri"] == "https://management.azure.com/"
    assert artifact["uri"].startswith("subscriptions/")
    assert location["logicalLocations"][0]["fullyQualifiedName"].endswith(HOSTILE)


def test_fingerprints_are_stable_across_runs_and_distinct_per_rule_and_resource() -> None:
    first_run, second_run = (render(SarifReporter, estate()) for _ in range(2))
    assert first_run == second_run
    results = json.loads(first_run)["runs"][0]["results"]
    fingerprints = [r["partialFingerprints"][FINGERPRINT_KEY] for r in results]
    assert len(set(fingerprints)) == len(fingerprints)
    # The same inputs read in another order give the same log.
    assert render(SarifReporter, reversed(estate())) == first_run


def test_a_waived_finding_is_suppressed_with_its_justification() -> None:
    finding = waived(first(estate(), Verdict.FAIL))
    (result,) = sarif([finding])["runs"][0]["results"]
    assert (result["kind"], result["properties"]["verdict"]) == ("fail", "waived")
    assert result["suppressions"] == [{
        "kind": "external", "status": "accepted", "justification": WAIVER.justification,
        "properties": {"owner": "@platform-team", "expires": "2031-03-31", "source": "waivers.yaml:4:5"},
    }]


def test_baseline_state_says_which_failures_are_new() -> None:
    known, new = [f for f in estate() if f.verdict is Verdict.FAIL][:2]
    findings = [dataclasses.replace(known, baseline=True), new]
    states = {fp: r["baselineState"] for fp, r in results_by_fingerprint(
        sarif(findings, baseline="previous.json")).items()}
    assert states == {known.fingerprint: "unchanged", new.fingerprint: "new"}
    assert all("baselineState" not in r for r in sarif(findings)["runs"][0]["results"])


def test_a_framework_becomes_a_taxonomy_the_rules_relate_to() -> None:
    run = sarif(estate(), framework="cis-azure-3.0.0")["runs"][0]
    (taxonomy,) = run["taxonomies"]
    assert taxonomy["name"] == "cis-azure-3.0.0"
    status = {t["id"]: t["properties"]["status"] for t in taxonomy["taxa"]}
    assert status["5.2.1"] == "fail"
    rule = next(r for r in run["tool"]["driver"]["rules"] if r["id"] == "PG-FLEX-001")
    assert rule["relationships"] == [{"target": {"id": "5.2.1", "toolComponent": {"name": "cis-azure-3.0.0"}},
                                      "kinds": ["relevant"]}]


def test_an_incomplete_scan_is_not_a_successful_execution() -> None:
    scan = ScanStatus("live", truncated=["microsoft.dbforpostgresql/servers"])
    (invocation,) = sarif(estate(), scan=scan)["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert "exitCode" not in invocation
    texts = [n["message"]["text"] for n in invocation["toolExecutionNotifications"]]
    assert "truncated: microsoft.dbforpostgresql/servers" in texts


def test_expired_and_unmatched_waivers_are_configuration_notifications() -> None:
    waivers = tuple({"waiver": {**dict.fromkeys(("rule", "resource", "justification", "owner"), "x"),
                                "expires": "2020-01-01", "source": f"w.yaml:{i}:1"}, "status": status, "matched": 0}
                    for i, status in enumerate(("expired", "unmatched", "applied")))
    (invocation,) = sarif(estate(), waivers=waivers)["runs"][0]["invocations"]
    ids = [n["descriptor"]["id"] for n in invocation["toolConfigurationNotifications"]]
    assert ids == ["waiver-expired", "waiver-unmatched"]


def test_the_cli_writes_sarif(cli: Callable[..., Result]) -> None:
    result = cli("scan", "--format", "sarif")
    log = json.loads(result.out)
    assert not list(validator().iter_errors(log))
    assert result.code == log["runs"][0]["invocations"][0]["exitCode"] == 1
