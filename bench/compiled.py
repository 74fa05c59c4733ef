"""Byte-compile the package before timing it.

``pip install`` writes every module's bytecode; an editable install (or an environment with
``PYTHONDONTWRITEBYTECODE``, as some CI images set) leaves a changed module to be compiled
again on every run, which a benchmark would count as the scan's time (about 50 ms of a
template scan). :mod:`compileall` writes the ``.pyc`` files whatever that variable says.
"""

from __future__ import annotations

import compileall
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "policyengine"


def compile_package() -> None:
    """Bring every ``.pyc`` of the package up to date (quietly; a failure is the tests' to report)."""
    compileall.compile_dir(str(PACKAGE), quiet=2)
