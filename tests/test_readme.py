"""The README's examples stay true: its rule loads, its tests pass, its commands work."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_rule() -> str:
    section = README.read_text("utf-8").split("## Writing a rule", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_readme_rule_tests_pass_and_it_scans(cli: Callable[..., Result], tmp_path: Path) -> None:
    rules = tmp_path / "my-rules"
    rules.mkdir()
    (rules / "public-access.yaml").write_text(readme_rule(), encoding="utf-8")
    tested = cli("test", str(rules))
    assert tested.code == 0 and "4 passed, 0 failed" in tested.out
    linted = cli("lint", "--strict", str(rules))
    assert linted.code == 0 and "0 error(s), 0 warning(s)" in linted.err
    scanned = cli("scan", "--rules", str(rules), "--rule", "ACME-PG-001")
    assert scanned.code == 1
    assert "ACME-PG-001" in scanned.out


def test_readme_shows_the_real_summary(cli: Callable[..., Result]) -> None:
    result = cli("scan")
    readme = README.read_text("utf-8")
    summary = result.out.split("\n\n", 1)[0]
    assert summary in readme, "README's example output is stale: paste a fresh `policyengine scan`"
    assert result.out.rstrip().splitlines()[-1] in readme


def test_readme_shows_the_real_compiled_query(cli: Callable[..., Result]) -> None:
    readme = README.read_text("utf-8")
    marker = "$ policyengine compile --rule PG-SINGLE-001 --rule PG-SINGLE-002\n"
    shown = readme.split(marker, 1)[1].split("```", 1)[0]
    result = cli("compile", "--rule", "PG-SINGLE-001", "--rule", "PG-SINGLE-002")
    assert shown == result.out, "README's compiled query is stale: paste a fresh `policyengine compile`"


def test_readme_shows_the_real_pre_deployment_scan(cli: Callable[..., Result],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    readme = README.read_text("utf-8")
    command = "`policyengine scan examples/templates/ --rule PG-FLEX-001 --rule PG-FLEX-002 --fail-on high`"
    shown = readme.split(command, 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(README.parent)  # the README shows paths relative to the project
    result = cli("scan", "examples/templates/", "--rule", "PG-FLEX-001", "--rule", "PG-FLEX-002",
                 "--fail-on", "high")
    assert result.code == 1
    real = result.out
    # The README abridges whole rows (marked …); every line it shows is a line of the real output,
    # except table rules, whose width follows the rows shown.
    missing = [line for line in shown.splitlines()
               if line and line != "…" and not set(line) <= {"-", " "} and line not in real.splitlines()]
    assert not missing, "README's pre-deployment output is stale:\n" + "\n".join(missing)


def test_readme_shows_the_real_explain(cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(README.parent)
    marker = "$ policyengine explain PG-FLEX-002 \"[parameters('server')]\" tests/fixtures/templates/unknowns.json\n"
    shown = README.read_text("utf-8").split(marker, 1)[1].split("```", 1)[0]
    result = cli("explain", "PG-FLEX-002", "[parameters('server')]", "tests/fixtures/templates/unknowns.json")
    assert result.code == 0 and result.out == shown
