"""Templates, Bicep files and plans judged on every core.

Each file of a pre-deployment scan is expanded on its own (``DeclaredSource``), so a folder of
many files splits without any merging of resources: worker processes expand and evaluate runs
of consecutive files, and the scan takes their findings in file order, as one process would
give them, while it writes the reports (docs/architecture.md, "Sources").

Workers are forked (they inherit the loaded rules and nothing is re-imported), each with its
own share of the files and its own pipe back; a finding comes back pickled and gets the scan's
own rule object again. What each worker noted about its files (counts, notes, input errors) is
added to the scan's log in the same order. Below :data:`MIN_FILES` files, with one core, or
with ``POLICYENGINE_JOBS=1``, the scan stays in one process; likewise off Linux, where ``fork``
is either absent (Windows) or not safe with every system library (macOS, whose default is
``spawn``: https://docs.python.org/3/library/multiprocessing.html#contexts-and-start-methods),
and in a process that runs other threads (only the forking thread lives on in the child, and
a lock one of the others held stays locked there; the command line runs none for templates).
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING

from policyengine.evaluator import RuleIndex, evaluate_records
from policyengine.findings import Finding
from policyengine.status import Stats

if TYPE_CHECKING:
    from policyengine.sources import DeclaredSource
    from policyengine.sources.declared import Target, TemplateOptions

#: Fewer files than this are judged in the scan's own process: starting workers costs more.
MIN_FILES = 64
#: Files a worker takes at a time: enough to outweigh sending them, few enough to share out.
CHUNK = 32
JOBS_ENV = "POLICYENGINE_JOBS"



def jobs() -> int:
    """How many worker processes: ``POLICYENGINE_JOBS`` if set, else the cores this process
    may use."""
    given = os.environ.get(JOBS_ENV, "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def judged(source: DeclaredSource, index: RuleIndex, log: Stats) -> Iterator[Finding]:
    """Every finding of ``source``'s files, in file order; on several cores when it pays."""
    workers = min(jobs(), len(source.targets) // CHUNK + 1)
    if (workers < 2 or len(source.targets) < MIN_FILES or not sys.platform.startswith("linux")
            or threading.active_count() > 1):  # a forked child of a threaded process may deadlock
        yield from evaluate_records(index, source.records(index.wanted(), log))
        return
    from policyengine.sources.declared import check_options

    check_options(source.targets, source.options)  # bad usage is said once, here
    rules = {rule.id: rule for rule in index.rules}
    chunks = [source.targets[at:at + CHUNK] for at in range(0, len(source.targets), CHUNK)]
    crew = _Crew(workers, chunks, index, source.options)
    try:
        for number in range(len(chunks)):
            findings, part = crew.result(number)
            _merge(log, part)
            for finding in findings:
                yield dataclasses.replace(finding, rule=rules[finding.rule.id])
    finally:
        crew.stop()


class _Crew:
    """Worker processes, each with its own share of the chunks (chunk i goes to worker
    i mod n) and its own pipe back: no queue or lock is shared, so a worker that dies (a
    signal to the whole process group) cannot leave the scan waiting on a lock it held.
    A worker sends its chunks' results in order and blocks until the scan takes them."""

    def __init__(self, workers: int, chunks: Sequence[Sequence[Target]], index: RuleIndex,
                 options: TemplateOptions) -> None:
        context = multiprocessing.get_context("fork")
        sys.stdout.flush()  # a forked child must not write out what the scan had buffered
        sys.stderr.flush()
        self.pipes: list[Connection] = []
        self.processes: list[BaseProcess] = []
        try:
            for number in range(workers):
                reader, writer = context.Pipe(duplex=False)
                share = list(chunks[number::workers])
                process = context.Process(target=_work, args=(writer, share, index, options), daemon=True)
                process.start()
                writer.close()
                self.pipes.append(reader)
                self.processes.append(process)
        except BaseException:
            self.stop()
            raise

    def result(self, number: int) -> tuple[list[Finding], Stats]:
        """The findings and log of chunk ``number`` (chunks are asked for in order)."""
        try:
            status, payload = self.pipes[number % len(self.pipes)].recv()
        except EOFError:
            raise RuntimeError("a worker process judging templates ended without its result") from None
        if status != "ok":
            raise RuntimeError(f"a worker process judging templates failed: {payload}")
        return payload  # type: ignore[no-any-return]

    def stop(self) -> None:
        """End every worker (at once if it is still working) and wait for it."""
        for process in self.processes:
            if process.is_alive():
                process.terminate()  # SIGTERM, which a worker does not catch
        for process in self.processes:
            process.join()
        for pipe in self.pipes:
            pipe.close()


def _work(pipe: Connection, chunks: Sequence[Sequence[Target]], index: RuleIndex,
          options: TemplateOptions) -> None:
    """In a worker: judge each chunk and send its findings and log, in order."""
    from policyengine.sources import DeclaredSource

    # Dies of SIGTERM at once, as a process should (the scan's handler would raise wherever
    # the worker is); Ctrl-C reaches the whole process group, and the scan stops its workers.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for chunk in chunks:
            log = Stats()
            found = list(evaluate_records(index, DeclaredSource(chunk, options).records(index.wanted(), log)))
            pipe.send(("ok", (found, log)))
    except Exception as exc:  # a bug: told to the scan, which reports it as one
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        pipe.close()


def _merge(log: Stats, part: Stats) -> None:
    """A worker's counts, notes and input errors, added as if one process had read its files."""
    log.rows += part.rows
    log.resources.update(part.resources)
    log.ignored.update(part.ignored)
    log.orphans += part.orphans
    log.notes += part.notes
    log.errors += part.errors
