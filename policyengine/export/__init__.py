"""Rules in other policy languages. ``azure_policy``: Azure Policy definitions, a back end
beside the KQL compiler and the Python evaluator that reads the same IR and reports what it
cannot express instead of exporting a weaker policy."""

from __future__ import annotations

from policyengine.export.azure_policy import Definition, Diagnostic, Effect, Export, export_rule, export_rules

__all__ = ["Definition", "Diagnostic", "Effect", "Export", "export_rule", "export_rules"]
