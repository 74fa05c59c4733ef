"""The template corpus: every case's findings, verdict by verdict, as expected.yaml says."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from policyengine.loading.schema import load_schema
from tests.conftest import Result

VALIDATOR = jsonschema.Draft202012Validator(load_schema("report.schema.json"),
                                            format_checker=jsonschema.FormatChecker())

CORPUS = Path(__file__).parent.parent / "fixtures" / "templates"
CASES: list[dict[str, Any]] = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))


def resource_key(resource_id: str) -> str:
    """``.../providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-a`` -> ``flexibleServers/pg-a``."""
    if "/providers/" not in resource_id:
        return "subscription"
    return resource_id.split("/providers/", 1)[1].split("/", 1)[1]


def scan_report(cli: Callable[..., Result], *argv: str) -> tuple[int, dict[str, Any]]:
    result = cli("scan", *argv, "--format", "json")
    assert result.code in (0, 1), result.err
    doc = json.loads(result.out)
    VALIDATOR.validate(doc)
    return result.code, doc


def verdicts(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for finding in report["findings"]:
        verdict = finding["verdict"]
        if any("default was assumed" in e.get("note", "") for e in finding["evidence"]):
            verdict += " (default)"
        rules = seen.setdefault(resource_key(finding["resource"]["id"]), {})
        assert finding["rule"]["id"] not in rules, "one finding per rule and resource"
        rules[finding["rule"]["id"]] = verdict
    return seen


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_corpus_case(cli: Callable[..., Result], case: dict[str, Any]) -> None:
    # The corpus pins the verdicts of the original set (SSL, TLS, threat protection); the
    # posture and alert rules have their own cases.
    argv = [str(CORPUS / case["file"]), "--rule", "tag:core"]
    for assignment in case.get("parameters", []):
        argv += ["-p", assignment]
    _, report = scan_report(cli, *argv)
    assert verdicts(report) == case["verdicts"]
