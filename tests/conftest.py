"""Shared helpers: write rule files, run the CLI in-process and capture what it prints."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from policyengine.cli import main

RULE_HEADER = """\
apiVersion: policyengine/v1
kind: Rule
metadata:
  id: {id}
  title: A test rule
  severity: {severity}
  description: A rule written by a test.
  remediation: {{text: Fix it.}}
"""


def rule_text(spec: str, *, rule_id: str = "T-001", severity: str = "high") -> str:
    """A complete rule document with the given ``spec:`` body (YAML, any indentation)."""
    body = textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
    return RULE_HEADER.format(id=rule_id, severity=severity) + "spec:\n" + body + "\n"


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    def run(*argv: str) -> Result:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def put(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return put


@pytest.fixture(autouse=True, scope="session")
def _rule_cache_of_this_run(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The compiled-rules cache (loading/cache.py) in a folder of this test run, for the
    in-process CLI and every subprocess the tests start: the suite exercises the cache
    without writing to the user's own ~/.cache."""
    import os

    os.environ["POLICYENGINE_CACHE_DIR"] = str(tmp_path_factory.mktemp("rule-cache"))
