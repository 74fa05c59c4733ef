"""What Resource Graph does not return is read from ARM before a verdict is given, and a read
Azure denies makes the scan incomplete (issue 12, live semantics).

Resource Graph silently leaves out rows the identity may not read, so a subscription missing
from ``securityresources`` proves nothing: its Defender plan is read from ARM, once per
subscription. 200 decides; 404 (a plan never set) is the platform default, Free, with a note on
the evidence; 403 leaves the rules that read it ``unknown`` and the scan incomplete (exit 3),
naming the denied read and the role that would allow it — as does a 403 on a server's children.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.azurefake.server import FakeAzure, Fault
from tests.live.conftest import EXAMPLE_ROWS, FLEX, NO_PLAN, PLAN, Cli, live, offline, verdicts

Env = Callable[..., FakeAzure]
STANDARD = "8c3f2a91-5d4e-4b7a-9e21-6f0c3d8a7b12"  # the example's subscription on the Standard plan
PRICING = r"/providers/Microsoft\.Security/pricings/OpenSourceRelationalDatabases$"
DENIED = json.dumps({"error": {"code": "AuthorizationFailed", "message": "no read on pricings"}})


def in_subscription(report: dict[str, Any], subscription: str, rule: str) -> dict[str, str]:
    """The verdicts of ``rule`` on the resources of one subscription (its own included)."""
    prefix = f"/subscriptions/{subscription}".lower()
    return {rid: v for (rid_rule, rid), v in verdicts(report).items()
            if rid_rule == rule and (rid == prefix or rid.startswith(prefix + "/"))}


def finding(report: dict[str, Any], rule: str, rid: str) -> dict[str, Any]:
    return next(f for f in report["findings"] if f["rule"]["id"] == rule and f["resource"]["id"].lower() == rid)


def test_a_plan_missing_from_resource_graph_is_read_from_arm(cli: Cli, azure_env: Env) -> None:
    fake = azure_env()
    fake.estate.hide_from_graph(STANDARD)
    result, report = live(cli)
    assert result.code == 1, result.err
    assert report["scan"]["complete"] is True
    # ARM says Standard: the subscription and its servers are judged as with the row in ARG.
    assert in_subscription(report, STANDARD, "PG-SUB-001") == {f"/subscriptions/{STANDARD}": "pass"}
    expected = offline(cli)
    for rule in ("PG-SUB-001", "PG-FLEX-004"):
        assert in_subscription(report, STANDARD, rule) == in_subscription(expected, STANDARD, rule)
    assert in_subscription(report, STANDARD, "PG-FLEX-004")
    # Once per subscription, though two queries (subscriptions, flexible servers) join the plan;
    # the subscription whose row Resource Graph gave is not read again.
    assert fake.count("GET", f"/subscriptions/{STANDARD}{PRICING}") == 1
    assert fake.count("GET", PRICING) == 2  # this one, and the example's subscription without a plan


def test_a_plan_arm_does_not_have_is_the_free_default_with_a_note(cli: Cli, azure_env: Env) -> None:
    fake = azure_env()  # the example holds no plan for NO_PLAN: ARM answers 404
    result, report = live(cli)
    assert result.code == 1, result.err
    assert report["scan"]["complete"] is True
    # The example lacks some ATP settings too (404, unread: their rules are unknown); the plan's
    # 404 is counted with them, but it is not unread: the default decides.
    assert report["scan"]["notFound"] == report["scan"]["unreadChildren"] + 1
    assert report["scan"]["denied"] == []
    sub = f"/subscriptions/{NO_PLAN}"
    assert in_subscription(report, NO_PLAN, "PG-SUB-001") == {sub: "fail"}
    # Its servers as if the export held the Free plan: those with ATP off fail, with the note.
    servers = in_subscription(report, NO_PLAN, "PG-FLEX-004")
    assert servers == in_subscription(offline(cli), NO_PLAN, "PG-FLEX-004")
    failing = [rid for rid, verdict in servers.items() if verdict == "fail"]
    assert failing
    for rule, rid in [("PG-SUB-001", sub), *(("PG-FLEX-004", r) for r in failing)]:
        notes = [e.get("note", "") for e in finding(report, rule, rid)["evidence"]]
        assert any("404" in n and "platform default was assumed (pricingTier Free)" in n for n in notes), notes
    assert fake.count("GET", f"{sub}{PRICING}") == 1


def test_a_denied_plan_is_unknown_and_the_scan_incomplete(cli: Cli, azure_env: Env, tmp_path: Path) -> None:
    fake = azure_env(faults=[Fault("GET", f"/subscriptions/{STANDARD}{PRICING}", 403, body=DENIED)])
    fake.estate.hide_from_graph(STANDARD)
    result, report = live(cli)
    assert result.code == 3, result.err
    assert report["scan"]["complete"] is False
    assert report["scan"]["denied"] == [{"what": f"Microsoft.Security/pricings '{PLAN}'",
                                         "scope": f"/subscriptions/{STANDARD}", "role": "Security Reader"}]
    sub = f"/subscriptions/{STANDARD}"
    assert in_subscription(report, STANDARD, "PG-SUB-001") == {sub: "unknown"}
    assert "no read on pricings" in finding(report, "PG-SUB-001", sub)["message"]
    # A server whose own ATP setting protects it passes whatever the plan; the others are unknown.
    expected = in_subscription(offline(cli), STANDARD, "PG-FLEX-004")
    got = in_subscription(report, STANDARD, "PG-FLEX-004")
    assert set(got) == set(expected) and "unknown" in got.values()
    for rid, verdict in got.items():
        assert verdict == "unknown" or verdict == expected[rid] != "fail"
    # Every other subscription is judged as offline.
    others = {k: v for k, v in verdicts(report).items() if STANDARD not in k[1]}
    assert others == {k: v for k, v in verdicts(offline(cli)).items() if STANDARD not in k[1]}
    # Every format names the denied read and the role.
    for fmt in ("table", "markdown", "html", "sarif"):
        out = tmp_path / f"report.{fmt}"
        again = cli("scan", "--azure", "--format", fmt, "--output", str(out), "--timeout", "5")
        assert again.code == 3, again.err
        text = out.read_text("utf-8")
        assert "read denied (403)" in text and "Security Reader" in text, fmt
    assert cli("scan", "--azure", "--format", "json", "--allow-incomplete").code == 1


def test_a_denied_read_of_one_servers_children(cli: Cli, azure_env: Env, tmp_path: Path) -> None:
    victim = next(r["id"] for r in EXAMPLE_ROWS
                  if r["type"].lower() == FLEX and r.get("properties", {}).get("state") == "Ready")
    azure_env(faults=[Fault("GET", f"^{victim}/(configurations|advancedThreatProtectionSettings/Default)$",
                            403, body=json.dumps({"error": {"code": "AuthorizationFailed",
                                                            "message": "no read on the server"}}))])
    result, report = live(cli)
    assert result.code == 3, result.err
    assert report["scan"]["complete"] is False
    denied = report["scan"]["denied"]
    assert {d["what"].rsplit("/", 1)[-1] for d in denied} == {"configurations", "advancedThreatProtectionSettings"}
    assert {(d["scope"], d["role"]) for d in denied} == {(victim, "Reader")}
    expected = verdicts(offline(cli))
    got = verdicts(report)
    assert set(got) == set(expected)
    mine = {rule: v for (rule, rid), v in got.items() if rid == victim.lower()}
    for rule in ("PG-FLEX-001", "PG-FLEX-002", "PG-FLEX-003"):
        assert mine[rule] == "unknown", rule
    # The other servers are judged as offline.
    assert {k: v for k, v in got.items() if k[1] != victim.lower()} == \
        {k: v for k, v in expected.items() if k[1] != victim.lower()}
    out = tmp_path / "report.md"
    assert cli("scan", "--azure", "--format", "markdown", "--output", str(out), "--timeout", "5").code == 3
    text = out.read_text("utf-8")
    assert f"read denied (403): Microsoft.DBforPostgreSQL/flexibleServers/configurations of {victim}" in text
    assert "the Reader role there would allow it" in text


def test_a_denied_plan_survives_a_snapshot(cli: Cli, azure_env: Env, tmp_path: Path) -> None:
    fake = azure_env(faults=[Fault("GET", f"/subscriptions/{STANDARD}{PRICING}", 403, body=DENIED)])
    fake.estate.hide_from_graph(STANDARD)
    snapshot = tmp_path / "estate.ndjson"
    collected = cli("collect", "--azure", "--output", str(snapshot), "--timeout", "5")
    assert collected.code == 3, collected.err
    status = json.loads(snapshot.read_text().splitlines()[-1])["$policyengine"]["status"]
    assert status["complete"] is False and [d["role"] for d in status["denied"]] == ["Security Reader"]
    live_result, live_report = live(cli)
    replayed = cli("scan", str(snapshot), "--format", "json")
    replay = json.loads(replayed.out)
    assert replayed.code == 3 and live_result.code == 3
    assert verdicts(replay) == verdicts(live_report)
    assert replay["scan"]["denied"] == live_report["scan"]["denied"] == status["denied"]
    assert replay["scan"]["notFound"] == live_report["scan"]["notFound"] == status["notFound"] > 0
    # The 404 default keeps its note through the snapshot too.
    sub = f"/subscriptions/{NO_PLAN}"
    notes = [e.get("note", "") for e in finding(replay, "PG-SUB-001", sub)["evidence"]]
    assert any("platform default was assumed" in n for n in notes), notes
