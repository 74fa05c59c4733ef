"""Time a scan of synthetic estates and report its peak memory, next to a bare ``json`` parse.

    python bench/scan_bench.py [--sizes 1000 10000 100000] [--repeat 3] [--rules DIR]

For each N, the estate is generated into ``bench/out/`` (gitignored) if it is not there yet,
once in parent-first order with the snapshot header (a streamed scan) and once shuffled without
it (a buffered scan). Each measurement runs in its own child process (fork and exec),
reaped with :func:`os.wait4`, whose resource usage gives that child's own peak RSS
(``ru_maxrss``); heavy work (generating, checking reports) runs in children too.

Measured, best wall time of ``--repeat`` runs (peak RSS: the highest of the runs):

* parse: ``for line in f: json.loads(line)`` over the parent-first file;
* scan: ``python -m policyengine scan FILE --format json`` with the report going to
  /dev/null as standard output (before 182d73d, ``--output /dev/null`` wrote
  ``/dev/null.partial`` and renamed it over the device);
* buffered scan: the same scan of the shuffled file;
* plain scan: the same scan of the parent-first file without its snapshot header (what
  ``az graph query`` or any other tool writes: ``estate-N-seedS-plain.ndjson``, made here from
  the parent-first file).

Each figure is printed next to its goal (docs/architecture.md, "Bars"): a scan at most
:data:`SCAN_GOAL` times the bare parse, and the peak RSS at the largest N at most
:data:`MEMORY_GOAL` times that at 10^4, for every input order.

Nothing is subtracted; the start-up of ``python -c pass`` and ``python -m policyengine
--version`` is reported on its own line. After timing, each scan runs once more writing its
report to a file, which ``check_report.py`` reads as a stream: valid JSON, one finding per
resource and applicable rule, and the same verdicts from the streamed and the buffered scan.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.compiled import compile_package

BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable
PARSE = ("import json, sys\n"
         "with open(sys.argv[1], encoding='utf-8') as f:\n"
         "    for line in f:\n"
         "        json.loads(line)\n")
DEFAULT_SIZES = (1000, 10000, 100000)
#: Goals: the whole scan, report included, at most this many times the bare parse ...
SCAN_GOAL = 2.0
#: ... and the peak RSS at the largest N at most this many times the peak at MEMORY_BASE.
MEMORY_GOAL = 1.5
MEMORY_BASE = 10000
#: Where the figures, what was tried for a goal not met and the next step are written down.
NEXT_STEPS = "docs/performance.md"
#: The inputs of one N: the result key of each and how the goals name it.
ORDERS = (("scan", "with header"), ("plain", "plain parent-first"), ("buffered", "shuffled"))


class BenchError(Exception):
    """A child process failed; the message carries its command and standard error."""


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu: float
    rss_mb: float
    exit_code: int


@dataclass
class Best:
    """Best time and highest peak RSS over the repeated runs of one command."""

    seconds: float = float("inf")
    cpu: float = float("inf")
    rss_mb: float = 0.0
    runs: list[float] = field(default_factory=list)

    def add(self, run: Run) -> None:
        self.seconds = min(self.seconds, run.seconds)
        self.cpu = min(self.cpu, run.cpu)
        self.rss_mb = max(self.rss_mb, run.rss_mb)
        self.runs.append(round(run.seconds, 3))


def spawn(argv: list[str], *, ok_codes: tuple[int, ...] = (0,),
          stdout: str = os.devnull) -> Run:
    """Run ``argv`` with ``stdout`` as its standard output; its wall time, CPU time and own
    peak RSS. Raise :class:`BenchError` on an exit code not in ``ok_codes``.

    A plain fork then exec, not ``posix_spawn`` or :mod:`subprocess`: those use vfork, and a
    vforked child that execs starts with its parent's RSS high-water mark as its own
    ``ru_maxrss`` (Linux records the old address space's peak at exec). After a fork the
    child's peak is its own."""
    with tempfile.TemporaryFile() as err, open(os.devnull, "rb") as null_in, \
            open(stdout, "wb") as out:
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # the child: only async-signal-safe work until exec
            try:
                os.dup2(null_in.fileno(), 0)
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        _, status, usage = os.wait4(pid, 0)
        elapsed = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code not in ok_codes:
            err.seek(0)
            tail = err.read()[-4000:].decode("utf-8", "replace")
            raise BenchError(f"exit code {code}: {shlex.join(argv)}\n{tail}")
    # ru_maxrss is in KiB on Linux.
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code)


def estate(n: int, seed: int, out_dir: Path, *, shuffled: bool) -> tuple[Path, dict[str, Any]]:
    """The generated file for N (generating it, in a child process, if absent) and its
    manifest."""
    path = out_dir / f"estate-{n}-seed{seed}{'-shuffled' if shuffled else ''}.ndjson"
    manifest_file = path.with_name(path.name + ".manifest.json")
    if path.exists() and manifest_file.exists():
        manifest: dict[str, Any] = json.loads(manifest_file.read_text(encoding="utf-8"))
        if (manifest.get("bytes") == path.stat().st_size
                and manifest.get("generator") == generator_version()):
            return path, manifest
    print(f"generating {path} ...", file=sys.stderr, flush=True)
    argv = [PYTHON, str(BENCH / "gen_estate.py"), str(n), str(path), "--seed", str(seed)]
    spawn(argv + (["--shuffle"] if shuffled else []))
    return path, json.loads(manifest_file.read_text(encoding="utf-8"))


def plain(ordered: Path, manifest: dict[str, Any]) -> Path:
    """The parent-first file without its snapshot header line (written once, next to it)."""
    path = ordered.with_name(ordered.name.replace(".ndjson", "-plain.ndjson"))
    size = manifest["bytes"]
    if path.exists() and path.stat().st_mtime >= ordered.stat().st_mtime and path.stat().st_size < size:
        return path
    print(f"writing {path} ...", file=sys.stderr, flush=True)
    with open(ordered, "rb") as source, open(path.with_suffix(".tmp"), "wb") as out:
        first = source.readline()
        if b'"$policyengine"' not in first:
            out.write(first)
        while chunk := source.read(1 << 20):
            out.write(chunk)
    path.with_suffix(".tmp").replace(path)
    return path


def generator_version() -> str:
    """As gen_estate.generator_version (not imported: bench/ is not a package)."""
    return hashlib.sha256((BENCH / "gen_estate.py").read_bytes()).hexdigest()[:16]


def scan_argv(path: Path, rule_args: list[str], output: Path | None = None) -> list[str]:
    argv = [PYTHON, "-m", "policyengine", "scan", str(path), "--format", "json", *rule_args]
    return argv + (["--output", str(output)] if output else [])


SCAN_CODES = (0, 1)  # 1: findings at or above --fail-on, as the estate is meant to have


def measure_size(n: int, args: argparse.Namespace, rule_args: list[str]) -> dict[str, Any]:
    out_dir: Path = args.out_dir
    ordered, manifest = estate(n, args.seed, out_dir, shuffled=False)
    buffered = n <= args.buffered_max
    shuffled = estate(n, args.seed, out_dir, shuffled=True)[0] if buffered else None
    headless = plain(ordered, manifest) if not args.no_plain else None
    parse, scan, bscan, pscan = Best(), Best(), Best(), Best()
    for i in range(args.repeat):
        print(f"N={n}: run {i + 1}/{args.repeat}", file=sys.stderr, flush=True)
        parse.add(spawn([PYTHON, "-c", PARSE, str(ordered)]))
        scan.add(spawn(scan_argv(ordered, rule_args), ok_codes=SCAN_CODES))
        if shuffled is not None:
            bscan.add(spawn(scan_argv(shuffled, rule_args), ok_codes=SCAN_CODES))
        if headless is not None:
            pscan.add(spawn(scan_argv(headless, rule_args), ok_codes=SCAN_CODES))
    result: dict[str, Any] = {
        "n": n,
        "file": str(ordered),
        "mb": manifest["bytes"] / 1e6,
        "rows": manifest["rows"],
        "parse": asdict(parse),
        "scan": asdict(scan),
        "buffered": asdict(bscan) if shuffled is not None else None,
        "plain": asdict(pscan) if headless is not None else None,
    }
    if not args.no_verify:
        result["check"] = verify(ordered, shuffled, rule_args, args.rules_dirs, headless)
    return result


def verify(ordered: Path, shuffled: Path | None, rule_args: list[str],
           rule_dirs: list[Path], headless: Path | None = None) -> dict[str, Any]:
    """Scan once more into report files and check them in a child process (so this process
    stays small and its children's peak RSS clean)."""
    with tempfile.TemporaryDirectory(prefix="scan-bench-") as tmp:
        report = Path(tmp) / "streamed.json"
        spawn(scan_argv(ordered, rule_args, report), ok_codes=SCAN_CODES)
        argv = [PYTHON, str(BENCH / "check_report.py"), str(report),
                str(ordered.with_name(ordered.name + ".manifest.json"))]
        argv += [f"--rules={d}" for d in rule_dirs]
        if shuffled is not None:
            other = Path(tmp) / "buffered.json"
            spawn(scan_argv(shuffled, rule_args, other), ok_codes=SCAN_CODES)
            argv.append(f"--compare={other}")
        result = run_check(argv, Path(tmp) / "check.json")
        if shuffled is not None:
            # The buffered report on its own (the comparison above covers its verdicts).
            argv[2], argv[-1] = str(other), f"--compare={report}"
            buffered = run_check(argv, Path(tmp) / "check.json")
            result["problems"] += [f"buffered: {p}" for p in buffered["problems"]]
            result["ok"] = result["ok"] and buffered["ok"]
        if headless is not None:
            # The plain file's report: valid, complete, and the streamed report's verdicts.
            other = Path(tmp) / "plain.json"
            spawn(scan_argv(headless, rule_args, other), ok_codes=SCAN_CODES)
            argv[2] = str(other)
            argv = [a for a in argv if not a.startswith("--compare=")] + [f"--compare={report}"]
            checked = run_check(argv, Path(tmp) / "check.json")
            result["problems"] += [f"plain: {p}" for p in checked["problems"]]
            result["ok"] = result["ok"] and checked["ok"]
        return result


def run_check(argv: list[str], out: Path) -> dict[str, Any]:
    """Run check_report.py; its JSON verdict (exit code 1: problems found, listed in it)."""
    spawn(argv, ok_codes=(0, 1), stdout=str(out))
    try:
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    except ValueError:
        raise BenchError(f"no result from {shlex.join(argv)}") from None
    return result


def startup(repeat: int) -> dict[str, Any]:
    bare, cli = Best(), Best()
    for _ in range(repeat):
        bare.add(spawn([PYTHON, "-c", "pass"]))
        cli.add(spawn([PYTHON, "-m", "policyengine", "--version"]))
    return {"python": asdict(bare), "policyengine": asdict(cli)}


def table(results: list[dict[str, Any]]) -> str:
    head = ("N", "file MB", "rows", "parse s", "scan s", "scan/parse", "scan RSS MB",
            "parse RSS MB", "buffered s", "buffered/parse", "buffered RSS MB", "plain s",
            "plain/parse", "plain RSS MB")
    lines = []
    for r in results:
        parse = r["parse"]["seconds"]
        row = [f"{r['n']}", f"{r['mb']:.1f}", f"{r['rows']}", f"{parse:.2f}"]
        for key in ("scan", "buffered", "plain"):
            got = r.get(key)
            row += ([f"{got['seconds']:.2f}", f"{got['seconds'] / parse:.2f}", f"{got['rss_mb']:.1f}"]
                    if got else ["-", "-", "-"])
            if key == "scan":
                row.append(f"{r['parse']['rss_mb']:.1f}")
        lines.append(tuple(row))
    widths = [max(len(h), *(len(row[i]) for row in lines)) for i, h in enumerate(head)]
    fmt = " | ".join(f"{{:>{w}}}" for w in widths)
    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([fmt.format(*head), rule, *(fmt.format(*row) for row in lines)])


def goals(results: list[dict[str, Any]]) -> list[str]:
    """Each figure next to its goal: scan/parse at every N, and the peak RSS at the largest
    N against that at MEMORY_BASE, for each input order measured."""
    lines = []
    for r in results:
        parse = r["parse"]["seconds"]
        for key, label in ORDERS:
            got = r.get(key)
            if got:
                ratio = got["seconds"] / parse
                lines.append(f"goal N={r['n']} {label}: scan {ratio:.2f}x the bare parse "
                             f"(goal <= {SCAN_GOAL:g}x): {'met' if ratio <= SCAN_GOAL else 'NOT met'}")
    base = next((r for r in results if r["n"] == MEMORY_BASE), None)
    top = max(results, key=lambda r: r["n"])
    if base is not None and top is not base:
        for key, label in ORDERS:
            low, high = base.get(key), top.get(key)
            if low and high:
                ratio = high["rss_mb"] / low["rss_mb"]
                lines.append(f"goal memory {label}: peak {high['rss_mb']:.1f} MB at N={top['n']} is "
                             f"{ratio:.2f}x {low['rss_mb']:.1f} MB at N={MEMORY_BASE} (goal <= "
                             f"{MEMORY_GOAL:g}x): {'met' if ratio <= MEMORY_GOAL else 'NOT met'}")
    if any(line.endswith("NOT met") for line in lines):
        lines.append(f"a goal not met: what was tried and the next step are in {NEXT_STEPS}")
    return lines


def revision() -> str:
    """The commit of the working tree measured, marked ``+dirty`` if it has changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BENCH, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "policyengine", "rules"],
                               cwd=BENCH.parent, text=True, capture_output=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def parse_sizes(values: list[str]) -> list[int]:
    sizes = []
    for value in values:
        for part in value.split(","):
            if part.strip():
                sizes.append(int(float(part)))  # 1e5 works too
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time a policyengine scan against a bare json parse, with peak RSS.")
    parser.add_argument("--sizes", nargs="+", default=[str(n) for n in DEFAULT_SIZES],
                        metavar="N", help="numbers of servers (e.g. 1000 1e4,1e5)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best time)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out-dir", type=Path, default=BENCH / "out")
    parser.add_argument("--buffered-max", type=int, default=100000, metavar="N",
                        help="scan the shuffled file (buffered mode) up to this N")
    parser.add_argument("--rules", dest="rules_dirs", type=Path, action="append", default=[],
                        metavar="DIR", help="extra rules for the scan (policyengine --rules)")
    parser.add_argument("--no-verify", action="store_true", help="skip the report checks")
    parser.add_argument("--no-plain", action="store_true",
                        help="skip the parent-first file without its header")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write the results here (default OUT_DIR/results.json)")
    args = parser.parse_args(argv)
    compile_package()  # as an installed package is: see bench/compiled.py
    rule_args = [f"--rules={d}" for d in args.rules_dirs]
    sizes = parse_sizes(args.sizes)
    try:
        start = startup(args.repeat)
        results = [measure_size(n, args, rule_args) for n in sizes]
    except BenchError as exc:
        print(f"scan_bench: {exc}", file=sys.stderr)
        return 2
    print(table(results))
    print("\n".join(goals(results)))
    print(f"start-up (best of {args.repeat}, included above): "
          f"python -c pass {start['python']['seconds']:.3f} s / "
          f"{start['python']['rss_mb']:.1f} MB; "
          f"python -m policyengine --version {start['policyengine']['seconds']:.3f} s / "
          f"{start['policyengine']['rss_mb']:.1f} MB")
    checked = [r["check"] for r in results if r.get("check")]
    rules = sorted(checked[0]["verdicts"]) if checked else []
    extra = f" + {' '.join(str(d) for d in args.rules_dirs)}" if rule_args else ""
    listed = f": {len(rules)} ({', '.join(rules)})" if rules else ""
    print(f"rules: bundled{extra}{listed}; "
          f"code: {revision()}; {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    failed = False
    for r in results:
        check = r.get("check")
        if check is None:
            continue
        verdicts = verdict_totals(check["verdicts"])
        both = " (streamed and buffered agree)" if r["buffered"] else ""
        status = "ok" if check["ok"] else "FAILED"
        print(f"check N={r['n']}: {status}: {check['findings']} findings = "
              f"{check['expected']} expected{both}; report {check['bytes'] / 1e6:.1f} MB; "
              + ", ".join(f"{v} {c}" for v, c in verdicts.items()))
        for problem in check["problems"]:
            print(f"  {problem}")
        failed = failed or not check["ok"]
    out = args.json or args.out_dir / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"startup": start, "sizes": results, "code": revision(),
                               "rules": [str(d) for d in args.rules_dirs],
                               "cpus": os.cpu_count(), "python": sys.version.split()[0]},
                              indent=1) + "\n", encoding="utf-8")
    return 1 if failed else 0


def verdict_totals(by_rule: dict[str, dict[str, int]]) -> dict[str, int]:
    """Verdict counts over all rules."""
    total: dict[str, int] = {}
    for counts in by_rule.values():
        for verdict, count in counts.items():
            total[verdict] = total.get(verdict, 0) + count
    return dict(sorted(total.items()))


if __name__ == "__main__":
    sys.exit(main())
