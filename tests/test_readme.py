"""The README stays true and short: its quick start's commands run from the project root as
shown, the output it shows is real (at 80 columns), its rule table is the bundled rules, and
the distribution it tells people to install is the one pyproject.toml builds."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result
from tests.test_docs import assert_shown_is_real, block_after, code_blocks, commands, section

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
Cli = Callable[..., Result]
#: The README's CI snippet scans the user's own template folder; here the bundled templates
#: stand in for it.
STAND_INS = {"infra/": "examples/templates/"}
#: Commands that need Azure: shown, not run here (tests/live runs them against a fake Azure).
LIVE = ("--azure",)


@pytest.fixture(autouse=True)
def eighty_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The width the README's output was produced at, whatever terminal runs the tests."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("NO_COLOR", raising=False)


def quick_start() -> str:
    return section(README.read_text("utf-8"), "## Quick start")


def quick_start_commands() -> list[list[str]]:
    return commands(quick_start())


def test_the_readme_is_short() -> None:
    assert len(README.read_bytes()) <= 12 * 1024, "the README grows: move the depth into docs/"


def test_the_quick_start_is_four_commands_from_clone_to_a_ci_gate() -> None:
    first = next(body for language, body in code_blocks(quick_start()) if language == "bash")
    lines = [line for line in first.splitlines() if line.strip()]
    assert len(lines) == 4
    assert lines[0].startswith("git clone ")
    assert lines[1].split("#")[0].split() == ["python3", "-m", "venv", ".venv", "&&", ".", ".venv/bin/activate",
                                              "&&", "pip", "install", "."]
    assert lines[2].split("#")[0].split() == ["policyengine", "scan"]
    assert "--fail-on" in lines[3] and "-o results.sarif" in lines[3]


def test_the_readme_gives_the_test_command_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    readme = README.read_text("utf-8")
    for command in ("-e '.[dev]'", "npm ci --prefix tests/kql", "python -m pytest"):
        assert command in readme and command in ci


def test_every_offline_quick_start_command_runs(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run from the project root, as a newcomer would after `cd policyengine`; a report file
    goes to a temporary folder under the same name (so its extension still chooses the format)."""
    monkeypatch.chdir(ROOT)
    shown = quick_start_commands()
    offline = [argv for argv in shown if not any(flag in argv for flag in LIVE)]
    assert len(shown) >= 5 and len(offline) >= 3, shown  # the demo, the gate, the CI snippet; doctor, scan --azure
    for argv in offline:
        args = [STAND_INS.get(word, word) for word in argv]
        outputs = [i + 1 for i, word in enumerate(args) if word in ("-o", "--output")]
        for i in outputs:
            args[i] = str(tmp_path / Path(args[i]).name)
        result = cli(*args)
        command = "policyengine " + " ".join(argv)
        assert result.code in (0, 1), f"`{command}` exited {result.code}: {result.err}"
        assert "Traceback" not in result.err and "internal error" not in result.err, command
        for i in outputs:
            written = Path(args[i])
            assert written.stat().st_size > 0, f"`{command}` wrote no {written.name}"
            if written.suffix == ".sarif":
                assert json.loads(written.read_text("utf-8"))["version"] == "2.1.0"


def test_the_gate_fails_as_the_readme_says(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(ROOT)
    text = quick_start()
    assert "nine high-severity failures" in text
    result = cli("scan", "examples/templates/", "--fail-on", "high", "-o", str(tmp_path / "results.sarif"))
    assert result.code == 1 and result.out == ""
    sarif = json.loads((tmp_path / "results.sarif").read_text("utf-8"))
    assert sarif["runs"][0]["invocations"][0]["exitCode"] == 1
    summary = cli("scan", "examples/templates/", "--fail-on", "high", "-q").out
    assert "9 failing at or above 'high'" in " ".join(summary.split())


def test_the_readme_shows_the_real_demo(cli: Cli) -> None:
    shown = block_after(README.read_text("utf-8"), "### The demo")
    result = cli("scan")
    assert result.code == 1
    assert_shown_is_real(shown, result.out, "README's demo output")
    # The summary by severity, and the closing line, are shown whole.
    assert shown.startswith(result.out.split("\n\n", 1)[0] + "\n\n")
    assert shown.endswith("\n".join(result.out.rstrip().splitlines()[-2:]) + "\n")


def test_the_rule_table_is_the_bundled_rules(cli: Cli) -> None:
    rules = json.loads(cli("scan", "--format", "json").out)["rules"]
    table = section(README.read_text("utf-8"), "## What it checks")
    rows = re.findall(r"^\| (\S+) \| (\w+) \| (.+) \|$", table, re.MULTILINE)
    assert [(r["id"], r["severity"], r["title"]) for r in rules] == [row for row in rows if row[0] != "rule"]


def test_the_readme_installs_the_distribution_pyproject_builds() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    name = project["name"]
    assert name != "policyengine"  # an unrelated project on PyPI
    assert project["scripts"] == {"policyengine": "policyengine.cli:run"}
    text = README.read_text("utf-8")
    assert f"**`{name}`**" in quick_start()
    # Every pip line that installs from the repository names the distribution it will get.
    for line in re.findall(r"pip install \"([^\"]+) @ git\+", text):
        assert line == name
    for example in (ROOT / "examples" / "ci").iterdir():
        for line in re.findall(r"pip install \"([^\"]+) @ git\+", example.read_text("utf-8")):
            assert line == name, example.name
