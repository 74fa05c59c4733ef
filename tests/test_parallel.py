"""Many templates are judged on several cores (policyengine/parallel.py) with the report a
single process writes, byte for byte; a worker's failure or a signal ends the scan cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from policyengine import parallel
from tests.conftest import Result

ROOT = Path(__file__).resolve().parents[1]
REALWORLD = ROOT.parent / "shared" / "realworld"
Cli = Callable[..., Result]


def templates(folder: Path, count: int) -> Path:
    """``count`` small templates: flexible servers with a parameter, some insecure."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        name = f"pg-{i:05d}"
        body = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0",
                "parameters": {"ssl": {"type": "string", "defaultValue": "on" if i % 3 else "off"}},
                "resources": [
                    {"type": "Microsoft.DBforPostgreSQL/flexibleServers", "apiVersion": "2024-08-01",
                     "name": name, "location": "westeurope", "properties": {"version": "16"}},
                    {"type": "Microsoft.DBforPostgreSQL/flexibleServers/configurations",
                     "apiVersion": "2024-08-01", "name": f"{name}/require_secure_transport",
                     "dependsOn": [name], "properties": {"value": "[parameters('ssl')]"}}]}
        (folder / f"t{i:05d}.json").write_text(json.dumps(body, indent=2), encoding="utf-8")
    return folder


def report(cli: Cli, monkeypatch: pytest.MonkeyPatch, jobs: int, *paths: Path) -> tuple[int, str, str]:
    monkeypatch.setenv(parallel.JOBS_ENV, str(jobs))
    result = cli("scan", *map(str, paths), "--format", "json")
    return result.code, result.out, result.err


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_FILES", 2)
    monkeypatch.setattr(parallel, "CHUNK", 3)


@pytest.mark.usefixtures("small_chunks")
def test_several_workers_write_the_report_one_process_writes(cli: Cli, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    folder = templates(tmp_path / "t", 40)
    one = report(cli, monkeypatch, 1, folder, ROOT / "examples" / "templates")
    three = report(cli, monkeypatch, 3, folder, ROOT / "examples" / "templates")
    assert one == three
    assert one[0] == 1 and json.loads(one[1])["summary"]["total"] > 80


@pytest.mark.usefixtures("small_chunks")
def test_input_errors_and_notes_come_back_in_file_order(cli: Cli, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    if not REALWORLD.is_dir():
        pytest.skip(f"the real-world corpus is not here: {REALWORLD}")
    one = report(cli, monkeypatch, 1, REALWORLD)
    two = report(cli, monkeypatch, 2, REALWORLD)
    assert one == two
    scan = json.loads(two[1])["scan"]
    assert len(scan["inputErrors"]) == 5 and json.loads(two[1])["notes"]


@pytest.mark.usefixtures("small_chunks")
def test_a_worker_that_fails_fails_the_scan(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from policyengine.sources import DeclaredSource

    def broken(*_args: object) -> None:
        raise ValueError("a bug in the worker")

    monkeypatch.setattr(DeclaredSource, "records", broken)  # inherited by the forked workers
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    with pytest.raises(RuntimeError, match="a worker process judging templates failed: ValueError: a bug"):
        cli("scan", str(templates(tmp_path / "t", 10)), "--format", "json", "-o", str(tmp_path / "r.json"))
    assert not list(tmp_path.glob("r.json*"))  # nothing half-written


def test_sigterm_to_the_process_group_ends_the_scan_and_its_workers(tmp_path: Path) -> None:
    folder = templates(tmp_path / "t", 3000)
    report_file = tmp_path / "r.json"
    env = {**os.environ, parallel.JOBS_ENV: "2"}
    scan = subprocess.Popen([sys.executable, "-m", "policyengine", "scan", str(folder), "-o", str(report_file)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT,
                            start_new_session=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(_session(scan.pid)) < 3:  # the scan and its two workers
        time.sleep(0.02)
    assert len(_session(scan.pid)) == 3, "the workers never started"
    os.killpg(scan.pid, signal.SIGTERM)
    _, err = scan.communicate(timeout=30)
    assert scan.returncode == 143, err
    if scan.returncode == 143:
        assert b"policyengine: terminated" in err and not list(tmp_path.glob("r.json*"))
    assert _session(scan.pid) == []


def _session(sid: int) -> list[str]:
    """The live processes of session ``sid`` (the scan started one of its own), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        if fields[3] == str(sid) and fields[0] != "Z":  # session id; a zombie is not running
            found.append(stat.parent.name)
    return found


def test_few_files_stay_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.JOBS_ENV, "4")
    assert parallel.jobs() == 4
    monkeypatch.setenv(parallel.JOBS_ENV, "x")
    assert parallel.jobs() >= 1
