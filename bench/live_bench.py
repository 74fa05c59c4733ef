"""A live scan against the loopback fake Azure: requests made, wall time and peak memory.

    python bench/live_bench.py [--servers 10000] [--subscriptions 500] [--arm-latency 0.02]
                               [--graph-latency 0.1] [--concurrency 8]

The estate comes from ``gen_estate.py`` (servers with their children, pricings). The fake
Azure (``tests/azurefake``) serves it over HTTPS on 127.0.0.1 with the given latency per
request; ``python -m policyengine scan --azure`` runs in a child process, the real Azure SDK
clients talking to the fake. Its peak memory is the kernel's high-water mark of the scan
(``VmHWM`` in ``/proc/PID/status``, read every 0.1 s): not ``ru_maxrss``, which a child keeps
from before its ``exec`` and so would count this process, which holds the whole estate.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.gen_estate import generate  # noqa: E402
from tests.azurefake.server import TOKEN, Estate, FakeAzure  # noqa: E402


def _high_water_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--subscriptions", type=int, default=500)
    parser.add_argument("--arm-latency", type=float, default=0.02, help="seconds per ARM request")
    parser.add_argument("--graph-latency", type=float, default=0.1, help="seconds per ARG request")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)

    out = HERE / "out" / f"live-{args.servers}-{args.subscriptions}.ndjson"
    out.parent.mkdir(exist_ok=True)
    if not out.exists():
        generate(args.servers, out, subscriptions=args.subscriptions)
    with out.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if '"$policyengine"' not in line[:20]]
    estate = Estate.from_rows(rows)
    del rows
    with FakeAzure(estate, delay=args.arm_latency, graph_delay=args.graph_latency, quota=10_000) as fake:
        env = dict(os.environ, POLICYENGINE_ACCESS_TOKEN=TOKEN, POLICYENGINE_ARM_ENDPOINT=fake.endpoint,
                   REQUESTS_CA_BUNDLE=fake.ca_bundle)
        argv_scan = [sys.executable, "-m", "policyengine", "scan", "--azure", "--format", "json",
                     "--concurrency", str(args.concurrency), "--quiet", "--allow-incomplete"]
        started = time.monotonic()
        child = subprocess.Popen(argv_scan, env=env, stdout=subprocess.DEVNULL)
        peak_kb = 0
        while child.poll() is None:
            peak_kb = max(peak_kb, _high_water_kb(child.pid))
            time.sleep(0.1)
        wall = time.monotonic() - started
        graph = fake.count("POST", "resourcegraph")
        arm = len(fake.requests) - graph
    code = child.returncode
    print(f"servers {args.servers}, subscriptions {args.subscriptions}, latency ARM "
          f"{args.arm_latency * 1000:.0f} ms / ARG {args.graph_latency * 1000:.0f} ms, "
          f"concurrency {args.concurrency}")
    print(f"exit {code}; {graph} Resource Graph requests, {arm} ARM requests; "
          f"wall {wall:.1f} s; scan peak RSS {peak_kb / 1024:.0f} MB")
    return 0 if code in (0, 1) else code


if __name__ == "__main__":
    raise SystemExit(main())
