"""SIGTERM cleans up as Ctrl-C does: a scan killed while it writes its report removes the
``.partial`` file, leaves no half report on standard output, says so in one line and exits
143 (SIGTERM) or 130 (SIGINT).

The scan runs in a child process reading a generated estate (bench/gen_estate.py) through a
FIFO whose writer stops half-way: the signal then always comes while the report is open."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.gen_estate import generate
from policyengine.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("estate") / "estate.ndjson"
    generate(400, path, seed=3)
    return path.read_bytes()


class HalfFed:
    """A FIFO fed the first half of ``data``, then held open (the reader waits for more)
    until :meth:`close`."""

    def __init__(self, path: Path, data: bytes) -> None:
        os.mkfifo(path)
        self.path = path
        self.fed = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._feed, args=(data[:len(data) // 2],), daemon=True)
        self.thread.start()

    def _feed(self, data: bytes) -> None:
        try:
            with self.path.open("wb") as out:
                out.write(data)
                out.flush()
                self.fed.set()
                self.done.wait(30)
        except BrokenPipeError:  # the reader is gone: what this test wants
            self.fed.set()

    def close(self) -> None:
        self.done.set()
        self.thread.join(timeout=10)


@pytest.fixture
def scan(tmp_path: Path, estate: bytes) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A scan of a half-fed FIFO writing a JSON report to ``report.json``, under way."""
    feed = HalfFed(tmp_path / "estate.ndjson", estate)
    report = tmp_path / "report.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-m", "policyengine", "scan", str(feed.path), "--format", "json",
                              "-o", str(report), "--quiet"], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not (feed.fed.is_set() and (tmp_path / "report.json.partial").exists()):
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the scan never started its report"
        time.sleep(0.02)
    try:
        yield child, tmp_path
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate()
        feed.close()


@pytest.mark.parametrize(("signum", "code", "message"), [
    (signal.SIGTERM, 143, "policyengine: terminated\n"),
    (signal.SIGINT, 130, "policyengine: interrupted\n"),
])
def test_a_signal_removes_the_partial_report(scan: tuple[subprocess.Popen[bytes], Path], signum: int, code: int,
                                             message: str) -> None:
    child, folder = scan
    child.send_signal(signum)
    out, err = child.communicate(timeout=30)
    assert child.returncode == code, err.decode()
    assert err.decode() == message
    assert out == b""
    assert sorted(p.name for p in folder.iterdir()) == ["estate.ndjson"]  # no report, no .partial


def test_the_sigterm_handler_is_only_there_while_a_command_runs(capsys: pytest.CaptureFixture[str]) -> None:
    before = signal.getsignal(signal.SIGTERM)
    assert main(["rules", "list"]) == 0
    assert signal.getsignal(signal.SIGTERM) is before
    capsys.readouterr()
