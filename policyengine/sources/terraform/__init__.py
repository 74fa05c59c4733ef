"""Terraform plans (``terraform show -json plan.out``) as records, so the bundled rules apply
to a plan unchanged.

Mapping (azurerm resource -> the ARM shape the rules read; the field tables are in
:mod:`.mapping`):

==================================================  ==============================================
azurerm resource                                    record
==================================================  ==============================================
``azurerm_postgresql_flexible_server``              ``Microsoft.DBforPostgreSQL/flexibleServers``:
                                                    ``sku`` from ``sku_name``, ``properties``
                                                    ``version``, ``network`` (public access,
                                                    delegated subnet, private DNS zone),
                                                    ``storage``, ``backup``, ``highAvailability``,
                                                    ``authConfig``, ``maintenanceWindow``
``azurerm_postgresql_flexible_server_configuration``  child ``configurations/<name>``
                                                    ``{properties: {value}}``, joined by ``server_id``
``azurerm_postgresql_server``                       ``Microsoft.DBforPostgreSQL/servers``:
                                                    ``sslEnforcement``, ``minimalTlsVersion``,
                                                    ``publicNetworkAccess``, ``storageProfile``;
                                                    ``threat_detection_policy`` -> child
                                                    ``securityAlertPolicies/Default``
``azurerm_postgresql_configuration``                child ``configurations/<name>``, joined by
                                                    ``server_name`` + ``resource_group_name``
``azurerm_security_center_subscription_pricing``    child ``Microsoft.Security/pricings/<resource_type>``
                                                    of the subscription record of its provider
                                                    configuration (``pricingTier``, ``subPlan``)
``azurerm_advanced_threat_protection``              on a server of the plan: its threat setting
                                                    becomes unknown (another API; see :mod:`.build`)
==================================================  ==============================================

Values known only after apply become :class:`~policyengine.unknown.Unknown` (``known after
apply``), sensitive ones too (and their value goes no further than the plan reader).
Deleted resources, deposed objects and data sources are not evaluated. Every record is
declared (:attr:`SourceKind.DECLARED`): a child the plan does not declare gets the platform
default, and a server whose provider declares no Defender pricing gets a subscription record
without children, so a rule reading the pricing says "not declared" rather than "not read".
"""

from __future__ import annotations

from typing import Any

from policyengine.sources.terraform.build import Builder, PlanResult
from policyengine.sources.terraform.plan import is_plan, read_plan

__all__ = ["PlanResult", "is_plan", "plan_records"]


def plan_records(doc: Any, file: str) -> PlanResult:
    """The records of a decoded ``terraform show -json`` document read from ``file``.

    Raises :class:`~policyengine.errors.InputError` (``file:line: path: message``) if
    ``doc`` is not a plan of a supported format version or has the wrong shape."""
    return Builder(read_plan(doc, file)).build()
