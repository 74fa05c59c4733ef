"""Every Azure CLI command policyengine writes — each bundled rule's fix and every line of the
remediation script — uses only options the Azure CLI documents for that command, and all the
options it requires. ``tests/fixtures/azcli/arguments.json`` holds what ``az <command> --help``
says (``tests/fixtures/azcli/regenerate.py`` writes it from a real Azure CLI)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from policyengine.ir import Rule
from policyengine.loading.rules import load_rules
from policyengine.reports.fixes import fill
from tests.conftest import Result

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED = json.loads((ROOT / "tests" / "fixtures" / "azcli" / "arguments.json").read_text("utf-8"))
FILLED = {"<subscription-id>": "00000000-0000-0000-0000-000000000001", "<resource-group>": "rg",
          "<server>": "pg"}


def problems(command: str) -> list[str]:
    """What is wrong with ``command`` by the Azure CLI's documentation (nothing: [])."""
    words = shlex.split(command)
    if not words or words[0] != "az":
        return [f"not an az command: {command}"]
    path = next((" ".join(words[1:n]) for n in range(len(words), 1, -1)
                 if " ".join(words[1:n]) in DOCUMENTED["commands"]), None)
    if path is None:
        return [f"az {' '.join(w for w in words[1:4] if not w.startswith('-'))}: not a command of "
                f"azure-cli {DOCUMENTED['azure-cli']}"]
    spec = DOCUMENTED["commands"][path]
    names = {alias: long for long, aliases in spec["options"].items() for alias in [long, *aliases]}
    given = [w.split("=", 1)[0] for w in words[1:] if w.startswith("-")]
    found = [f"az {path}: no option {option}" for option in given if option not in names]
    used = {names[o] for o in given if o in names}
    found += [f"az {path}: {needed} is required" for needed in spec["required"]
              if needed not in used and "--ids" not in used]
    return found


@pytest.mark.parametrize("rule", load_rules([]), ids=lambda rule: rule.id)
def test_each_rule_s_fix_is_a_documented_command(rule: Rule) -> None:
    cli = rule.metadata.remediation.cli
    if not cli:
        pytest.skip("no CLI fix")
    assert problems(fill(" ".join(cli.split()), FILLED)) == []


def test_every_command_of_the_remediation_script_is_documented(cli: Callable[..., Result], tmp_path: Path) -> None:
    out = tmp_path / "fix.sh"
    cli("scan", "-o", str(out))
    lines = out.read_text("utf-8").replace(" \\\n#     ", " ").replace(" \\\n", " ").splitlines()
    commands = [line.strip() for line in lines if line.strip().startswith("az ")]
    assert {problem for command in commands for problem in problems(command)} == set()
    # One command per failure: every failing finding's fix is in the script once (run, or
    # commented out where it needs a value the input does not hold), and nothing else is.
    report = json.loads(cli("scan", "-f", "json").out)
    failing = [f for f in report["findings"] if f["verdict"] == "fail"]
    fixes = {" ".join(line.split()) for f in failing if f.get("fix") for line in f["fix"].splitlines()}
    run = {" ".join(c.split()) for c in commands if not c.startswith("az account set")}
    held = {" ".join(line.strip()[2:].split()) for line in lines if line.startswith("# az ")}
    assert run | held == fixes and not run & held
    assert len(commands) - len(run) == len({f["resource"]["subscriptionId"] for f in failing})
    assert sum(line.count("az ") for line in lines if line.startswith("az ")) == len(commands)
    assert len(failing) >= len(fixes) > 40


def test_the_checker_finds_what_is_wrong() -> None:
    assert problems("az postgres server update --resource-group rg --name pg --ssl-enforcement Enabled") == [
        f"az postgres server update: not a command of azure-cli {DOCUMENTED['azure-cli']}"]
    assert problems("az security pricing create -n X") == ["az security pricing create: --tier is required"]
    assert problems("az postgres flexible-server parameter set -g rg --server-name s --name n --valeu on") == [
        "az postgres flexible-server parameter set: no option --valeu"]
    assert problems("az account set -s 0000") == []
