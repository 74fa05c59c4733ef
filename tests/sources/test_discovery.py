"""Which files a scan reads: directory walks (hidden folders, skipped folders, links and link
loops, --skip-path), a note for every file left out, content detection whatever the size and
encoding, and streams (FIFOs, standard input) read exactly once."""

from __future__ import annotations

import codecs
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from policyengine.sources.discovery import TERRAFORM_HINT, Discovery, discover
from policyengine.sources.sniff import Kind, decide
from tests.cli.test_scan import flex
from tests.conftest import Result

Cli = Callable[..., Result]
ROOT = Path(__file__).resolve().parents[2]
REALWORLD = ROOT.parent / "shared" / "realworld"
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
PARAMETERS_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#"
FLEX_TYPE = "Microsoft.DBforPostgreSQL/flexibleServers"


def template(name: str = "pg", **first: Any) -> str:
    """A template of one flexible server whose require_secure_transport is off (so it fails
    PG-FLEX-001); ``first``: members placed before ``$schema``."""
    server = {"type": FLEX_TYPE, "apiVersion": "2024-08-01", "name": name, "location": "westeurope",
              "properties": {"version": "16"}, "resources": [{
                  "type": "configurations", "apiVersion": "2024-08-01", "name": "require_secure_transport",
                  "dependsOn": [name], "properties": {"value": "off"}}]}
    return json.dumps({**first, "$schema": SCHEMA, "contentVersion": "1.0.0.0", "resources": [server]}, indent=2)


def ndjson(*names: str) -> str:
    return "".join(json.dumps(row) + "\n" for name in names for row in flex(name, "off"))


def put(root: Path, name: str, content: str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def taken(found: Discovery) -> dict[str, Kind]:
    return {str(t.path): t.kind for t in found.targets}


def notes_for(found: Discovery, path: Path | str) -> list[str]:
    return [n for n in found.notes if n.startswith((f"{path}:", f"{path}{os.sep}:"))]


def failing(cli: Cli, *argv: str) -> set[str]:
    """The resource names that fail PG-FLEX-001 in a scan (asserting it read without error)."""
    result = cli("scan", *argv, "--rule", "PG-FLEX-001", "--format", "json")
    assert result.code in (0, 1), result.err
    report = json.loads(result.out)
    assert report["scan"]["inputErrors"] == []
    return {f["resource"]["id"].rsplit("/", 1)[-1] for f in report["findings"] if f["verdict"] == "fail"}


# -- directory walks ---------------------------------------------------------------------------

def test_hidden_folders_are_walked_and_tool_folders_skipped_with_a_note(tmp_path: Path) -> None:
    put(tmp_path, "mod/.test/min/deploy.test.json", template("hidden"))
    for folder in (".git", "node_modules", ".terraform", "__pycache__", ".venv"):
        put(tmp_path, f"{folder}/t.json", template(folder))
    found = discover([str(tmp_path)])
    assert taken(found) == {str(tmp_path / "mod/.test/min/deploy.test.json"): Kind.TEMPLATE}
    for folder in (".git", "node_modules", ".terraform", "__pycache__", ".venv"):
        (note,) = notes_for(found, tmp_path / folder)
        assert "skipped" in note and f"folders named {folder} are never walked" in note


def test_the_realworld_corpus_test_templates_and_export_are_found() -> None:
    if not REALWORLD.is_dir():
        pytest.skip("no shared/realworld here")
    found = discover([str(REALWORLD)])
    kinds = taken(found)
    tests = [p for p in kinds if f"{os.sep}.test{os.sep}" in p]
    assert len(tests) == 3 and all(kinds[p] is Kind.TEMPLATE for p in tests)
    assert kinds[str(REALWORLD / "psrule/tests/Resources.PostgreSQL.json")] is Kind.EXPORT
    assert sum(k is Kind.PLAN for k in kinds.values()) == 4
    assert sum(k is Kind.TEMPLATE for k in kinds.values()) == 25
    parameters = REALWORLD / "quickstarts/flexible-postgresql-with-aad/azuredeploy.parameters.json"
    assert notes_for(found, parameters) == [
        f"{parameters}: a parameters file, used by {parameters.with_name('azuredeploy.json')}"]
    assert found.problems == []


def test_links_are_followed_and_a_loop_ends_with_a_note(tmp_path: Path) -> None:
    outside = put(tmp_path, "elsewhere/linked.json", template("linked")).parent
    root = tmp_path / "repo"
    put(root, "a/t.json", template("a"))
    (root / "a" / "loop").symlink_to(root)  # back to an ancestor
    (root / "b").symlink_to(outside)  # a linked folder
    (root / "c").symlink_to(outside)  # the same folder again
    (root / "z").mkdir()
    (root / "z" / "t-link.json").symlink_to(root / "a" / "t.json")  # a linked file: taken once
    (root / "dangling.json").symlink_to(root / "nowhere.json")
    found = discover([str(root)])
    assert taken(found) == {str(root / "a/t.json"): Kind.TEMPLATE, str(root / "b/linked.json"): Kind.TEMPLATE}
    assert "a symbolic link loop (back to" in notes_for(found, root / "a/loop")[0]
    assert f"the same folder as {root / 'b'}" in notes_for(found, root / "c")[0]
    assert f"the same file as {root / 'a/t.json'}" in notes_for(found, root / "z/t-link.json")[0]
    assert "a symbolic link to nothing" in notes_for(found, root / "dangling.json")[0]


def test_a_folder_that_cannot_be_listed_is_an_input_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any folder")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0)
    try:
        found = discover([str(tmp_path)])
    finally:
        locked.chmod(0o755)
    assert [p.text() for p in found.problems] == [f"{locked}: cannot list the folder: Permission denied"]


def test_skip_path_leaves_out_files_and_folders_by_name_or_by_path(tmp_path: Path) -> None:
    for name in ("keep/t.json", "fixtures/bad/t.json", "deep/er/fixtures/t.json", "keep/x.test.json",
                 "modules/a/t.json", "modules/b/t.json"):
        put(tmp_path, name, template(name.replace("/", "-")))
    found = discover([str(tmp_path)], skip=["fixtures", "*.test.json", "modules/a"])
    assert sorted(taken(found)) == [str(tmp_path / "keep/t.json"), str(tmp_path / "modules/b/t.json")]
    assert notes_for(found, tmp_path / "fixtures") == [f"{tmp_path / 'fixtures'}{os.sep}: skipped: matches "
                                                       "--skip-path fixtures"]
    assert "matches --skip-path fixtures" in notes_for(found, tmp_path / "deep/er/fixtures")[0]
    assert "matches --skip-path *.test.json" in notes_for(found, tmp_path / "keep/x.test.json")[0]
    assert "matches --skip-path modules/a" in notes_for(found, tmp_path / "modules/a")[0]


def test_skip_paths_from_the_command_line_and_the_configuration_file(
        cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    put(tmp_path, "infra/db.json", template("db"))
    put(tmp_path, "infra/fixtures/broken.json", template("fixture"))
    put(tmp_path, "infra/generated/gen.json", template("generated"))
    monkeypatch.chdir(tmp_path)
    assert failing(cli, "infra") == {"db", "fixture", "generated"}
    assert failing(cli, "infra", "--skip-path", "fixtures", "--skip-path", "generated") == {"db"}
    put(tmp_path, "policyengine.yaml", "apiVersion: policyengine/v1\nkind: Config\nskipPaths: [fixtures]\n")
    assert failing(cli, "infra") == {"db", "generated"}
    # The command line adds to the file's patterns.
    assert failing(cli, "infra", "--skip-path", "gen*") == {"db"}
    # A pattern with '/' matches from the walked folder, or from the working directory.
    assert failing(cli, "infra", "--skip-path", "infra/gen*") == {"db"}
    assert failing(cli, str(tmp_path / "infra"), "--skip-path", "generated/") == {"db"}
    # A file named on the command line is left out too (a pre-commit hook names every staged file).
    result = cli("scan", "infra/db.json", "infra/fixtures/broken.json", "--rule", "PG-FLEX-001", "-v")
    assert "infra/fixtures/broken.json: skipped: matches --skip-path fixtures" in result.err


# -- every skipped file is named ---------------------------------------------------------------

def test_every_file_left_out_has_its_reason(cli: Cli, tmp_path: Path) -> None:
    put(tmp_path, "README.md", "# infra\n")
    put(tmp_path, "main.tf", 'resource "x" "y" {}\n')
    put(tmp_path, "package.json", '{"name": "x", "version": "1.0.0"}')
    put(tmp_path, "empty.json", "")
    put(tmp_path, "db.json", template("db"))
    put(tmp_path, "db.parameters.json", json.dumps({"$schema": PARAMETERS_SCHEMA, "parameters": {}}))
    put(tmp_path, "prod.parameters.json", json.dumps({"$schema": PARAMETERS_SCHEMA, "parameters": {}}))
    found = discover([str(tmp_path)])
    assert taken(found) == {str(tmp_path / "db.json"): Kind.TEMPLATE}
    assert notes_for(found, tmp_path / "README.md") == [f"{tmp_path / 'README.md'}: skipped: not a JSON or "
                                                        "Bicep file"]
    assert notes_for(found, tmp_path / "main.tf") == [f"{tmp_path / 'main.tf'}: skipped: {TERRAFORM_HINT}"]
    assert "terraform show -json plan.out > plan.json" in TERRAFORM_HINT
    assert "skipped: not a template, Bicep file, plan or export" in notes_for(found, tmp_path / "package.json")[0]
    assert notes_for(found, tmp_path / "empty.json") == [f"{tmp_path / 'empty.json'}: skipped: empty"]
    assert notes_for(found, tmp_path / "db.parameters.json") == [
        f"{tmp_path / 'db.parameters.json'}: a parameters file, used by {tmp_path / 'db.json'}"]
    assert "not used: no template beside it" in notes_for(found, tmp_path / "prod.parameters.json")[0]
    # -v prints them all.
    result = cli("scan", str(tmp_path), "--rule", "PG-FLEX-001", "-v")
    assert result.code == 1
    for name in ("README.md", "main.tf", "package.json", "empty.json", "db.parameters.json"):
        assert f"policyengine: {tmp_path / name}:" in result.err


def test_an_export_in_a_folder_is_scanned_but_not_before_deployment(cli: Cli, tmp_path: Path) -> None:
    put(tmp_path, "estate/servers.ndjson", ndjson("from-export"))
    put(tmp_path, "estate/arm-list.json", json.dumps({"value": flex("from-list", "off")[:2], "nextLink": None}))
    put(tmp_path, "infra/db.json", template("from-template"))
    found = discover([str(tmp_path)])
    assert taken(found) == {str(tmp_path / "estate/servers.ndjson"): Kind.EXPORT,
                            str(tmp_path / "estate/arm-list.json"): Kind.EXPORT,
                            str(tmp_path / "infra/db.json"): Kind.TEMPLATE}
    assert {"from-export", "from-template"} <= failing(cli, str(tmp_path / "estate/servers.ndjson"),
                                                       str(tmp_path / "infra"))
    hook = discover([str(tmp_path)], pre_deployment=True)
    assert taken(hook) == {str(tmp_path / "infra/db.json"): Kind.TEMPLATE}
    assert "an export (--pre-deployment scans templates" in notes_for(hook, tmp_path / "estate/servers.ndjson")[0]
    # A hook names every staged file: what is not a template is noted, never an error.
    tf = put(tmp_path, "infra/main.tf", "")
    staged = discover([str(tmp_path / "estate/servers.ndjson"), str(tf), str(tmp_path / "infra/db.json")],
                      pre_deployment=True)
    assert taken(staged) == {str(tmp_path / "infra/db.json"): Kind.TEMPLATE} and staged.problems == []
    assert notes_for(staged, tf) == [f"{tf}: skipped: {TERRAFORM_HINT}"]


def test_named_paths_that_are_missing_empty_or_terraform_are_input_errors(cli: Cli, tmp_path: Path) -> None:
    good = put(tmp_path, "good.ndjson", ndjson("good"))
    empty = put(tmp_path, "empty.json", "  \n")
    tf = put(tmp_path, "main.tf", "")
    result = cli("scan", str(tmp_path / "missing.json"), str(empty), str(tf), str(good), "--format", "json")
    assert result.code == 2
    errors = {e["file"]: e for e in json.loads(result.out)["scan"]["inputErrors"]}
    assert errors[str(tmp_path / "missing.json")]["message"] == "cannot read input: No such file or directory"
    assert errors[str(tmp_path / "missing.json")]["unit"] == "file"
    assert errors[str(empty)]["message"].startswith("the file is empty")
    assert errors[str(tf)]["message"] == TERRAFORM_HINT
    assert f"{tmp_path / 'missing.json'}: cannot read input: No such file or directory" in result.err
    assert "Traceback" not in result.err


def test_an_empty_directory_is_a_usage_error_naming_it(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = cli("scan", str(tmp_path / "empty"))
    assert result.code == 2
    assert result.err.strip() == (f"policyengine: no templates, Bicep files, plans or exports found in "
                                  f"{tmp_path / 'empty'}")


# -- content detection -------------------------------------------------------------------------

KINDS: list[tuple[str, Kind]] = [
    (template(), Kind.TEMPLATE),
    ('// a comment\n/* and another */ {"$schema": "' + SCHEMA + '", "resources": []}', Kind.TEMPLATE),
    ('{"contentVersion": "1.0.0.0", "resources": []}', Kind.TEMPLATE),
    ('{"$schema": "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#"}',
     Kind.TEMPLATE),
    (json.dumps({"$schema": PARAMETERS_SCHEMA, "parameters": {}}), Kind.PARAMETERS),
    ('{"format_version": "1.2", "terraform_version": "1.6.0"}', Kind.PLAN),
    ('{"terraform_version": "1.6.0", "format_version": "1.2", "planned_values": {}}', Kind.PLAN),
    (ndjson("a"), Kind.EXPORT),
    ('{"$policyengine": {"kind": "snapshot"}}\n', Kind.EXPORT),
    (json.dumps({"count": 1, "data": flex("a", "on")[:1]}), Kind.EXPORT),
    ('{"totalRecords": 0, "count": 0, "data": []}', Kind.EXPORT),
    ('{"data": {"columns": [{"name": "id"}], "rows": [["/subscriptions/x"]]}}', Kind.EXPORT),
    (json.dumps({"value": flex("a", "on")}), Kind.EXPORT),
    (json.dumps(flex("a", "on")), Kind.EXPORT),
    (json.dumps({"name": "pg", "id": "/subscriptions/x/resourceGroups/r/providers/p/t/pg"}), Kind.EXPORT),
    (json.dumps([{"ResourceId": "/subscriptions/x", "Name": "pg", "Properties": {}}]), Kind.EXPORT),
    ('{"name": "x", "version": "1.0.0", "data": [1, 2]}', Kind.OTHER),
    ('{"value": ["a"], "id": "not-an-arm-id"}', Kind.OTHER),
    ("[1, 2, 3]", Kind.OTHER),
    ("[]", Kind.OTHER),
    ("{}", Kind.OTHER),
    ("<xml/>", Kind.OTHER),
    ('{"$schema": "' + SCHEMA + '", "resources": [', Kind.TEMPLATE),  # cut short after the schema: the loader says where
    ('{"name": "x", "resources": [', Kind.OTHER),
    (" \n\t", Kind.EMPTY),
]


@pytest.mark.parametrize(("text", "kind"), KINDS, ids=[f"{k.value}-{i}" for i, (_, k) in enumerate(KINDS)])
def test_content_tells_the_kind_and_a_prefix_never_tells_another(text: str, kind: Kind) -> None:
    whole = decide(text, True)
    assert whole is not None and whole[0] is kind
    # Read in pieces, detection either waits for more or already has the same answer.
    for cut in range(len(text)):
        part = decide(text[:cut], False)
        assert part is None or part[0] is kind, (cut, part)


def test_a_schema_after_64_kib_of_metadata_is_found(cli: Cli, tmp_path: Path) -> None:
    metadata = {"notes": ["x" * 100 + ' "quoted" } ] { [' for _ in range(2000)], "nested": {"a": [{"b": "}"}]}}
    path = put(tmp_path, "big/t.json", template("late", metadata=metadata))
    assert path.read_text().index('"$schema"') > 128 * 1024
    assert taken(discover([str(tmp_path / "big")])) == {str(path): Kind.TEMPLATE}
    assert failing(cli, str(tmp_path / "big")) == {"late"}


ENCODINGS = [("utf-8-sig", b""), ("utf-16", b""), ("utf-16-le", codecs.BOM_UTF16_LE),
             ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-16-le", b""), ("utf-16-be", b""), ("utf-32", b"")]


@pytest.mark.parametrize(("encoding", "bom"), ENCODINGS, ids=[f"{e}{'-bom' if b else ''}" for e, b in ENCODINGS])
def test_templates_and_exports_in_any_unicode_encoding(cli: Cli, tmp_path: Path, encoding: str, bom: bytes) -> None:
    put(tmp_path, "infra/t.json", bom + template("tpl").encode(encoding))
    put(tmp_path, "infra/e.ndjson", bom + ndjson("exp").encode(encoding))
    found = discover([str(tmp_path / "infra")])
    assert set(taken(found).values()) == {Kind.TEMPLATE, Kind.EXPORT}
    assert failing(cli, str(tmp_path / "infra")) == {"tpl", "exp"}
    result = cli("scan", str(tmp_path / "infra/t.json"), "--rule", "PG-FLEX-001", "--format", "json")
    (finding,) = json.loads(result.out)["findings"]
    # Lines and columns are the text's, whatever the bytes.
    assert finding["resource"]["source"]["line"] == template("tpl").splitlines().index("    {") + 1


def test_a_byte_that_cannot_be_decoded_is_a_located_input_error(cli: Cli, tmp_path: Path) -> None:
    good = put(tmp_path, "good.ndjson", ndjson("good"))
    export = put(tmp_path, "latin1.ndjson", ndjson("a").encode() + b'{"id": "/x/caf\xe9"}\n' + ndjson("b").encode())
    lines = template("t").encode().splitlines(keepends=True)
    tpl = put(tmp_path, "latin1.json", b"".join(lines[:3]) + b'  "description": "caf\xe9",\n' + b"".join(lines[3:]))
    result = cli("scan", str(export), str(tpl), str(good), "--format", "json")
    assert result.code == 2, result.err
    report = json.loads(result.out)
    errors = {e["file"]: e for e in report["scan"]["inputErrors"]}
    row_line = ndjson("a").count("\n") + 1
    assert (errors[str(export)]["line"], errors[str(export)]["column"]) == (row_line, 15)
    assert errors[str(export)]["message"] == "not UTF-8 text: cannot decode the bytes e9 22 7d 0a (invalid " \
                                             "continuation byte)"
    assert (errors[str(tpl)]["line"], errors[str(tpl)]["column"]) == (4, 22)
    assert f"{tpl}:4:22: not UTF-8 text" in result.err
    judged = {f["resource"]["id"].rsplit("/", 1)[-1] for f in report["findings"]}
    assert {"good", "a"} <= judged  # the rows before the bad byte, and the other file


# -- streams are read once ---------------------------------------------------------------------

@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Callable[[bytes], Path]]:
    """A FIFO with a writer thread that writes ``data`` and closes."""
    writers: list[threading.Thread] = []

    def make(data: bytes) -> Path:
        path = tmp_path / f"fifo{len(writers)}"
        os.mkfifo(path)

        def write() -> None:
            with path.open("wb") as out:
                out.write(data)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writers.append(writer)
        return path

    yield make
    for writer in writers:
        writer.join(timeout=10)
        assert not writer.is_alive(), "the FIFO was never read to the end"


def test_a_fifo_export_is_read_once(cli: Cli, fifo: Callable[[bytes], Path]) -> None:
    names = [f"pg{i}" for i in range(300)]  # more than one read of the pipe
    path = fifo(ndjson(*names).encode())
    assert failing(cli, str(path)) == set(names)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_fifo_template_is_read_once(cli: Cli, fifo: Callable[[bytes], Path], encoding: str) -> None:
    path = fifo(template("piped", metadata={"pad": "x" * 100_000}).encode(encoding))
    assert failing(cli, str(path)) == {"piped"}


def test_standard_input_in_process(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(ndjson("in").encode("utf-16"))))
    assert failing(cli, "-") == {"in"}
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(template("tpl-in").encode())))
    assert failing(cli, "-") == {"tpl-in"}


def test_standard_input_of_the_installed_cli(tmp_path: Path) -> None:
    names = [f"pg{i}" for i in range(200)]
    done = subprocess.run([sys.executable, "-m", "policyengine", "scan", "-", "--rule", "PG-FLEX-001",
                           "--format", "json"], input=ndjson(*names).encode(), capture_output=True,
                          cwd=tmp_path, timeout=60, check=False)
    assert done.returncode == 1, done.stderr.decode()
    report = json.loads(done.stdout)
    assert report["inputs"]["files"] == ["<stdin>"]
    assert {f["resource"]["id"].rsplit("/", 1)[-1] for f in report["findings"]} == set(names)
