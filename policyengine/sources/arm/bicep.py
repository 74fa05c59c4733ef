"""Bicep files, compiled to ARM JSON by the Bicep CLI (or ``az bicep``) when one is installed.

https://learn.microsoft.com/azure/azure-resource-manager/bicep/bicep-cli#build
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from policyengine.errors import InputError, Span

TIMEOUT = 300


def compiler() -> list[str] | None:
    """The command that compiles a Bicep file to stdout, or None if none is installed."""
    bicep = shutil.which("bicep")
    if bicep:
        return [bicep, "build", "--stdout"]
    az = shutil.which("az")
    if az:
        return [az, "bicep", "build", "--stdout", "--file"]
    return None


def build(path: Path, shown: str) -> str:
    """The ARM JSON that ``path`` compiles to; :class:`InputError` with Bicep's own
    diagnostics if it does not compile, or a way forward if no compiler is installed."""
    command = compiler()
    if command is None:
        compiled = path.with_suffix(".json").name
        raise InputError("scanning a .bicep file needs the Bicep CLI, and neither `bicep` nor `az` is on "
                         "PATH: install it (https://aka.ms/bicep-install, or `az bicep install`), or compile "
                         f"the file where it is installed (`az bicep build --file {shown}` or `bicep build "
                         f"{shown}` writes {compiled} beside it) and scan that JSON", Span(shown))
    try:
        done = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired:
        raise InputError(f"the Bicep build took longer than {TIMEOUT} s", Span(shown)) from None
    except OSError as exc:
        raise InputError(f"cannot run {command[0]}: {exc.strerror or exc}", Span(shown)) from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip() or f"exit code {done.returncode}"
        raise InputError(f"the Bicep build failed:\n{detail}", Span(shown))
    return done.stdout
