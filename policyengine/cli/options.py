"""Command-line options shared by several commands."""

from __future__ import annotations

import argparse

from policyengine.sources.azure.auth import AUTH_MODES, CLOUDS


def add_azure_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("live Azure (--azure)")
    group.add_argument("--azure", action="store_true", help="scan live Azure instead of files")
    group.add_argument("--subscription", metavar="ID", action="append", default=[],
                       help="a subscription to scan; repeatable (default: every one the identity can read)")
    group.add_argument("--management-group", metavar="ID", help="scan a management group")
    # Choices named in the help, not the usage line: listed there they made it wider than
    # 80 columns.
    group.add_argument("--auth", choices=AUTH_MODES, default="default", metavar="MODE",
                       help=f"how to sign in: {', '.join(AUTH_MODES)} (default: DefaultAzureCredential); "
                       "a token in POLICYENGINE_ACCESS_TOKEN is used as is")
    group.add_argument("--cloud", choices=tuple(CLOUDS), default="AzureCloud", metavar="CLOUD",
                       help=f"the national cloud: {', '.join(CLOUDS)} (default AzureCloud; the sign-in "
                       "authority can be set with AZURE_AUTHORITY_HOST)")
    group.add_argument("--arm-endpoint", metavar="URL",
                       help="another ARM endpoint (also POLICYENGINE_ARM_ENDPOINT)")
    group.add_argument("--concurrency", type=int, default=8, metavar="N",
                       help="ARM reads in flight at once (default 8)")
    group.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                       help="how long one request may take (default 60)")
    group.add_argument("--allow-incomplete", action="store_true",
                       help="exit by the findings even if part of the estate could not be read")
    group.add_argument("--no-progress", action="store_true",
                       help="no progress line on stderr (it is drawn only when stderr is a terminal)")
    group.add_argument("-v", "--verbose", action="store_true",
                       help="on stderr: files skipped and notes on templates; "
                       "requests, quota and timings of a live scan")
