"""Live faults make the scan incomplete, never a traceback, a hang or a silent success: short
Resource Graph pages, ``data`` that is not rows, rows without a usable id, reads that time out
and a repeating ``$skipToken`` each become a gap in ``scan.notEvaluated`` (exit code 3, one
line on stderr), while the rest of the estate is still read and judged — live, and again from
a collected snapshot."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from policyengine.catalog import catalog
from policyengine.kql.plan import build_plan
from policyengine.pipeline import pick_rules
from policyengine.sources.azure.arm import ArmClient
from policyengine.sources.azure.auth import StaticTokenCredential
from policyengine.sources.azure.graph import GraphClient
from policyengine.sources.azure.live import LiveScan, Scope
from tests.azurefake.server import TOKEN, Estate, FakeAzure, Fault, Rewrite
from tests.live.conftest import EXAMPLE_ROWS, FLEX, SINGLE, Cli, live, offline, verdicts

Env = Callable[..., FakeAzure]
FLEX_TYPE = "Microsoft.DBforPostgreSQL/flexibleServers"
SINGLE_TYPE = "Microsoft.DBforPostgreSQL/servers"


def on(resource_type: str, change: Callable[[dict[str, Any], dict[str, Any]], None]) -> Rewrite:
    """A rewrite of the answers to the query of one resource type (the others pass as made)."""
    marker = f'type =~ "{resource_type}"'

    def rewrite(body: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if marker in body["query"].splitlines()[1]:
            change(body, answer)
        return answer

    return rewrite


def in_json(text: str) -> str:
    """A pattern for ``text`` inside a JSON request body (where its quotes are escaped)."""
    return re.escape(json.dumps(text)[1:-1])


def gaps(report: dict[str, Any]) -> dict[str, str]:
    return {g["resourceType"]: g["reason"] for g in report["scan"]["notEvaluated"]}


def judged(report: dict[str, Any], lowered_type: str) -> dict[tuple[str, str], str]:
    """The verdicts on resources of one type."""
    return {key: v for key, v in verdicts(report).items() if f"/{lowered_type.split('/')[1]}/" in key[1]}


def assert_incomplete(result: Any, report: dict[str, Any]) -> None:
    """Exit code 3, the report written and saying so, one line on stderr that says why (the
    other lines name data the estate lacks, which is not this module's matter)."""
    assert result.code == 3, result.err
    assert report["scan"]["complete"] is False
    assert "Traceback" not in result.err
    said = [line for line in result.err.splitlines() if "incomplete" in line]
    assert len(said) == 1 and "exit code 3" in said[0], result.err


def test_a_short_answer_is_a_gap_with_the_numbers(cli: Cli, azure_env: Env) -> None:
    # The first page says 15 rows and gives 4, then no $skipToken: 11 rows never arrive.
    def cut(_body: dict[str, Any], answer: dict[str, Any]) -> None:
        answer.pop("$skipToken", None)

    azure_env(page_size=4, rewrite=on(FLEX, cut))
    result, report = live(cli)
    assert_incomplete(result, report)
    reason = gaps(report)[FLEX_TYPE]
    assert "totalRecords 15" in reason and "4 arrived" in reason, reason
    # What did arrive is judged, and so is every other type.
    assert len({rid for _, rid in judged(report, FLEX)}) == 4
    assert judged(report, SINGLE) == judged(offline(cli), SINGLE)


@pytest.mark.parametrize("data", [None, {}, "rows", 7, {"columns": "x", "rows": []}])
def test_data_that_is_not_rows_is_a_gap(cli: Cli, azure_env: Env, data: Any) -> None:
    def spoil(_body: dict[str, Any], answer: dict[str, Any]) -> None:
        answer["data"] = data

    azure_env(rewrite=on(FLEX, spoil))
    result, report = live(cli)
    assert_incomplete(result, report)
    reason = gaps(report)[FLEX_TYPE]
    assert "'data'" in reason and "page 1" in reason, reason
    assert "totalRecords 15" in reason and "0 arrived" in reason, reason
    assert judged(report, FLEX) == {}
    assert judged(report, SINGLE) == judged(offline(cli), SINGLE)


def test_rows_in_table_form_are_read(cli: Cli, azure_env: Env) -> None:
    """``resultFormat: table`` (columns and rows) is a shape Resource Graph answers in too."""

    def as_table(_body: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        rows = answer["data"]
        names = sorted({k for row in rows for k in row})
        answer["data"] = {"columns": [{"name": n, "type": "object"} for n in names],
                          "rows": [[row.get(n) for n in names] for row in rows]}
        return answer

    azure_env(rewrite=as_table)
    result, report = live(cli)
    assert result.code == 1, result.err
    assert report["scan"]["complete"] is True
    assert verdicts(report) == verdicts(offline(cli))


def test_rows_without_a_usable_id_are_counted(cli: Cli, azure_env: Env) -> None:
    def spoil(_body: dict[str, Any], answer: dict[str, Any]) -> None:
        rows = answer["data"]
        del rows[0]["id"]
        rows[1]["id"] = 42
        rows[2]["id"] = "servers/pg-no-subscription"
        rows[3] = "not a row"

    azure_env(rewrite=on(FLEX, spoil))
    result, report = live(cli)
    assert_incomplete(result, report)
    reason = gaps(report)[FLEX_TYPE]
    assert reason.startswith("4 row(s) without a usable id"), reason
    # The other eleven are judged as offline.
    flex = judged(report, FLEX)
    assert len({rid for _, rid in flex}) == 11
    assert flex.items() <= judged(offline(cli), FLEX).items()


def test_timeouts_are_retried_then_a_gap_and_the_scan_goes_on(cli: Cli, azure_env: Env) -> None:
    """A Resource Graph POST that times out is tried three times (azure-core does not retry a
    POST; GraphClient does), then its batch is a gap; an ARM GET that times out is retried by
    azure-core (three tries), then the child is unread and the verdicts needing it unknown."""
    victim = next(r["id"] for r in EXAMPLE_ROWS
                  if r["type"].lower() == FLEX and r.get("properties", {}).get("state") == "Ready")
    fake = azure_env()
    unread = live(cli)[1]["scan"]["unreadChildren"]  # children the estate lacks (404)
    slow_graph = Fault("POST", "resourcegraph", 200, delay=2.0, in_body=in_json(f'type =~ "{SINGLE}"'))
    slow_arm = Fault("GET", f"{victim}/advancedThreatProtectionSettings/Default$", 200, delay=2.0)
    fake.faults += [slow_graph, slow_arm]
    before = fake.count("POST", "resourcegraph")
    result = cli("scan", "--azure", "--format", "json", "--timeout", "0.5")
    report = json.loads(result.out)
    assert_incomplete(result, report)
    assert slow_graph.hits == 3 and slow_arm.hits == 3
    reason = gaps(report)[SINGLE_TYPE]
    assert "did not answer within 0.5 s" in reason and "3 tries" in reason, reason
    assert set(gaps(report)) == {SINGLE_TYPE}
    # Everything else was read and judged: the flexible servers as offline, but the one
    # whose ATP settings never came.
    expected = judged(offline(cli), FLEX)
    got = judged(report, FLEX)
    assert set(got) == set(expected)
    assert got[("PG-FLEX-003", victim.lower())] == "unknown"
    assert {k: v for k, v in got.items() if k[1] != victim.lower()} == \
        {k: v for k, v in expected.items() if k[1] != victim.lower()}
    message = next(f["message"] for f in report["findings"]
                   if f["rule"]["id"] == "PG-FLEX-003" and f["resource"]["id"] == victim)
    assert "did not answer within 0.5 s" in message
    assert report["scan"]["unreadChildren"] == unread + 1
    # three tries, and the two other queries
    assert fake.count("POST", "resourcegraph") - before == 3 + 2


@pytest.mark.parametrize("tokens", [{0: "4", 4: "4"}, {0: "4", 4: "8", 8: "4"}],
                         ids=["same token", "a cycle"])
def test_a_repeating_skip_token_stops_the_paging(cli: Cli, azure_env: Env, tokens: dict[int, str]) -> None:
    def loop(body: dict[str, Any], answer: dict[str, Any]) -> None:
        offset = int(body["options"].get("$skipToken") or 0)
        answer["$skipToken"] = tokens[offset]

    fake = azure_env(page_size=4, rewrite=on(FLEX, loop))
    result, report = live(cli)
    assert_incomplete(result, report)
    reason = gaps(report)[FLEX_TYPE]
    assert "$skipToken" in reason and f"page {len(tokens)}" in reason, reason
    assert fake.count("POST", "resourcegraph") == len(tokens) + 2
    # The pages that came are judged, the repeated one too (its rows are new ones).
    assert len({rid for _, rid in judged(report, FLEX)}) == 4 * len(tokens)


def test_the_pages_of_a_query_are_capped() -> None:
    rules = pick_rules([], True, ["PG-FLEX-004"])
    plan = build_plan(rules, catalog())
    credential = StaticTokenCredential(TOKEN)
    with FakeAzure(Estate.from_rows(EXAMPLE_ROWS), page_size=2) as fake:
        audience = fake.endpoint + "/.default"
        graph = GraphClient(credential, fake.endpoint, audience, verify=fake.ca_bundle, timeout=5, max_pages=3)
        arm = ArmClient(credential, fake.endpoint, audience, verify=fake.ca_bundle, timeout=5)
        scan = LiveScan(plan, graph, arm, Scope())
        rows = list(scan.rows())
    assert len([r for r in rows if r.get("type", "").lower() == FLEX]) == 6  # 3 pages of 2
    [gap] = [g for g in scan.status.not_evaluated if g.resource_type == FLEX_TYPE]
    assert "3 pages" in gap.reason and "totalRecords 15" in gap.reason, gap.reason
    assert not scan.status.complete


def test_a_collected_snapshot_keeps_the_gap(cli: Cli, azure_env: Env, tmp_path: Path) -> None:
    def spoil(_body: dict[str, Any], answer: dict[str, Any]) -> None:
        answer["data"] = None

    azure_env(rewrite=on(FLEX, spoil))
    snapshot = tmp_path / "estate.ndjson"
    collected = cli("collect", "--azure", "--output", str(snapshot), "--timeout", "5")
    assert collected.code == 3, collected.err
    assert "incomplete" in collected.err
    status = json.loads(snapshot.read_text().splitlines()[-1])["$policyengine"]["status"]
    assert status["complete"] is False
    assert [g["resourceType"] for g in status["notEvaluated"]] == [FLEX_TYPE]
    result = cli("scan", str(snapshot), "--format", "json")
    report = json.loads(result.out)
    assert_incomplete(result, report)
    assert report["scan"]["source"] == "snapshot"
    assert report["scan"]["notEvaluated"] == status["notEvaluated"]
    assert judged(report, SINGLE) == judged(offline(cli), SINGLE)
    table = cli("scan", str(snapshot), "--format", "table")
    assert "INCOMPLETE SCAN" in table.out and "'data'" in table.out


def test_subscriptions_that_cannot_be_listed_are_a_gap_with_a_report(cli: Cli, azure_env: Env) -> None:
    azure_env(faults=[Fault("GET", r"^/subscriptions$", 403, body=json.dumps(
        {"error": {"code": "AuthorizationFailed", "message": "no subscription read"}}))])
    result, report = live(cli)
    assert_incomplete(result, report)
    assert report["findings"] == []
    reasons = gaps(report)
    assert set(reasons) == {FLEX_TYPE, SINGLE_TYPE, "Microsoft.Resources/subscriptions"}
    assert all("no subscription read" in r for r in reasons.values())


def test_arm_answers_without_ids_or_with_a_looping_next_link(cli: Cli, azure_env: Env) -> None:
    ready = [r["id"] for r in EXAMPLE_ROWS
             if r["type"].lower() == FLEX and r.get("properties", {}).get("state") == "Ready"]
    fake = azure_env()
    unread = live(cli)[1]["scan"]["unreadChildren"]  # children the estate lacks (404)
    loop = f"{fake.endpoint}{ready[1]}/configurations?api-version=2022-12-01&$skipToken=1"
    fake.faults += [
        Fault("GET", f"{ready[0]}/advancedThreatProtectionSettings/Default$", 200,
              body=json.dumps({"name": "Default", "properties": {"state": "Enabled"}})),
        Fault("GET", f"{ready[1]}/configurations$", 200, body=json.dumps({"value": [], "nextLink": loop})),
    ]
    result, report = live(cli)
    assert result.code == 1, result.err  # every type was read: complete, with unknowns
    messages = {(f["rule"]["id"], f["resource"]["id"]): (f["verdict"], f["message"]) for f in report["findings"]}
    verdict, message = messages[("PG-FLEX-003", ready[0])]
    assert verdict == "unknown" and "without a usable id" in message, message
    verdict, message = messages[("PG-FLEX-001", ready[1])]
    assert verdict == "unknown" and "nextLink" in message, message
    assert report["scan"]["unreadChildren"] == unread + 2
