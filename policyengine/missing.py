"""Data the rules read that the input did not hold, said out loud.

An export without server parameters or ATP settings leaves the rules that read them
``unknown`` on every server: correct, but a user who sees "0 fail" may take it for a pass.
:class:`MissingData` tallies, while findings stream past, which related data was absent
from the input (Azure always has it) and for how many resources, and names the one
command that would collect it: ``policyengine collect --azure``, which reads what Resource
Graph cannot see from ARM (docs/architecture.md, "Missing data").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from policyengine.evaluator.evaluate import missing_type
from policyengine.findings import Finding, Verdict
from policyengine.records.model import subscription_of
from policyengine.status import Missing

#: What people call the related data the bundled rules read, by lower-case type suffix.
_NAMES = {
    "flexibleservers/configurations": "server parameters (flexibleServers/configurations)",
    "flexibleservers/advancedthreatprotectionsettings":
        "threat protection settings (flexibleServers/advancedThreatProtectionSettings)",
    "servers/securityalertpolicies": "threat detection policies (servers/securityAlertPolicies)",
    "servers/configurations": "server parameters (servers/configurations)",
    "pricings": "Defender plans (Microsoft.Security/pricings)",
}
#: Subscriptions named in the suggested command; more are left to a management group.
MAX_NAMED = 5


@dataclass
class _Tally:
    #: Resources counted, and the last one: a resource's findings come one after another, so
    #: counting changes of resource counts each once without keeping every id (flat memory).
    resources: int = 0
    last: str = ""
    rules: set[str] = field(default_factory=set)


class MissingData:
    """Feed it every finding (:meth:`add`); :meth:`result` says what was missing."""

    def __init__(self) -> None:
        self.by_type: dict[str, _Tally] = {}
        self.subscriptions: set[str] = set()

    def add(self, finding: Finding) -> None:
        if finding.verdict is not Verdict.UNKNOWN:
            return
        for evidence in finding.evidence:
            related = missing_type(evidence.note)
            if related is None:
                continue
            tally = self.by_type.get(related.lower())
            if tally is None:
                tally = self.by_type[related.lower()] = _Tally()
            if finding.resource_id != tally.last:
                tally.last = finding.resource_id
                tally.resources += 1
            tally.rules.add(finding.rule.id)
            subscription = subscription_of(finding.resource_id)
            if subscription:
                self.subscriptions.add(subscription.lower())

    def result(self) -> list[Missing]:
        """Each kind of data missing, with the one command that collects everything missing
        (one collection of the subscriptions concerned reads every kind at once)."""
        command = collect_command(self.subscriptions)
        return [Missing(_NAMES.get(rtype, rtype), tally.resources, tuple(sorted(tally.rules)), command)
                for rtype, tally in sorted(self.by_type.items())]

    def lines(self, width: int = 80) -> list[str]:
        """What to print on stderr, at most ``width`` wide where it can be: each kind of data
        missing, then one command for all (broken where a shell joins it again)."""
        from policyengine.reports.layout import wrap, wrap_command

        if not self.by_type:
            return []
        out = wrap("policyengine: the input lacks data the rules read, so these verdicts are unknown:", width)
        for m in self.result():
            out += wrap(f"{m.what}: {m.resources} resource(s), {', '.join(m.rules)}", width, "  ", "    ")
        out.append("  to collect it:")
        out += wrap_command(collect_command(self.subscriptions), width, "    ", "      ")
        return out


def collect_command(subscriptions: set[str]) -> str:
    """``policyengine collect`` for these subscriptions, then the scan of what it wrote."""
    named = sorted(subscriptions)
    scope = " ".join(f"--subscription {s}" for s in named[:MAX_NAMED])
    if len(named) > MAX_NAMED or not named:
        scope = "--management-group <group>" if named else ""
    command = f"policyengine collect --azure {scope} -o snapshot.ndjson".replace("  ", " ")
    return f"{command} && policyengine scan snapshot.ndjson"
