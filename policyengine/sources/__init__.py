"""Where records come from. Every kind of input is a :class:`Source`: it yields records and
reports what it could not read into the scan's log (:class:`~policyengine.records.assemble.Stats`),
as notes and as input errors located at ``file:line:col``. An error takes out only the file,
row or resource that has it; the source goes on with the rest (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from policyengine.errors import InputError
from policyengine.status import InputProblem, ScanStatus

if TYPE_CHECKING:
    from policyengine.records.model import Record
    from policyengine.records.wanted import Wanted
    from policyengine.sources.declared import Target, TemplateOptions
    from policyengine.sources.export import Input
    from policyengine.status import Stats


class Source(Protocol):
    """One input of a scan (or several that must be read together, as exports are)."""

    #: The names of the inputs, as the report lists them.
    names: tuple[str, ...]

    def records(self, wanted: Wanted, log: Stats) -> Iterator[Record]:
        """Every record of the input; what cannot be read goes to ``log``."""
        ...

    def status(self) -> ScanStatus:
        """What the source could not see (called once its records are exhausted)."""
        ...


@dataclass
class ExportSource:
    """Resource Graph exports, snapshots and ARM listings, read together: a pricing in one
    file applies to the servers of another."""

    inputs: Sequence[Input]
    #: Files that could not even be opened (each an input error of its own).
    problems: list[InputProblem] = field(default_factory=list)
    #: How rows without a parent-first header are read: ``buffered`` (in memory),
    #: ``optimistic`` or ``sorted`` (records/assemble.py, ``Order``).
    order: str = "buffered"
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.names = tuple(i.name for i in self.inputs)

    def records(self, wanted: Wanted, log: Stats) -> Iterator[Record]:
        from policyengine.records.assemble import Order, assemble

        log.errors += self.problems
        self.problems = []
        if self.inputs:
            yield from assemble(self.inputs, wanted, log, Order(self.order))

    def status(self) -> ScanStatus:
        """A snapshot's closing line says what its collection could not do."""
        snapshots = [i.header["status"] for i in self.inputs if isinstance(i.header.get("status"), dict)]
        if not snapshots:
            return ScanStatus("export")
        status = ScanStatus("snapshot")
        for part in snapshots:
            status.merge(ScanStatus.from_json(part))
        return status


@dataclass
class DeclaredSource:
    """Templates, Bicep files and Terraform plans: each file is expanded on its own, and one
    that cannot be read is an input error while the others are judged."""

    targets: Sequence[Target]
    options: TemplateOptions
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.names = tuple(t.shown for t in self.targets)

    def records(self, wanted: Wanted, log: Stats) -> Iterator[Record]:
        from policyengine.sources.declared import check_options, target_records

        check_options(self.targets, self.options)
        for target in self.targets:
            judged = 0
            try:
                for record in target_records(target, self.options, log):
                    log.rows += 1
                    # Counted by lower-case type, as export rows are: one line per type in a
                    # report, whichever casing each source spells it in.
                    ltype = record.type.lower()
                    kept = ltype in wanted.targets
                    judged += kept
                    (log.resources if kept else log.ignored)[ltype] += 1
                    yield record
            except InputError as exc:
                log.add_error(InputProblem.of(exc, file=target.shown))
            else:
                if not judged:  # read, and nothing in it for the rules: said, not silent
                    log.notes.append(f"{target.shown}: declares no resource the rules judge")

    def status(self) -> ScanStatus:
        return ScanStatus("pre-deployment")


def combined_status(sources: Sequence[Source]) -> ScanStatus:
    """One status for the scan: each source's, merged; ``mixed`` when the kinds differ."""
    parts = [s.status() for s in sources]
    kinds = {p.source for p in parts}
    status = ScanStatus(kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else "export"))
    for part in parts:
        status.merge(part)
    return status
