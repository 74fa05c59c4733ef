"""The fake Azure for live-scan tests, and helpers to compare a live scan with the offline one."""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
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


#: The example export holds no Defender plan for this subscription. Azure always has one: the
#: fake answers 404 for it, as ARM does for a plan never set, and a live scan reads it as the
#: platform default (Free). The offline scan a live one is compared with holds that plan.
NO_PLAN = "d5a09e37-6c2b-48f1-a7e4-0b9c2f8d1e53"
PLAN = "OpenSourceRelationalDatabases"


@functools.cache
def _offline_export() -> str:
    default = {"id": f"/subscriptions/{NO_PLAN}/providers/Microsoft.Security/pricings/{PLAN}", "name": PLAN,
               "type": "Microsoft.Security/pricings", "subscriptionId": NO_PLAN,
               "properties": {"pricingTier": "Free"}}
    folder = tempfile.mkdtemp(prefix="policyengine-live-")
    atexit.register(shutil.rmtree, folder, True)
    path = Path(folder) / "estate.json"
    path.write_text(json.dumps({"data": [*EXAMPLE_ROWS, default]}), "utf-8")
    return str(path)


def offline(cli: Cli) -> dict[str, Any]:
    """The example scanned offline, with the Defender plan ARM gives where the export has none."""
    return dict(json.loads(cli("scan", _offline_export(), "--format", "json", "--quiet").out))


def live(cli: Cli, *extra: str) -> tuple[Result, dict[str, Any]]:
    result = cli("scan", "--azure", "--format", "json", "--timeout", "5", *extra)
    assert "Traceback" not in result.err
    return result, json.loads(result.out) if result.out else {}
