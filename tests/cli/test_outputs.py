"""Reports that fail cleanly: a full disk, a bad target or two outputs naming one file is one
line on stderr and exit code 2 (no traceback, no ``.partial`` left); a report on standard output
is never left half-written; ``collect -o`` never replaces a device or a FIFO."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from policyengine.cli.outputs import Destination
from policyengine.errors import UsageError
from tests.azurefake.server import TOKEN, Estate, FakeAzure
from tests.conftest import Result

Cli = Callable[..., Result]
ROOT = Path(__file__).resolve().parents[2]
ESTATE = str(ROOT / "examples" / "estate.json")
FULL = Path("/dev/full")
needs_full = pytest.mark.skipif(not FULL.exists(), reason="no /dev/full here")


def one_line(result: Result) -> str:
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    assert result.err.count("\n") == 1, result.err
    return result.err.strip()


@needs_full
@pytest.mark.parametrize("fmt", ["json", "sarif", "junit", "csv", "html", "markdown", "table"])
def test_a_full_disk_is_one_line_and_exit_2(cli: Cli, fmt: str) -> None:
    result = cli("scan", ESTATE, "--quiet", "--format", fmt, "-o", str(FULL))
    assert one_line(result) == "policyengine: cannot write the report to /dev/full: No space left on device"
    assert FULL.is_char_device()


@needs_full
def test_a_full_disk_on_standard_output(tmp_path: Path) -> None:
    for fmt in ("json", "table"):
        with FULL.open("w") as out:
            done = subprocess.run([sys.executable, "-m", "policyengine", "scan", ESTATE, "--quiet", "--format", fmt],
                                  stdout=out, stderr=subprocess.PIPE, cwd=tmp_path, timeout=60, check=False)
        err = done.stderr.decode()
        assert done.returncode == 2, err
        assert err == "policyengine: cannot write the report to standard output: No space left on device\n"
    with FULL.open("w") as out:  # a command that prints (not a report) on a full disk
        done = subprocess.run([sys.executable, "-m", "policyengine", "rules", "list"], stdout=out,
                              stderr=subprocess.PIPE, cwd=tmp_path, timeout=60, check=False)
    assert done.returncode == 2 and done.stderr.decode() == "policyengine: cannot write: No space left on device\n"


def test_bad_targets_are_one_line_and_exit_2(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    cases = {
        str(tmp_path / "dir"): "it is a directory",
        str(tmp_path / "missing" / "r.json"): f"the folder {tmp_path / 'missing'} does not exist",
    }
    for target, reason in cases.items():
        result = cli("scan", ESTATE, "--format", "json", "-o", target)
        assert one_line(result) == f"policyengine: cannot write the report to {target}: {reason}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]
    assert list((tmp_path / "dir").iterdir()) == []


def test_a_target_without_permission(cli: Cli, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = cli("scan", ESTATE, "--format", "json", "-o", str(locked / "r.json"))
    assert one_line(result) == f"policyengine: cannot write the report to {locked / 'r.json'}: Permission denied"


def test_two_outputs_naming_one_file(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "existing.json").write_text("{}")
    (tmp_path / "link.json").symlink_to(tmp_path / "existing.json")
    pairs = [("r.json", str(tmp_path / "r.json")), ("r.json", "sub/../r.json"), ("existing.json", "link.json")]
    for first, second in pairs:
        result = cli("scan", ESTATE, "--format", "json", "-o", first, "--format", "json", "-o", second)
        assert one_line(result) == (f"policyengine: two reports would be written to one file: {first} and "
                                    f"{second} (give each --format its own --output)")
    # Standard output, once by default and once by name.
    result = cli("scan", ESTATE, "--format", "json", "-o", "/dev/stdout", "--format", "table")
    assert "two reports would be written to one file: /dev/stdout and standard output" in one_line(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.json", "link.json", "sub"]
    assert (tmp_path / "existing.json").read_text() == "{}"
    # /dev/null takes any number.
    assert cli("scan", ESTATE, "--format", "json", "-o", os.devnull, "--format", "sarif", "-o", os.devnull).code == 1


def test_a_report_through_a_link_replaces_the_file_it_names(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "real.json").write_text("old")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    assert cli("scan", ESTATE, "--format", "json", "-o", str(tmp_path / "link.json")).code == 1
    assert (tmp_path / "link.json").is_symlink()
    assert json.loads((tmp_path / "real.json").read_text())["summary"]["exitCode"] == 1


def test_a_failing_scan_leaves_nothing_on_standard_output(cli: Cli, tmp_path: Path) -> None:
    # The JSON report on standard output is buffered until the scan completes: here the other
    # output's disk is full, after findings went to both.
    if not FULL.exists():
        pytest.skip("no /dev/full here")
    result = cli("scan", ESTATE, "--format", "csv", "-o", str(FULL), "--format", "json")
    assert result.code == 2 and "/dev/full" in result.err
    assert result.out == ""
    # The same scan that succeeds writes the whole document.
    ok = cli("scan", ESTATE, "--format", "csv", "-o", str(tmp_path / "r.csv"), "--format", "json")
    assert ok.code == 1 and json.loads(ok.out)["summary"]["exitCode"] == 1


def test_destination_writes_a_device_or_fifo_directly(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    out = Destination(str(fifo), what="the snapshot")
    assert out.partial is None
    out.handle.write("line\n")
    out.commit()
    out.publish()
    reader.join(timeout=10)
    assert got == [b"line\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    with pytest.raises(UsageError, match=r"^cannot write the snapshot to .*: it is a directory$"):
        Destination(str(tmp_path), what="the snapshot")


def test_collect_never_replaces_a_fifo_or_device(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"id": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
                   "Microsoft.DBforPostgreSQL/servers/pg1", "name": "pg1", "type": "Microsoft.DBforPostgreSQL/servers",
             "properties": {"sslEnforcement": "Enabled"}}]
    fifo = tmp_path / "snapshot.ndjson"
    os.mkfifo(fifo)
    got: list[bytes] = []
    with FakeAzure(Estate.from_rows(rows)) as fake:
        monkeypatch.setenv("POLICYENGINE_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("POLICYENGINE_ARM_ENDPOINT", fake.endpoint)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_bundle)
        reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
        reader.start()
        result = cli("collect", "--azure", "-o", str(fifo), "--rule", "PG-SINGLE-001", "--quiet")
        reader.join(timeout=30)
        assert result.code == 0, result.err
        assert stat.S_ISFIFO(fifo.stat().st_mode)
        assert not list(tmp_path.glob("*.partial"))
        lines = got[0].decode().splitlines()
        assert json.loads(lines[0])["$policyengine"]["kind"] == "snapshot"
        assert json.loads(lines[1])["name"] == "pg1"
        if FULL.exists():
            full = cli("collect", "--azure", "-o", str(FULL), "--rule", "PG-SINGLE-001", "--quiet")
            assert one_line(full) == "policyengine: cannot write the snapshot to /dev/full: No space left on device"
            assert FULL.is_char_device()
    missing = cli("collect", "--azure", "-o", str(tmp_path / "no" / "s.ndjson"))
    assert one_line(missing).endswith("does not exist")
