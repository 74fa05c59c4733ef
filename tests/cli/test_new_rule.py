"""``policyengine new rule`` writes a rule that loads and whose tests pass as written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result


@pytest.mark.parametrize("resource", ["Microsoft.DBforPostgreSQL/flexibleServers", "Microsoft.DBforPostgreSQL/servers",
                                      "Microsoft.Resources/subscriptions", "Microsoft.Storage/storageAccounts"])
def test_the_scaffold_loads_and_tests_green(cli: Callable[..., Result], tmp_path: Path, resource: str) -> None:
    target = tmp_path / "rules" / "acme.yaml"
    made = cli("new", "rule", "ACME-PG-001", "--resource", resource, "--output", str(target), "--severity", "high")
    assert made.code == 0, made.err
    text = target.read_text()
    assert text.startswith("# yaml-language-server: $schema=") and "id: ACME-PG-001" in text
    tested = cli("test", str(target))
    assert tested.code == 0 and "2 passed, 0 failed" in tested.out
    listed = cli("rules", "list", "--rules", str(target.parent), "--no-bundled-rules")
    assert "ACME-PG-001  high" in listed.out


def test_the_scaffold_refuses_bad_ids_and_overwriting(cli: Callable[..., Result], tmp_path: Path) -> None:
    assert "use upper-case words" in cli("new", "rule", "acme", "-o", str(tmp_path / "a.yaml")).err
    target = tmp_path / "a.yaml"
    assert cli("new", "rule", "ACME-1", "-o", str(target)).code == 0
    again = cli("new", "rule", "ACME-1", "-o", str(target))
    assert again.code == 2 and "exists" in again.err
    assert cli("new", "rule", "ACME-1", "-o", str(target), "--force").code == 0


def test_an_unwritable_target_is_a_usage_error(cli: Callable[..., Result], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = cli("new", "rule", "ACME-1", "-o", str(blocker / "rule.yaml"))
    assert result.code == 2 and result.err.startswith(f"policyengine: cannot write {blocker / 'rule.yaml'}")
