"""``policyengine scan``: parse, merge the configuration, and hand over to the pipeline."""

from __future__ import annotations

import argparse

from policyengine.pipeline import ScanOptions, load_scan_config, run


def run_scan(args: argparse.Namespace) -> int:
    return run(ScanOptions.from_args(args, load_scan_config(args)))
