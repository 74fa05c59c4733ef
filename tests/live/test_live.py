"""Live scans with the real Azure SDK clients against a fake Azure on loopback (HTTPS,
trustme certificates): every resource in scope is reported whatever faults are injected,
throttling is waited out, request counts follow the plan, and a collected snapshot replays
the same verdicts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.azurefake.server import TOKEN, Estate, FakeAzure, Fault
from tests.live.conftest import EXAMPLE_ROWS, FLEX, SINGLE, Cli, live, offline, verdicts


def test_live_scan_gives_the_offline_verdicts(cli: Cli, azure_env: Callable[..., FakeAzure]) -> None:
    fake = azure_env(page_size=4)
    result, report = live(cli)
    assert result.code == 1, result.err  # the example has failures
    assert report["scan"]["complete"] is True
    assert verdicts(report) == verdicts(offline(cli))
    # requests follow the plan: one ARG query per type and batch, per page
    servers = [r for r in EXAMPLE_ROWS if r["type"].lower() == FLEX]
    singles = [r for r in EXAMPLE_ROWS if r["type"].lower() == SINGLE]
    pages = {"flex": -(-len(servers) // 4), "single": 1, "subs": 1}
    assert fake.count("POST", "resourcegraph") == sum(pages.values())
    # ARM: the subscription list, then per server what the plan needs (none for dropping servers)
    applicable = [s for s in servers if str(s.get("properties", {}).get("state")).lower() != "dropping"]
    # One listing per server (its later pages follow nextLink: the example's servers hold
    # more parameters than the fake's 4-row pages).
    listed = {p.lower() for m, p in fake.requests if m == "GET" and p.lower().endswith("/configurations")}
    assert listed == {s["id"].lower() + "/configurations" for s in applicable}
    # Firewall rules only where a rule on them applies: servers with public access.
    public = [s for s in applicable if s["properties"].get("network", {}).get("publicNetworkAccess") != "Disabled"]
    assert fake.count("GET", r"/firewallRules$") == len(public) > 0
    assert fake.count("GET", r"/advancedThreatProtectionSettings/Default$") == len(applicable)
    assert fake.count("GET", r"/securityAlertPolicies/Default$") <= len(singles)
    assert fake.count("GET", r"^/subscriptions$") == 1


def test_faults_never_drop_a_resource(cli: Cli, azure_env: Callable[..., FakeAzure]) -> None:
    victim = next(r["id"] for r in EXAMPLE_ROWS
                  if r["type"].lower() == FLEX and r.get("properties", {}).get("state") == "Ready")
    faults = [
        Fault("GET", f"{victim}/configurations$", 403, body=json.dumps(
            {"error": {"code": "AuthorizationFailed", "message": "no read on configurations"}})),
        Fault("GET", r"advancedThreatProtectionSettings", 503, headers={"Retry-After": "0"}, times=3),
        Fault("GET", r"securityAlertPolicies", 200, body="{not json", times=1),
        Fault("POST", r"resourcegraph", 429, headers={"x-ms-user-quota-remaining": "0",
                                                      "x-ms-user-quota-resets-after": "00:00:00.3"}, times=2),
    ]
    fake = azure_env(faults=faults)
    result, report = live(cli, "--verbose")
    # The 403 is a denied read: the scan is incomplete and says which role would allow it.
    assert result.code == 3, result.err
    assert report["scan"]["complete"] is False
    assert report["scan"]["denied"] == [{"what": "Microsoft.DBforPostgreSQL/flexibleServers/configurations",
                                         "scope": victim, "role": "Reader"}]
    got, expected = verdicts(report), verdicts(offline(cli))
    assert set(got) == set(expected)  # every (rule, resource) is there
    victim_findings = {rule: f for f in report["findings"] if f["resource"]["id"] == victim
                       for rule in [f["rule"]["id"]]}
    for rule in ("PG-FLEX-001", "PG-FLEX-002"):
        assert victim_findings[rule]["verdict"] == "unknown"
        assert "403" in victim_findings[rule]["message"]
        assert "no read on configurations" in victim_findings[rule]["message"]
    assert "Resource Graph requests" in result.err and "2 throttled" in result.err
    assert faults[1].hits == 3  # 5xx retried by azure-core, then answered
    assert fake.count("POST", "resourcegraph") >= 5
    assert TOKEN not in result.out + result.err


def test_failed_batch_is_not_evaluated_and_exit_3(cli: Cli, azure_env: Callable[..., FakeAzure]) -> None:
    # Retry-After: 0 keeps the retries quick; they are still made (and counted) before giving up.
    fake = azure_env(faults=[Fault("POST", r"resourcegraph", 500, headers={"Retry-After": "0"}, times=None)])
    result, report = live(cli)
    assert result.code == 3
    assert report["scan"]["complete"] is False
    assert {n["resourceType"] for n in report["scan"]["notEvaluated"]} >= {
        "Microsoft.DBforPostgreSQL/flexibleServers"}
    assert "incomplete" in result.err
    assert fake.count("POST", "resourcegraph") == 3 * 6  # three queries, each tried six times
    allowed = cli("scan", "--azure", "--format", "json", "--allow-incomplete")
    assert allowed.code in (0, 1)


def test_auth_failure_is_one_line_exit_3(cli: Cli, azure_env: Callable[..., FakeAzure],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    azure_env()
    monkeypatch.setenv("POLICYENGINE_ACCESS_TOKEN", "wrong-token-value")
    result = cli("scan", "--azure")
    assert result.code == 3
    assert result.err.count("\n") == 1
    assert result.err.startswith("policyengine: cannot sign in to Azure (POLICYENGINE_ACCESS_TOKEN): ARM "
                                 "answered 401")
    assert "az account get-access-token" in result.err
    assert "wrong-token-value" not in result.err + result.out


def test_collect_and_replay(cli: Cli, azure_env: Callable[..., FakeAzure], tmp_path: Path) -> None:
    victim = next(r["id"] for r in EXAMPLE_ROWS if r["type"].lower() == FLEX)
    azure_env(faults=[Fault("GET", f"{victim}/advancedThreatProtectionSettings", 403)])
    snapshot = tmp_path / "estate.ndjson"
    collected = cli("collect", "--azure", "--output", str(snapshot), "--quiet")
    # A denied read makes the collection incomplete, and the snapshot says so.
    assert collected.code == 3, collected.err
    lines = snapshot.read_text().splitlines()
    assert json.loads(lines[0])["$policyengine"]["order"] == "parent-first"
    status = json.loads(lines[-1])["$policyengine"]["status"]
    denied = [{"what": "Microsoft.DBforPostgreSQL/flexibleServers/advancedThreatProtectionSettings",
               "scope": victim, "role": "Reader"}]
    assert status["complete"] is False and status["denied"] == denied
    live_result, live_report = live(cli)
    assert live_result.code == 3
    replayed = cli("scan", str(snapshot), "--format", "json")
    replay = json.loads(replayed.out)
    assert verdicts(replay) == verdicts(live_report)
    messages = {(f["rule"]["id"], f["resource"]["id"]): f["message"] for f in replay["findings"]}
    assert "403" in messages[("PG-FLEX-003", victim)]  # what could not be read survives the snapshot
    assert replay["scan"]["source"] == "snapshot"
    # The replay is as incomplete as the collection, for the same denied read.
    assert replayed.code == 3
    assert replay["scan"]["complete"] is False and replay["scan"]["denied"] == denied
    assert cli("scan", str(snapshot), "--format", "json", "--allow-incomplete").code == 1
    table = cli("scan", str(snapshot), "--format", "table").out
    assert "INCOMPLETE SCAN" in table and "read denied (403)" in table and "the Reader role" in table


def test_management_group_scope(cli: Cli, azure_env: Callable[..., FakeAzure]) -> None:
    fake = azure_env()
    subs = [s["subscriptionId"] for s in fake.estate.subscriptions]
    fake.management_groups["mg-prod"] = subs[:1]
    result, report = live(cli, "--management-group", "mg-prod")
    assert result.code in (0, 1)
    assert {f["resource"]["subscriptionId"] for f in report["findings"]} == {subs[0]}
    assert fake.count("GET", r"^/subscriptions$") == 0


def test_endpoint_must_be_https(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICYENGINE_ACCESS_TOKEN", TOKEN)
    result = cli("scan", "--azure", "--arm-endpoint", "http://127.0.0.1:1")
    assert result.code == 2
    assert "must be an https:// URL" in result.err


def test_slow_answer_is_retried(cli: Cli, azure_env: Callable[..., FakeAzure]) -> None:
    victim = next(r["id"] for r in EXAMPLE_ROWS if r["type"].lower() == FLEX)
    slow = Fault("GET", f"{victim}/advancedThreatProtectionSettings", 200, delay=3.0, times=1,
                 body=json.dumps({"id": "x", "name": "Default", "properties": {"state": "Enabled"}}))
    azure_env(faults=[slow])
    result = cli("scan", "--azure", "--format", "json", "--timeout", "1")
    report = json.loads(result.out)
    assert slow.hits == 1  # the slow answer timed out, and the retry was answered
    assert verdicts(report) == verdicts(offline(cli))


def test_subscriptions_go_in_batches_under_300(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"id": f"/subscriptions/{i:08d}-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
                   f"Microsoft.DBforPostgreSQL/servers/pg{i}",
             "name": f"pg{i}", "type": SINGLE, "properties": {"sslEnforcement": "Enabled"}}
            for i in range(600)]
    with FakeAzure(Estate.from_rows(rows)) as fake:
        monkeypatch.setenv("POLICYENGINE_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("POLICYENGINE_ARM_ENDPOINT", fake.endpoint)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_bundle)
        result = cli("scan", "--azure", "--format", "json", "--rule", "PG-SINGLE-001", "--allow-incomplete")
        report = json.loads(result.out)
        assert len(report["findings"]) == 600
        assert {f["verdict"] for f in report["findings"]} == {"pass"}
        assert fake.count("POST", "resourcegraph") == 3  # 600 subscriptions: 250 + 250 + 100


def test_throttle_waits_and_helpers() -> None:
    from policyengine.sources.azure.graph import _first, parse_reset, parse_retry_after

    assert parse_reset("00:00:05") == 5.0 and parse_reset("01:02:03.5") == 3723.5
    assert parse_reset("soon") is None and parse_reset(None) is None
    assert parse_retry_after("0") == 0.0 and parse_retry_after("x") is None
    assert _first(None, 0.0, 8.0) == 0.0 and _first(None, None, 8.0) == 8.0
