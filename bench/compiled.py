"""Byte-compile the package before timing it.

``pip install`` writes every module's bytecode; an editable install (or an environment with
``PYTHONDONTWRITEBYTECODE``, as some CI images set) leaves a changed module to be compiled
again on every run, which a benchmark would count as the scan's time (about 50 ms of a
template scan). :mod:`compileall` writes the ``.pyc`` files whatever that variable says.
"""

from __future__ import annotations

import argparse
import compileall
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "policyengine"
OUT = Path(__file__).resolve().parent / "out"


def compile_package() -> None:
    """Bring every ``.pyc`` of the package up to date (quietly; a failure is the tests' to report)."""
    compileall.compile_dir(str(PACKAGE), quiet=2)


def bench_arguments(description: str | None, sizes: str, default: list[int]) -> argparse.Namespace:
    """A template benchmark's command line (``--SIZES N...``, ``--repeat``), parsed; then the
    package compiled and ``bench/out`` made, ready to time."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(f"--{sizes}", type=int, nargs="+", default=default)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    compile_package()
    OUT.mkdir(exist_ok=True)
    return args
