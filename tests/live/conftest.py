"""The fake Azure for live-scan tests, and helpers to compare a live scan with the offline one."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from policyengine.pipeline import example_path
from tests.azurefake.server import TOKEN, Estate, FakeAzure
from tests.conftest import Result

Cli = Callable[..., Result]
EXAMPLE_ROWS: list[dict[str, Any]] = json.loads(Path(example_path()).read_text("utf-8"))["data"]
FLEX = "microsoft.dbforpostgresql/flexibleservers"
SINGLE = "microsoft.dbforpostgresql/servers"


@pytest.fixture
def azure_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FakeAzure]]:
    """Starts a fake Azure serving the example estate (keyword arguments go to
    :class:`FakeAzure`) and points the CLI at it."""
    started: list[FakeAzure] = []

    def start(**kwargs: Any) -> FakeAzure:
        fake = FakeAzure(Estate.from_rows(EXAMPLE_ROWS), **kwargs).__enter__()
        started.append(fake)
        monkeypatch.setenv("POLICYENGINE_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("POLICYENGINE_ARM_ENDPOINT", fake.endpoint)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_bundle)
        return fake

    yield start
    for fake in started:
        fake.__exit__(None, None, None)


def verdicts(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(f["rule"]["id"], f["resource"]["id"].lower()): f["verdict"] for f in report["findings"]}


def offline(cli: Cli) -> dict[str, Any]:
    return dict(json.loads(cli("scan", "--format", "json", "--quiet").out))


def live(cli: Cli, *extra: str) -> tuple[Result, dict[str, Any]]:
    result = cli("scan", "--azure", "--format", "json", "--timeout", "5", *extra)
    assert "Traceback" not in result.err
    return result, json.loads(result.out) if result.out else {}
