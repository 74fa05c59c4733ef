"""Large exports are never held whole: parent-first rows stream without the snapshot header,
rows out of that order make the scan read the input again sorted on disk, and every way of
reading gives the verdicts, errors and notes of the in-memory read."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from policyengine import pipeline
from policyengine.records.spill import sort_key
from tests.cli.test_scan import SUB, flex
from tests.conftest import Result

Cli = Callable[..., Result]
PRICING = {"id": f"/subscriptions/{SUB}/providers/Microsoft.Security/pricings/OpenSourceRelationalDatabases",
           "type": "microsoft.security/pricings", "name": "OpenSourceRelationalDatabases",
           "properties": {"pricingTier": "Free"}}


def rows() -> list[dict[str, Any]]:
    """Parent-first: the pricing, then each server followed by its children."""
    servers = [flex(f"pg-{i:02}", "on" if i % 3 else "off", atp="Enabled" if i % 2 else "Disabled")
               for i in range(12)]
    # A server whose name extends another's: its rows must not land among the other's children.
    servers.append(flex("pg-01-replica", "off"))
    return [PRICING, *(r for server in servers for r in server)]


def ndjson(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    return path


def scan(cli: Cli, *paths: Path, large: bool) -> tuple[Result, dict[str, Any]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "LARGE_INPUT", 0 if large else 1 << 40)
        result = cli("scan", *map(str, paths), "--format", "json", "-v")
    return result, json.loads(result.out)


def judged(report: dict[str, Any]) -> list[str]:
    """Every finding without where it was read (lines differ between two orders of one estate)."""
    out = []
    for finding in report["findings"]:
        finding["resource"].pop("source")
        out.append(json.dumps(finding, sort_keys=True))
    return sorted(out)


def test_parent_first_rows_stream_without_the_header(cli: Cli, tmp_path: Path) -> None:
    path = ndjson(tmp_path / "plain.ndjson", rows())
    streamed, report = scan(cli, path, large=True)
    _, buffered = scan(cli, path, large=False)
    assert "reading it again" not in streamed.err
    assert judged(report) == judged(buffered) and report["summary"] == buffered["summary"]
    assert report["inputs"] == buffered["inputs"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rows_in_any_order_are_read_again_sorted_with_the_same_verdicts(cli: Cli, tmp_path: Path,
                                                                        seed: int) -> None:
    shuffled = rows()
    random.Random(seed).shuffle(shuffled)
    path = ndjson(tmp_path / "shuffled.ndjson", shuffled)
    sorted_, report = scan(cli, path, large=True)
    _, buffered = scan(cli, path, large=False)
    assert "the input is not parent-first; reading it again, sorted on disk" in sorted_.err
    assert judged(report) == judged(buffered) and report["summary"] == buffered["summary"]
    assert report["inputs"] == buffered["inputs"]


def test_a_pricing_after_the_resources_that_read_it_is_out_of_order(cli: Cli, tmp_path: Path) -> None:
    late = [*rows()[1:], PRICING]
    path = ndjson(tmp_path / "late.ndjson", late)
    result, report = scan(cli, path, large=True)
    assert "a subscription-level row after resources that read it" in result.err
    plan = {f["resource"]["id"].rsplit("/", 1)[-1] for f in report["findings"]
            if f["rule"]["id"] == "PG-SUB-001" and f["verdict"] == "fail"}
    assert plan == {SUB}  # the pricing was read, and read before the servers were judged


def test_a_resource_given_again_further_on_is_caught_as_in_memory(cli: Cli, tmp_path: Path) -> None:
    lines = rows()
    again = dict(lines[1], properties={"state": "Stopped"})  # pg-00 again, saying otherwise
    path = ndjson(tmp_path / "again.ndjson", [*lines, again])
    result, report = scan(cli, path, large=True)
    _, buffered = scan(cli, path, large=False)
    assert "a resource given again further on" in result.err
    assert report["scan"]["inputErrors"] == buffered["scan"]["inputErrors"]
    assert "is given twice with different values" in report["scan"]["inputErrors"][0]["message"]
    assert judged(report) == judged(buffered)


def test_several_large_files_are_sorted_together(cli: Cli, tmp_path: Path) -> None:
    lines = rows()
    first = ndjson(tmp_path / "a.ndjson", lines[: len(lines) // 2])
    second = ndjson(tmp_path / "b.ndjson", lines[len(lines) // 2:])
    result, report = scan(cli, first, second, large=True)
    _, buffered = scan(cli, first, second, large=False)
    assert "reading it again" not in result.err  # sorted from the start: there are two files
    assert judged(report) == judged(buffered)


def test_an_orphan_is_said_as_in_memory(cli: Cli, tmp_path: Path) -> None:
    orphan = {"id": f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.DBforPostgreSQL/"
                    "flexibleServers/gone/configurations/require_secure_transport",
              "type": "Microsoft.DBforPostgreSQL/flexibleServers/configurations", "name": "require_secure_transport",
              "properties": {"value": "on"}}
    path = ndjson(tmp_path / "orphan.ndjson", [*rows(), orphan])
    _, report = scan(cli, path, large=True)
    _, buffered = scan(cli, path, large=False)
    assert report["notes"] == buffered["notes"]
    assert any("has no parent" in note for note in report["notes"])


def test_the_sort_key_keeps_children_next_to_their_parent() -> None:
    server = "/subscriptions/s/resourceGroups/g/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-01"
    ids = [f"{server}-replica", f"{server}/configurations/x", server, "/subscriptions/s",
           "/subscriptions/s/providers/Microsoft.Security/pricings/P"]
    assert sorted(ids, key=sort_key) == ["/subscriptions/s", "/subscriptions/s/providers/Microsoft.Security/pricings/P",
                                         server, f"{server}/configurations/x", f"{server}-replica"]


def test_seen_ids_grow_and_remember_every_id() -> None:
    from policyengine.records.assemble import SeenIds

    seen = SeenIds(size=4)
    ids = [f"/subscriptions/s/resourcegroups/g/providers/x/y/{i}" for i in range(5000)]
    assert all(seen.add(i) for i in ids)
    assert not any(seen.add(i) for i in ids)
    assert seen.count == 5000 and len(seen.slots) >= 10000


def test_bad_rows_are_said_once_when_the_input_is_read_again(cli: Cli, tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in rows()]
    lines.insert(3, '{"id": "/subscriptions/x", "type": ')  # a row cut short: an input error of its own
    lines.append(lines.pop(1))  # the first server's row last: out of order
    path = tmp_path / "bad.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result, report = scan(cli, path, large=True)
    _, buffered = scan(cli, path, large=False)
    assert "reading it again" in result.err
    assert report["scan"]["inputErrors"] == buffered["scan"]["inputErrors"]
    assert len(report["scan"]["inputErrors"]) == 1 and report["scan"]["inputErrors"][0]["line"] == 3
    assert judged(report) == judged(buffered) and result.code == 2
