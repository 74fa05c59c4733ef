"""Waivers and baselines change verdicts and exit codes exactly as documented."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from policyengine.loading.schema import load_schema
from tests.conftest import Result

VALIDATOR = jsonschema.Draft202012Validator(load_schema("report.schema.json"),
                                            format_checker=jsonschema.FormatChecker())

SANDBOX = "/subscriptions/*/resourceGroups/rg-sandbox/providers/Microsoft.DBforPostgreSQL/flexibleServers/*"


def waivers(*entries: dict[str, str]) -> str:
    body = "".join(
        f"  - rule: {e['rule']}\n    resource: \"{e['resource']}\"\n    justification: {e.get('why', 'An accepted risk, on record.')}\n"
        f"    owner: {e.get('owner', 'team@contoso.com')}\n    expires: {e.get('expires', '2099-01-01')}\n"
        for e in entries)
    return f"apiVersion: policyengine/v1\nkind: Waivers\nwaivers:\n{body}"


def report(cli: Callable[..., Result], *argv: str) -> tuple[int, dict[str, Any], str]:
    result = cli("scan", "--format", "json", *argv)
    assert result.code in (0, 1), result.err
    doc = json.loads(result.out)
    VALIDATOR.validate(doc)
    return result.code, doc, result.err


def by_rule_resource(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f["rule"]["id"], f["resource"]["id"].rsplit("/", 1)[-1]): f for f in doc["findings"]}


def test_a_waiver_turns_a_failure_into_waived(cli: Callable[..., Result], write: Callable[[str, str], Path]) -> None:
    path = write("w.yaml", waivers({"rule": "PG-FLEX-003", "resource": SANDBOX, "why": "Sandbox holds no real data."}))
    _, doc, err = report(cli, "--waivers", str(path), "--rule", "PG-FLEX-003")
    finding = by_rule_resource(doc)[("PG-FLEX-003", "pg-sandbox-dev-01")]
    assert finding["verdict"] == "waived"
    assert finding["waiver"]["justification"] == "Sandbox holds no real data."
    assert finding["waiver"]["source"] == f"{path}:4:5"
    assert "waived until 2099-01-01" in finding["message"]
    assert doc["summary"]["verdicts"]["waived"] == 1
    assert doc["summary"]["verdicts"]["fail"] == 3
    assert doc["waivers"][0]["status"] == "applied" and doc["waivers"][0]["matched"] == 1
    assert err.startswith("policyengine: no PATH: scanning the bundled example (examples/estate.json)\n")
    assert "waiver" not in err


def test_waiving_every_failure_makes_the_exit_code_0(cli: Callable[..., Result],
                                                     write: Callable[[str, str], Path]) -> None:
    path = write("w.yaml", waivers({"rule": "PG-SINGLE-00[12]", "resource": "*/PGSQL-LEGACY-HR"}))
    assert cli("scan", "--rule", "PG-SINGLE-001", "--rule", "PG-SINGLE-002", "--fail-on", "high").code == 1
    code, doc, _ = report(cli, "--rule", "PG-SINGLE-001", "--waivers", str(path), "--fail-on", "high")
    assert code == 0 and doc["summary"]["failing"] == 0
    # An error verdict is not a failure a waiver can accept: PG-SINGLE-002 still errs on one server.
    code, doc, _ = report(cli, "--rule", "PG-SINGLE-002", "--waivers", str(path), "--fail-on", "high")
    assert code == 1 and doc["summary"]["verdicts"] == {**doc["summary"]["verdicts"], "waived": 1, "error": 1}


def test_an_expired_waiver_no_longer_applies_and_is_reported(cli: Callable[..., Result],
                                                             write: Callable[[str, str], Path]) -> None:
    path = write("w.yaml", waivers({"rule": "PG-FLEX-003", "resource": SANDBOX, "expires": "2020-01-31"}))
    code, doc, err = report(cli, "--waivers", str(path), "--rule", "PG-FLEX-003")
    assert code == 1
    assert by_rule_resource(doc)[("PG-FLEX-003", "pg-sandbox-dev-01")]["verdict"] == "fail"
    assert doc["waivers"][0]["status"] == "expired" and doc["waivers"][0]["expiredMatches"] == 1
    assert f"{path}:4:5: the waiver of PG-FLEX-003" in err and "expired on 2020-01-31" in err


def test_a_waiver_that_matches_nothing_is_reported(cli: Callable[..., Result],
                                                   write: Callable[[str, str], Path]) -> None:
    path = write("w.yaml", waivers({"rule": "PG-FLEX-001", "resource": "/subscriptions/x/gone"}))
    _, doc, err = report(cli, "--waivers", str(path))
    assert doc["waivers"][0]["status"] == "unmatched"
    assert "matches no failing finding" in err


@pytest.mark.parametrize(("text", "message"), [
    ("apiVersion: policyengine/v1\nkind: Waivers\nwaivers:\n  - rule: X\n    resource: y\n", ":4:5: waivers[0]: missing required key 'justification'"),
    (waivers({"rule": "X", "resource": "y", "expires": "31/12/2030"}), "waivers[0].expires: '31/12/2030' is not a 'date'"),
    (waivers({"rule": "X", "resource": "y"}) + "    reason: typo\n", "unknown key 'reason'"),
    ("waivers: [\n", "invalid YAML"),
])
def test_bad_waiver_files_are_located(cli: Callable[..., Result], write: Callable[[str, str], Path],
                                      text: str, message: str) -> None:
    path = write("w.yaml", text)
    result = cli("scan", "--waivers", str(path))
    assert result.code == 2 and message in result.err and result.err.startswith(str(path)), result.err


def test_a_baseline_counts_only_new_failures(cli: Callable[..., Result], tmp_path: Path,
                                             write: Callable[[str, str], Path]) -> None:
    baseline = tmp_path / "baseline.json"
    assert cli("scan", "--format", "json", "--output", str(baseline)).code == 1
    code, doc, _ = report(cli, "--baseline", str(baseline))
    assert code == 0  # nothing new
    assert doc["summary"]["failing"] == 0 and doc["summary"]["baselined"] == 82  # 81 failing, 1 error
    assert all(f.get("baseline") for f in doc["findings"] if f["verdict"] in ("fail", "error"))
    assert doc["baseline"] == str(baseline)
    # A new insecure server in a second export is not in the baseline: it fails the scan.
    estate = json.loads((Path(__file__).resolve().parents[2] / "examples" / "estate.json").read_text())
    rows = [r for r in estate["data"] if r.get("name") == "pg-orders-prod-01" or
            "pg-orders-prod-01/" in r.get("id", "").lower()]
    renamed = json.loads(json.dumps(rows).replace("pg-orders-prod-01", "pg-orders-prod-02"))
    extra = write("new.json", json.dumps(renamed))
    code, doc, _ = report(cli, str(Path(__file__).resolve().parents[2] / "examples" / "estate.json"), str(extra),
                          "--baseline", str(baseline))
    new = [f for f in doc["findings"] if f["verdict"] == "fail" and not f.get("baseline")]
    assert code == 1 and {f["resource"]["id"].rsplit("/", 1)[-1] for f in new} == {"pg-orders-prod-02"}
    # What gates is counted: the new failures but those of posture rules (--gate all counts them).
    posture = {r["id"] for r in doc["rules"] if "posture" in r["tags"]}
    gating = [f for f in new if f["rule"]["id"] not in posture]
    assert doc["summary"]["failing"] == len(gating) < len(new)


def test_a_baseline_that_is_not_a_report_is_refused(cli: Callable[..., Result],
                                                    write: Callable[[str, str], Path]) -> None:
    path = write("b.json", '{"findings": [], "something": 1}')
    result = cli("scan", "--baseline", str(path))
    assert result.code == 2 and "not a policyengine JSON report" in result.err
