"""The scan pipeline's own promises: input errors are results, missing data is said out loud,
and the bundled example is never scanned silently."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.cli.test_scan import SUB, estate, flex
from tests.conftest import Result

Cli = Callable[..., Result]
Write = Callable[[str, str], Path]


def test_an_export_without_server_parameters_names_what_is_missing_and_how_to_get_it(
        cli: Cli, write: Write, tmp_path: Path) -> None:
    # The README's first estate step: servers from Resource Graph, nothing from ARM.
    servers = [rows[:1] for rows in (flex("a", "on"), flex("b", "on"))]
    path = estate(write, *servers, pricing="Standard")
    out = tmp_path / "r.json"
    result = cli("scan", str(path), "--format", "json", "-o", str(out))
    # No core rule failed: every TLS verdict is unknown, and that is said. (The posture rules
    # fail these bare rows on their own properties, no network section, no Entra, no geo
    # backup, and a posture failure does not gate by default.)
    assert result.code == 0
    said = " ".join(result.err.replace(" \\\n", " ").split())  # wrapped to the terminal's width
    assert "the input lacks data the rules read, so these verdicts are unknown:" in said
    assert ("server parameters (flexibleServers/configurations): 2 resource(s), PG-FLEX-001, PG-FLEX-002, "
            "PG-FLEX-005, PG-FLEX-006, PG-FLEX-007, PG-FLEX-008, PG-FLEX-009, PG-FLEX-016") in said
    assert f"policyengine collect --azure --subscription {SUB} -o snapshot.ndjson" in said
    assert all(len(line) <= 80 for line in result.err.splitlines())
    missing = json.loads(out.read_text())["scan"]["missingData"]
    by_what = {m["what"]: m for m in missing}
    params = by_what["server parameters (flexibleServers/configurations)"]
    assert params["resources"] == 2 and params["rules"] == ["PG-FLEX-001", "PG-FLEX-002", "PG-FLEX-005", "PG-FLEX-006",
                                                            "PG-FLEX-007", "PG-FLEX-008", "PG-FLEX-009", "PG-FLEX-016"]
    assert params["command"].startswith(f"policyengine collect --azure --subscription {SUB} ")
    # The subscription's plan was in the input: nothing is said about pricings.
    assert not any("pricings" in m["what"] for m in missing)


def test_a_complete_export_says_nothing_is_missing(cli: Cli, write: Write) -> None:
    # Complete for what the original set reads (the two TLS parameters, ATP and the plan); the
    # posture rules read more parameters, firewall rules and security contacts.
    path = estate(write, flex("a", "on"), pricing="Standard")
    result = cli("scan", str(path), "--format", "json", "--rule", "tag:core")
    assert result.code == 0 and result.err == ""
    assert json.loads(result.out)["scan"]["missingData"] == []


def test_scan_with_no_path_says_it_scans_the_bundled_example(cli: Cli) -> None:
    result = cli("scan", "--format", "json")
    assert result.err.startswith("policyengine: no PATH: scanning the bundled example (examples/estate.json)\n")
    assert cli("scan", "--format", "json", "--quiet").err == ""


def test_bad_files_and_rows_are_reported_and_the_rest_is_judged(cli: Cli, write: Write, tmp_path: Path) -> None:
    good = estate(write, flex("a", "off"), pricing="Standard")
    bad_rows = write("rows.ndjson", '{"id": "/subscriptions/s/x"}\n42\n{"name": "no id"}\n')
    truncated = write("cut.json", '[{"id": ')
    out = tmp_path / "r.json"
    result = cli("scan", str(good), str(bad_rows), str(truncated), "--format", "json", "-o", str(out))
    assert result.code == 2  # after the report is written
    doc = json.loads(out.read_text())
    errors = [(e["file"], e["line"], e["unit"]) for e in doc["scan"]["inputErrors"]]
    assert errors == [(str(truncated), 1, "file"), (str(bad_rows), 2, "row"), (str(bad_rows), 3, "row")]
    verdicts = {(f["rule"]["id"], f["verdict"]) for f in doc["findings"]}
    assert ("PG-FLEX-001", "fail") in verdicts  # the good file was judged
    assert result.err.splitlines()[-1] == "policyengine: 3 input errors; everything else was judged; exit code 2"
    assert f"{bad_rows}:2:1: a row must be a JSON object, found number" in result.err


def test_a_missing_input_file_is_an_input_error_not_the_end_of_the_scan(cli: Cli, write: Write,
                                                                          tmp_path: Path) -> None:
    good = estate(write, flex("a", "on"), pricing="Standard")
    result = cli("scan", str(good), str(tmp_path / "absent.json"), "--format", "json")
    assert result.code == 2
    doc = json.loads(result.out)
    assert [e["message"] for e in doc["scan"]["inputErrors"]] == \
        ["cannot read input: No such file or directory"]
    assert doc["summary"]["verdicts"]["pass"] > 0


def test_a_broken_catalog_is_bad_usage_even_offline(cli: Cli, write: Write) -> None:
    bad = write("catalog.yaml", "garbage: [\n")
    result = cli("scan", "--catalog", str(bad), "--format", "json", "--quiet")
    assert result.code == 2 and result.out == ""
    assert result.err.startswith(f"{bad}:2:1: invalid YAML")
