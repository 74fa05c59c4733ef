"""Many templates are judged on several cores (policyengine/parallel.py) with the report a
single process writes, byte for byte; a worker's failure or a signal ends the scan cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from policyengine import parallel
from policyengine.evaluator import RuleIndex
from policyengine.loading.rules import load_rules
from policyengine.sources.declared import TemplateOptions

ROOT = Path(__file__).resolve().parents[1]
REALWORLD = ROOT.parent / "shared" / "realworld"


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


def scan(jobs: int, *paths: Path) -> tuple[int, bytes, bytes]:
    """A scan in a process of its own (as the command line runs: no other thread), its JSON
    report on standard output."""
    done = subprocess.run([sys.executable, "-m", "policyengine", "scan", *map(str, paths), "--format", "json"],
                          capture_output=True, cwd=ROOT, env={**os.environ, parallel.JOBS_ENV: str(jobs)},
                          check=False)
    return done.returncode, done.stdout, done.stderr


def test_several_workers_write_the_report_one_process_writes(tmp_path: Path) -> None:
    folder = templates(tmp_path / "t", parallel.MIN_FILES + 6)
    one = scan(1, folder, ROOT / "examples" / "templates")
    three = scan(3, folder, ROOT / "examples" / "templates")
    assert one == three
    assert one[0] == 1 and json.loads(one[1])["summary"]["total"] > 200


def test_input_errors_and_notes_come_back_in_file_order(tmp_path: Path) -> None:
    if not REALWORLD.is_dir():
        pytest.skip(f"the real-world corpus is not here: {REALWORLD}")
    folder = templates(tmp_path / "t", parallel.MIN_FILES)
    one = scan(1, REALWORLD, folder)
    two = scan(2, REALWORLD, folder)
    assert one == two
    report = json.loads(two[1])
    assert len(report["scan"]["inputErrors"]) == 5 and report["notes"]


def test_a_worker_that_fails_fails_the_scan(tmp_path: Path) -> None:
    class Broken:
        """A file whose reading is a bug (not an input error): the worker says so."""

        shown = "broken"

        @property
        def kind(self) -> object:
            raise ValueError("a bug in the worker")

    index = RuleIndex(load_rules([]))
    crew = parallel._Crew(2, [[Broken()], [Broken()]], index, TemplateOptions())  # type: ignore[list-item]
    try:
        with pytest.raises(RuntimeError, match="a worker process judging templates failed: ValueError: a bug"):
            crew.result(0)
    finally:
        crew.stop()
    assert not any(process.is_alive() for process in crew.processes)


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


def test_the_number_of_workers_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.JOBS_ENV, "4")
    assert parallel.jobs() == 4
    monkeypatch.setenv(parallel.JOBS_ENV, "x")
    assert parallel.jobs() >= 1
