"""The console entry point's last resort: a bug is one line and exit 3, never a traceback,
unless POLICYENGINE_DEBUG asks for it. (A bug cannot be produced on purpose, so ``main`` is
replaced by one that raises.)"""

from __future__ import annotations

import pytest

from policyengine import cli


def _bug(argv: object = None) -> int:
    raise RuntimeError("boom \x1b[2J")


def test_a_bug_is_one_line_and_exit_3(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "main", _bug)
    monkeypatch.delenv("POLICYENGINE_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exited:
        cli.run()
    assert exited.value.code == 3
    err = capsys.readouterr().err
    assert err.startswith("policyengine: internal error, a bug in policyengine (RuntimeError: boom \\x1b[2J)")
    assert "\x1b" not in err and err.count("\n") == 1


def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "main", _bug)
    monkeypatch.setenv("POLICYENGINE_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        cli.run()
