"""Every command the parser offers has a function to run, and every one loads."""

from __future__ import annotations

import importlib

from policyengine.cli import COMMANDS, build_parser


def test_every_command_has_a_runner() -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)  # type: ignore[arg-type]
    for module, function in COMMANDS.values():
        assert callable(getattr(importlib.import_module(f"policyengine.cli.{module}"), function))
