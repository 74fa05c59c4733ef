"""The exit-code gate and rule tags: the original SSL, TLS and threat-protection set is tag
``core`` and selectable alone (``--rule tag:core``); the posture rules (tag ``posture``) are
reported but set the exit code only with ``--gate all`` (or ``gate: all`` in the configuration)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from policyengine.loading.rules import load_rules
from tests.conftest import Result

Cli = Callable[..., Result]
CORE = {"PG-FLEX-001", "PG-FLEX-002", "PG-FLEX-003", "PG-FLEX-004", "PG-SINGLE-001", "PG-SINGLE-002",
        "PG-SINGLE-003", "PG-SINGLE-004", "PG-SINGLE-005", "PG-SUB-001"}


def rule_ids(result: Result) -> set[str]:
    return {f["rule"]["id"] for f in json.loads(result.out)["findings"]}


def test_tag_core_selects_the_original_set_alone(cli: Cli) -> None:
    assert {r.id for r in load_rules([]) if "core" in r.metadata.tags} == CORE
    assert rule_ids(cli("scan", "--rule", "tag:core", "-f", "json")) == CORE
    # Any case, with commas and with ids beside it; --skip-rule takes tags too.
    assert rule_ids(cli("scan", "--rule", "TAG:Core,PG-SUB-002", "-f", "json")) == CORE | {"PG-SUB-002"}
    everything = {r.id for r in load_rules([])}
    assert rule_ids(cli("scan", "--skip-rule", "tag:core", "-f", "json")) == everything - CORE


def test_an_unknown_tag_is_a_usage_error_with_the_closest(cli: Cli) -> None:
    result = cli("scan", "--rule", "tag:postur")
    assert result.code == 2
    assert "--rule tag:postur: no rule has this tag (did you mean tag:posture?)" in result.err


def test_posture_failures_are_reported_but_do_not_set_the_exit_code(cli: Cli) -> None:
    result = cli("scan", "--rule", "tag:posture", "-f", "json")
    found = json.loads(result.out)["findings"]
    assert any(f["verdict"] == "fail" for f in found)
    assert result.code == 0
    assert cli("scan", "--rule", "tag:posture", "-f", "json", "--gate", "all").code == 1
    # The core rules still fail the scan whatever the gate.
    assert cli("scan", "--rule", "tag:core", "-q").code == 1


def test_the_configuration_file_sets_the_gate(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "policyengine.yaml"
    config.write_text("apiVersion: policyengine/v1\nkind: Config\ngate: all\n", "utf-8")
    assert cli("scan", "--rule", "tag:posture", "-q", "--config", str(config)).code == 1
    config.write_text("apiVersion: policyengine/v1\nkind: Config\ngate: some\n", "utf-8")
    wrong = cli("scan", "--rule", "tag:posture", "-q", "--config", str(config))
    assert wrong.code == 2 and "gate" in wrong.err


def test_dash_as_the_output_is_standard_output(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("scan", "--rule", "PG-SUB-001", "-f", "json", "-o", "-")
    assert json.loads(result.out)["findings"] and not (tmp_path / "-").exists()
