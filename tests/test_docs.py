"""The pages in docs/ stay true: their examples run, the output they show is real, every
``policyengine`` command they show is one the command line accepts, and every relative link
in them and in the README resolves.

Shown output may be abridged: a line ``…`` stands for lines left out, and ``…`` inside a line
for text left out of it; every other line must be a line of the real output, in order. The
tests run at 80 columns (``COLUMNS=80``), as the output in the pages was produced."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml

from policyengine.cli import Parser, build_parser
from tests.conftest import Result

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DOC = DOCS / "authoring.md"
README = ROOT / "README.md"
Cli = Callable[..., Result]


@pytest.fixture(autouse=True)
def eighty_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The width the pages' output was produced at; a terminal's own width must not leak in."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("NO_COLOR", raising=False)


# -- reading the pages ---------------------------------------------------------------------------

FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def code_blocks(text: str) -> Iterator[tuple[str, str]]:
    """Each fenced block of a Markdown text: its language and its text (indentation removed)."""
    for match in FENCE.finditer(text):
        indent = len(match.group(1))
        body = "".join(line[indent:] for line in match.group(3).splitlines(keepends=True))
        yield match.group(2), body


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (a whole heading line), up to the next heading of its level or above."""
    level = len(heading) - len(heading.lstrip("#"))
    after = text.split(heading + "\n", 1)[1]
    stop = re.search(rf"^#{{1,{level}}} ", after, re.MULTILINE)
    return after[:stop.start()] if stop else after


def block_after(text: str, marker: str, language: str = "text") -> str:
    """The first ``language`` block after ``marker``."""
    return text.split(marker, 1)[1].split(f"```{language}\n", 1)[1].split("```", 1)[0]


def shown_after_prompt(text: str, prompt: str) -> str:
    """What a ``$ command`` line in a block shows: the lines after it, up to the block's end."""
    return text.split(prompt + "\n", 1)[1].split("```", 1)[0]


def commands(text: str) -> list[list[str]]:
    """Every ``policyengine`` command in the code blocks of a page, as its words: lines of shell
    blocks (after ``$ `` in a transcript), and ``run:``, ``script:`` and ``entry:`` values in YAML.
    A command ends where the shell takes over (a pipe, a redirection, ``&&``, ``;``)."""
    found = []
    for language, body in code_blocks(text):
        for raw in body.replace("\\\n", " ").splitlines():
            line = raw.strip()
            if language == "yaml":
                line = re.sub(r"^-?\s*(run|script|entry):\s*", "", line)
            elif language == "text":
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            elif language not in ("bash", "sh"):
                continue
            for part in re.split(r"&&|;", line):
                if not re.match(r"policyengine\b", part.strip()):
                    continue  # another program, or a line of a multi-line string
                words = shlex.split(part, comments=True)
                if words[:1] == ["policyengine"]:
                    cut = next((i for i, w in enumerate(words) if w in ("|", "||") or w.startswith((">", "2>"))),
                               len(words))
                    found.append(words[1:cut])
    return found


def assert_shown_is_real(shown: str, real: str, what: str) -> None:
    """Every line ``shown`` (but ``…``) is a line of ``real``, in order; ``…`` within a line
    stands for any text."""
    real_lines = real.splitlines()
    at = 0
    for line in shown.splitlines():
        if line.strip() == "…":
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in line.split("…")))
        for index in range(at, len(real_lines)):
            if pattern.fullmatch(real_lines[index]):
                at = index + 1
                break
        else:
            raise AssertionError(f"{what} is stale: paste fresh output (COLUMNS=80). Not found in order:\n"
                                 f"{line}\n\nreal output:\n{real}")


def pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


# -- every command parses, every link resolves ---------------------------------------------------

@pytest.mark.parametrize("page", pages(), ids=lambda p: p.name)
def test_every_command_shown_is_accepted(page: Path) -> None:
    for argv in commands(page.read_text("utf-8")):
        Parser.argv = argv
        try:
            build_parser().parse_args(argv)
        except SystemExit as exc:
            raise AssertionError(f"{page.name}: `policyengine {shlex.join(argv)}` is refused") from exc


def test_commands_are_found() -> None:
    """The extraction sees the commands of every kind of block: shell, a transcript, YAML."""
    found = {shlex.join(argv) for page in pages() for argv in commands(page.read_text("utf-8"))}
    assert {"scan", "doctor --azure", "compile --rule PG-SINGLE-001 --rule PG-SINGLE-002",
            "scan infra/ --fail-on high -f sarif -o results.sarif -f table --quiet",
            "scan plan.json"} <= found
    assert len(found) > 40


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text("utf-8"))
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    text = re.sub(r"`[^`\n]*`", "", FENCE.sub("", page.read_text("utf-8")))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.name}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def test_the_readme_links_every_page() -> None:
    text = README.read_text("utf-8")
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if f"](docs/{p.name})" not in text]
    assert not missing, f"README links no {missing}"


def test_the_link_checker_finds_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\n[ok](a.md#title) [bad](b.md) [gone](a.md#nowhere)\n")
    with pytest.raises(AssertionError, match=r"b.md: no such file; a.md#nowhere: no heading"):
        test_every_relative_link_resolves(tmp_path / "a.md")


# -- authoring.md --------------------------------------------------------------------------------

def walkthrough_spec() -> str:
    section = DOC.read_text("utf-8").split("**2. Write the condition.**", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def complete_rule() -> str:
    return block_after(DOC.read_text("utf-8"), "## A complete rule, and the commands that check it", "yaml")


def test_the_complete_rule_lints_tests_and_scans(cli: Cli, tmp_path: Path) -> None:
    rules = tmp_path / "my-rules"
    rules.mkdir()
    (rules / "public-access.yaml").write_text(complete_rule(), encoding="utf-8")
    # The results its command block promises in its comments.
    tested = cli("test", str(rules))
    assert tested.code == 0 and "4 passed, 0 failed" in tested.out
    linted = cli("lint", "--strict", str(rules))
    assert linted.code == 0 and "0 error(s), 0 warning(s)" in linted.err
    scanned = cli("scan", "--rules", str(rules), "--rule", "ACME-PG-001", "--format", "json")
    assert scanned.code == 1
    report = json.loads(scanned.out)
    fixes = [f["fix"] for f in report["findings"] if f["verdict"] == "fail"]
    # The remediation's placeholders are each resource's own names in the report.
    assert fixes and all("<" not in fix and fix.startswith("az postgres flexible-server update -g ") for fix in fixes)
    made = cli("new", "rule", "ACME-PG-002", "-o", str(rules / "next.yaml"))
    assert made.code == 0 and "2 passed, 0 failed" in cli("test", str(rules / "next.yaml")).out
    assert (rules / "rule.schema.json").exists()


def test_the_walkthrough_works(cli: Cli, tmp_path: Path) -> None:
    rules = tmp_path / "my-rules"
    target = rules / "public-access.yaml"
    # 1. Scaffold, and the scaffold tests green.
    made = cli("new", "rule", "ACME-PG-001", "--severity", "high", "--title",
               "Flexible servers allow public network access only when approved", "-o", str(target))
    assert made.code == 0, made.err
    assert "2 passed, 0 failed" in cli("test", str(target)).out
    # 2. Replace the scaffold's spec with the walkthrough's.
    text = target.read_text()
    target.write_text(text.split("spec:\n", 1)[0] + walkthrough_spec())
    # 3. It lints clean, strictly, and its four tests pass.
    linted = cli("lint", "--strict", str(rules))
    assert linted.code == 0, linted.out + linted.err
    tested = cli("test", str(rules))
    assert tested.code == 0 and "4 passed, 0 failed" in tested.out, tested.out
    # 4. It runs on the example estate, alone.
    report = json.loads(cli("scan", "--rules", str(rules), "--rule", "ACME-PG-001", "--format", "json").out)
    verdicts = {f["verdict"] for f in report["findings"]}
    assert report["findings"] and verdicts <= {"pass", "fail", "unknown"}
    # 5. explain shows the tree for one of them.
    resource = report["findings"][0]["resource"]["id"]
    explained = cli("explain", "ACME-PG-001", resource, "--rules", str(rules))
    assert explained.code == 0 and "anyOf (one item must hold)" in explained.out


def test_the_walkthrough_rule_exports_to_azure_policy(cli: Cli, tmp_path: Path) -> None:
    rules = tmp_path / "my-rules"
    target = rules / "public-access.yaml"
    assert cli("new", "rule", "ACME-PG-001", "-o", str(target)).code == 0
    target.write_text(target.read_text().split("spec:\n", 1)[0] + walkthrough_spec())
    out = tmp_path / "defs"
    result = cli("export", "azure-policy", "--rules", str(rules), "--rule", "ACME-PG-001", "--effect", "deny",
                 "-o", str(out))
    assert result.code == 0, result.err
    definition = json.loads((out / "ACME-PG-001.json").read_text())
    text = json.dumps(definition["properties"]["policyRule"])
    assert "Microsoft.DBforPostgreSQL/flexibleServers/network.publicNetworkAccess" in text
    assert "tags['approved-public']" in text
    assert definition["properties"]["parameters"]["effect"]["defaultValue"] == "Deny"


def test_the_lint_example_shows_real_output(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(DOC.parent / "examples")
    shown = DOC.read_text("utf-8").split("$ policyengine lint first-attempt.yaml\n", 1)[1].split("```", 1)[0]
    result = cli("lint", "first-attempt.yaml")
    assert result.code == 1
    assert result.out + result.err == shown


def test_the_catalog_example_extends_the_catalog(cli: Cli, tmp_path: Path) -> None:
    text = DOC.read_text("utf-8").split("# my-catalog.yaml", 1)[1].split("\n", 1)[1].split("```", 1)[0]
    catalog = tmp_path / "my-catalog.yaml"
    catalog.write_text(text)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "cluster.yaml").write_text("""\
apiVersion: policyengine/v1
kind: Rule
metadata:
  id: ACME-PG-010
  title: Elastic clusters have at least two nodes
  severity: low
  description: One node is no cluster.
  remediation: {text: Add nodes.}
spec:
  resource: Microsoft.DBforPostgreSQL/flexibleServers
  condition: {field: properties.cluster.clusterSize, greaterOrEquals: 2}
  tests:
    - {name: two, resource: {properties: {cluster: {clusterSize: 2}}}, expect: pass}
    - {name: one, resource: {properties: {cluster: {clusterSize: 1}}}, expect: fail}
""")
    plain = cli("lint", "--strict", str(rules))
    assert plain.code == 1 and "PE101" in plain.out + plain.err
    checked = cli("lint", "--strict", "--catalog", str(catalog), str(rules))
    assert checked.code == 0, checked.out + checked.err


def test_the_test_file_example_runs(cli: Cli, tmp_path: Path) -> None:
    rules = tmp_path / "my-rules"
    target = rules / "public-access.yaml"
    assert cli("new", "rule", "ACME-PG-001", "-o", str(target)).code == 0
    target.write_text(target.read_text().split("spec:\n", 1)[0] + walkthrough_spec())
    example = DOC.read_text("utf-8").split("kind: RuleTests\n", 1)[1].split("```", 1)[0]
    (rules / "public-access.tests.yaml").write_text("apiVersion: policyengine/v1\nkind: RuleTests\n" + example)
    result = cli("test", str(rules))
    assert result.code == 0 and "5 passed, 0 failed" in result.out, result.out


# -- live.md -------------------------------------------------------------------------------------

LIVE = DOCS / "live.md"


def test_live_shows_the_real_compiled_query(cli: Cli) -> None:
    shown = shown_after_prompt(LIVE.read_text("utf-8"), "$ policyengine compile --rule PG-SINGLE-001 --rule PG-SINGLE-002")
    result = cli("compile", "--rule", "PG-SINGLE-001", "--rule", "PG-SINGLE-002")
    assert shown == result.out, "docs/live.md's compiled query is stale: paste a fresh `policyengine compile`"


def test_live_shows_the_real_doctor(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """The doctor's lines as the page shows them, against the fake Azure with the server
    parameters denied (as the page says)."""
    from policyengine.pipeline import example_path
    from tests.azurefake.server import TOKEN, Estate, FakeAzure, Fault

    rows = json.loads(Path(example_path()).read_text("utf-8"))["data"]
    shown = block_after(LIVE.read_text("utf-8"), "parameters denied (ids")
    with FakeAzure(Estate.from_rows(rows), faults=[Fault("GET", r"/configurations$", 403)]) as fake:
        monkeypatch.setenv("POLICYENGINE_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("POLICYENGINE_ARM_ENDPOINT", fake.endpoint)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_bundle)
        result = cli("doctor", "--azure", "--timeout", "5")
    assert result.code == 3
    assert_shown_is_real(shown, result.out, "docs/live.md's doctor output")


# -- pre-deployment.md ---------------------------------------------------------------------------

PRE = DOCS / "pre-deployment.md"


def test_pre_deployment_shows_the_real_scan(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the page shows paths relative to the project
    command = "`policyengine scan examples/templates/ --rule PG-FLEX-001 --rule PG-FLEX-002 --fail-on high`"
    shown = block_after(PRE.read_text("utf-8"), command)
    result = cli(*shlex.split(command.strip("`"))[1:])
    assert result.code == 1
    assert_shown_is_real(shown, result.out, "docs/pre-deployment.md's scan of the examples")


def test_pre_deployment_shows_the_real_explain(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    prompt = "$ policyengine explain PG-FLEX-002 \"[parameters('server')]\" tests/fixtures/templates/unknowns.json"
    shown = shown_after_prompt(PRE.read_text("utf-8"), prompt)
    result = cli("explain", "PG-FLEX-002", "[parameters('server')]", "tests/fixtures/templates/unknowns.json")
    assert result.code == 0 and result.out == shown, "docs/pre-deployment.md's explain is stale"


def test_pre_deployment_explain_of_a_plan_address_runs(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = cli("explain", "PG-FLEX-002", "rg-orders-weu/pg-reports-weu", "examples/templates/terraform/plan.json")
    assert result.code == 0 and "verdict: fail" in result.out


# -- reports.md ----------------------------------------------------------------------------------

REPORTS = DOCS / "reports.md"


@pytest.mark.parametrize("flag", ["--compact", "--quiet"])
def test_reports_show_the_real_compact_and_quiet_tables(cli: Cli, flag: str) -> None:
    shown = shown_after_prompt(REPORTS.read_text("utf-8"), f"$ policyengine scan {flag}")
    result = cli("scan", flag)
    assert result.code == 1
    assert_shown_is_real(shown, result.out, f"docs/reports.md's `scan {flag}`")
    if flag == "--quiet":
        assert shown == result.out and result.err == ""


def test_reports_show_the_real_contradiction(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    shown = shown_after_prompt(REPORTS.read_text("utf-8"), "$ policyengine scan -o r.sarif -f table")
    result = cli("scan", "-o", "r.sarif", "-f", "table")
    assert result.code == 2 and result.err == shown and not (tmp_path / "r.sarif").exists()


def test_reports_show_a_real_fix_command(cli: Cli) -> None:
    shown = block_after(REPORTS.read_text("utf-8"), "so it can be pasted as it is:")
    assert_shown_is_real(shown, cli("scan").out, "docs/reports.md's fix command")


# -- scanning.md ---------------------------------------------------------------------------------

SCANNING = DOCS / "scanning.md"


def test_scanning_shows_the_real_missing_data_note(cli: Cli) -> None:
    shown = block_after(SCANNING.read_text("utf-8"), "On the bundled example (stderr, 80\ncolumns):")
    result = cli("scan")
    assert shown in result.err


def test_scanning_shows_real_input_errors(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The files the page describes: ``cut.json`` stops after ``{"data": [``, and the second line
    of ``rows.ndjson`` is ``42``."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "estate.json").write_bytes((ROOT / "examples" / "estate.json").read_bytes())
    (tmp_path / "cut.json").write_text('{"data": [')
    server = {"id": "/subscriptions/1e7b4c60-2a9f-4d35-8c18-93b5e0f6a2d4/resourceGroups/rg-x/providers/"
                    "Microsoft.DBforPostgreSQL/flexibleServers/pg-x",
              "type": "Microsoft.DBforPostgreSQL/flexibleServers", "name": "pg-x", "properties": {}}
    (tmp_path / "rows.ndjson").write_text(json.dumps(server) + "\n42\n")
    prompt = "$ policyengine scan estate.json rows.ndjson cut.json --format json -o report.json"
    shown = shown_after_prompt(SCANNING.read_text("utf-8"), prompt)
    result = cli(*shlex.split(prompt)[2:])
    assert result.code == 2
    assert_shown_is_real(shown, result.err, "docs/scanning.md's input errors")
    report = json.loads((tmp_path / "report.json").read_text())
    assert len(report["scan"]["inputErrors"]) == 2 and report["findings"]


def test_scanning_examples_are_valid_files(cli: Cli, tmp_path: Path) -> None:
    text = SCANNING.read_text("utf-8")
    config = yaml.safe_load(block_after(text, "## The configuration file", "yaml"))
    jsonschema.validate(config, json.loads((ROOT / "schemas" / "config.schema.json").read_text()))
    # The waiver file is checked against its schema by the scan that uses it.
    (tmp_path / "waivers.yaml").write_text(block_after(text, "## Waivers", "yaml"))
    result = cli("scan", "--waivers", str(tmp_path / "waivers.yaml"), "-q")
    assert result.code == 1 and re.search(r"^medium +\d+ +\d+ +\d+ +1 ", result.out, re.MULTILINE)


def test_scanning_shows_the_real_baseline_line(cli: Cli, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    assert cli("scan", "-o", str(baseline)).code == 1
    result = cli("scan", "--baseline", str(baseline), "-q")
    assert result.code == 0
    quoted = re.search(r"\(`(0 failing at or above 'info' \(82\n?\s*more in the baseline\))`", SCANNING.read_text("utf-8"))
    assert quoted is not None
    assert " ".join(quoted.group(1).split()) in " ".join(result.out.split())


# -- azure-policy.md -----------------------------------------------------------------------------

POLICY = DOCS / "azure-policy.md"


def test_azure_policy_shows_the_real_export(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    text = POLICY.read_text("utf-8")
    result = cli("export", "azure-policy", "-o", "policy-definitions/")
    assert result.code == 0 and len(list((tmp_path / "policy-definitions").glob("*.json"))) == 15
    assert result.err == block_after(text, "The first command, on the bundled rules")
    refused = cli("export", "azure-policy", "--rule", "PG-FLEX-001", "--effect", "deny")
    assert refused.code == 2 and refused.out == ""
    shown = shown_after_prompt(text, "$ policyengine export azure-policy --rule PG-FLEX-001 --effect deny")
    assert refused.err == "".join(line.removeprefix("  ") for line in shown.splitlines(keepends=True)).rstrip(" ")
