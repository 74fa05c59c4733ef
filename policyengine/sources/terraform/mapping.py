"""azurerm resource attributes -> the ARM shapes the rules read. Data, not code: each
:class:`Field` says which ARM path a Terraform attribute fills and how its value converts.

Sources, checked against the azurerm provider (its docs and the expand functions that build
the ARM request, which is what Azure ends up holding):

* ``azurerm_postgresql_flexible_server``:
  https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/resources/postgresql_flexible_server
  ``sku_name`` is ``<tier>_<name>`` (``GP_Standard_D2s_v3``): ``B``/``GP``/``MO`` are the ARM
  tiers Burstable/GeneralPurpose/MemoryOptimized and the rest is ``sku.name``
  (``expandFlexibleServerSku``); ``storage_mb`` is sent as ``storageSizeGB`` = MB / 1024.
* ``azurerm_postgresql_server`` (single server, retired 2025-03-28 but still in old plans):
  https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/resources/postgresql_server
  ``sku_name`` is ``<tier>_<family>_<capacity>`` (``GP_Gen5_4``; ``B`` is Basic:
  ``expandServerSkuName``). The ``threat_detection_policy`` block is the server's
  ``securityAlertPolicies/Default`` child; an unset ``enabled`` is sent as Disabled
  (``expandSecurityAlertPolicy`` reads the zero value). azurerm 1.x wrote ``ssl_enforcement``
  (``Enabled``/``Disabled``) and a ``sku`` block; both shapes are read.
* ``azurerm_postgresql_flexible_server_configuration`` / ``azurerm_postgresql_configuration``
  (``name``, ``value``): one server parameter, ``{parent}/configurations/{name}``.
* ``azurerm_postgresql_flexible_server_firewall_rule`` (``server_id``) /
  ``azurerm_postgresql_firewall_rule`` (``server_name``, ``resource_group_name``): ``name``,
  ``start_ip_address``, ``end_ip_address``, one firewall rule, ``{parent}/firewallRules/{name}``.
* ``azurerm_security_center_subscription_pricing`` (``tier``, ``resource_type``, ``subplan``):
  ``/subscriptions/{id}/providers/Microsoft.Security/pricings/{resource_type}``;
  https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/resources/security_center_subscription_pricing
  (deleting it resets the tier to Free).

* ``azurerm_security_center_contact`` (``email``, ``phone``, ``alert_notifications``,
  ``alerts_to_admins``, ``name`` default ``default1``): the subscription's security contact in
  the 2017-08-01-preview shape (``alertNotifications``/``alertsToAdmins`` ``On``/``Off``);
  https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/resources/security_center_contact

Sensitive attributes (passwords, the alert policy's storage key) are mapped nowhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from policyengine.paths import MISSING
from policyengine.unknown import Unknown

FLEXIBLE = "Microsoft.DBforPostgreSQL/flexibleServers"
SINGLE = "Microsoft.DBforPostgreSQL/servers"
PRICINGS = "Microsoft.Security/pricings"
CONTACTS = "Microsoft.Security/securityContacts"


class Malformed(Exception):
    """An attribute whose value the provider's schema does not allow (the caller adds where)."""


Convert = Callable[[Any], Any]


@dataclass(frozen=True)
class Field:
    """ARM path <- Terraform attribute path (``block[0].attr`` for a nested block)."""

    arm: tuple[str, ...]
    tf: tuple[str | int, ...]
    convert: Convert | None = None
    #: What the provider sends when the attribute is null (MISSING: nothing).
    absent: Any = MISSING


def field(arm: str, tf: str, convert: Convert | None = None, *, absent: Any = MISSING) -> Field:
    steps: list[str | int] = []
    for part in tf.split("."):
        name, _, index = part.partition("[")
        steps.append(name)
        if index:
            steps.append(int(index.rstrip("]")))
    return Field(tuple(arm.split(".")), tuple(steps), convert, absent)


# -- converters: each takes a known value; unknown values never reach them ----------------------

def enabled(value: Any) -> str:
    """A boolean attribute as the ARM enum the provider sends: ``Enabled``/``Disabled``."""
    if not isinstance(value, bool):
        raise Malformed("expected true or false")
    return "Enabled" if value else "Disabled"


def on_off(value: Any) -> str:
    """A boolean attribute the provider sends as ``On``/``Off``."""
    if not isinstance(value, bool):
        raise Malformed("expected true or false")
    return "On" if value else "Off"


def text(value: Any) -> str:
    """A string the rules compare: anything else is a malformed plan, not a rule error."""
    if not isinstance(value, str):
        raise Malformed("expected a string")
    return value


def _sku(tiers: Mapping[str, str], pick: Callable[[list[str]], Any]) -> Convert:
    """A piece of an azurerm ``sku_name`` (``<tier>_...``, split on ``_``); a name the
    provider would reject yields nothing rather than a guess."""

    def convert(value: Any) -> Any:
        parts = text(value).split("_")
        return pick(parts) if len(parts) >= 2 and parts[0] in tiers else MISSING

    return convert


def mb_to_gb(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Malformed("expected a whole number of megabytes")
    return value // 1024


_FLEXIBLE_TIERS = {"B": "Burstable", "GP": "GeneralPurpose", "MO": "MemoryOptimized"}
_SINGLE_TIERS = {"B": "Basic", "GP": "GeneralPurpose", "MO": "MemoryOptimized"}

COMMON = (
    field("name", "name", text),
    field("location", "location"),
    field("tags", "tags"),
)

FLEXIBLE_SERVER = (
    *COMMON,
    field("sku.name", "sku_name", _sku(_FLEXIBLE_TIERS, lambda p: "_".join(p[1:]))),
    field("sku.tier", "sku_name", _sku(_FLEXIBLE_TIERS, lambda p: _FLEXIBLE_TIERS[p[0]])),
    field("properties.version", "version"),
    field("properties.administratorLogin", "administrator_login"),
    field("properties.availabilityZone", "zone"),
    field("properties.createMode", "create_mode"),
    field("properties.replicationRole", "replication_role"),
    field("properties.network.publicNetworkAccess", "public_network_access_enabled", enabled),
    field("properties.network.delegatedSubnetResourceId", "delegated_subnet_id"),
    field("properties.network.privateDnsZoneArmResourceId", "private_dns_zone_id"),
    field("properties.storage.storageSizeGB", "storage_mb", mb_to_gb),
    field("properties.storage.tier", "storage_tier"),
    field("properties.storage.autoGrow", "auto_grow_enabled", enabled),
    field("properties.backup.backupRetentionDays", "backup_retention_days"),
    field("properties.backup.geoRedundantBackup", "geo_redundant_backup_enabled", enabled),
    field("properties.highAvailability.mode", "high_availability[0].mode"),
    field("properties.highAvailability.standbyAvailabilityZone",
          "high_availability[0].standby_availability_zone"),
    field("properties.authConfig.activeDirectoryAuth",
          "authentication[0].active_directory_auth_enabled", enabled),
    field("properties.authConfig.passwordAuth", "authentication[0].password_auth_enabled", enabled),
    field("properties.authConfig.tenantId", "authentication[0].tenant_id"),
    field("properties.dataEncryption.primaryKeyURI", "customer_managed_key[0].key_vault_key_id"),
    field("properties.maintenanceWindow.dayOfWeek", "maintenance_window[0].day_of_week"),
    field("properties.maintenanceWindow.startHour", "maintenance_window[0].start_hour"),
    field("properties.maintenanceWindow.startMinute", "maintenance_window[0].start_minute"),
)

SINGLE_SERVER = (
    *COMMON,
    field("sku.name", "sku[0].name"),  # azurerm 1.x
    field("sku.tier", "sku[0].tier"),
    field("sku.name", "sku_name", text),
    field("sku.tier", "sku_name", _sku(_SINGLE_TIERS, lambda p: _SINGLE_TIERS[p[0]])),
    field("sku.family", "sku_name", _sku(_SINGLE_TIERS, lambda p: p[1])),
    field("sku.capacity", "sku_name",
          _sku(_SINGLE_TIERS, lambda p: int(p[2]) if p[2:] and p[2].isdigit() else MISSING)),
    field("properties.version", "version"),
    field("properties.administratorLogin", "administrator_login"),
    field("properties.sslEnforcement", "ssl_enforcement", text),  # azurerm 1.x
    field("properties.sslEnforcement", "ssl_enforcement_enabled", enabled),
    field("properties.minimalTlsVersion", "ssl_minimal_tls_version_enforced", text),
    field("properties.publicNetworkAccess", "public_network_access_enabled", enabled),
    field("properties.infrastructureEncryption", "infrastructure_encryption_enabled", enabled),
    field("properties.createMode", "create_mode"),
    field("properties.storageProfile.storageMB", "storage_mb"),
    field("properties.storageProfile.backupRetentionDays", "backup_retention_days"),
    field("properties.storageProfile.geoRedundantBackup", "geo_redundant_backup_enabled", enabled),
    field("properties.storageProfile.storageAutogrow", "auto_grow_enabled", enabled),
)

#: Relative to one ``threat_detection_policy`` block.
SECURITY_ALERT_POLICY = (
    field("properties.state", "enabled", enabled, absent="Disabled"),
    field("properties.disabledAlerts", "disabled_alerts"),
    field("properties.emailAddresses", "email_addresses"),
    field("properties.emailAccountAdmins", "email_account_admins"),
    field("properties.retentionDays", "retention_days"),
    field("properties.storageEndpoint", "storage_endpoint"),
)

CONFIGURATION = (
    field("name", "name", text),
    field("properties.value", "value", text),
)

FIREWALL_RULE = (
    field("name", "name", text),
    field("properties.startIpAddress", "start_ip_address", text),
    field("properties.endIpAddress", "end_ip_address", text),
)

#: azurerm_security_center_contact, sent in the 2017-08-01-preview shape (its ``name`` defaults
#: to ``default1``):
#: https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/resources/security_center_contact
CONTACT = (
    field("name", "name", text),
    field("properties.email", "email", text),
    field("properties.phone", "phone"),
    field("properties.alertNotifications", "alert_notifications", on_off),
    field("properties.alertsToAdmins", "alerts_to_admins", on_off),
)
CONTACT_NAME = "default1"

PRICING = (
    field("name", "resource_type", text),
    field("properties.pricingTier", "tier", text),
    field("properties.subPlan", "subplan"),
)


@dataclass(frozen=True)
class Block:
    """A nested block that ARM holds as a child resource of fixed name."""

    attribute: str
    child_type: str
    child_name: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class ServerKind:
    arm_type: str
    fields: tuple[Field, ...]
    blocks: tuple[Block, ...] = ()
    #: The child a Microsoft.Security/advancedThreatProtectionSettings extension would stand for.
    threat_setting: tuple[str, str] = ("", "")


@dataclass(frozen=True)
class ChildKind:
    """A resource that is a child of a server in ARM, and how it names its server: by the
    server's ARM id (``parent_id``) or by server name and resource group (``parent_names``)."""

    child_type: str
    parents: frozenset[str]
    fields: tuple[Field, ...]
    parent_id: str = ""
    parent_names: tuple[str, str] = ("", "")

    @property
    def join_attribute(self) -> str:
        return self.parent_id or self.parent_names[0]


SERVERS: dict[str, ServerKind] = {
    "azurerm_postgresql_flexible_server": ServerKind(
        FLEXIBLE, FLEXIBLE_SERVER,
        threat_setting=(f"{FLEXIBLE}/advancedThreatProtectionSettings", "Default")),
    "azurerm_postgresql_server": ServerKind(
        SINGLE, SINGLE_SERVER,
        (Block("threat_detection_policy", f"{SINGLE}/securityAlertPolicies", "Default",
               SECURITY_ALERT_POLICY),),
        threat_setting=(f"{SINGLE}/securityAlertPolicies", "Default")),
}

CHILDREN: dict[str, ChildKind] = {
    "azurerm_postgresql_flexible_server_configuration": ChildKind(
        f"{FLEXIBLE}/configurations", frozenset({"azurerm_postgresql_flexible_server"}), CONFIGURATION,
        parent_id="server_id"),
    "azurerm_postgresql_configuration": ChildKind(
        f"{SINGLE}/configurations", frozenset({"azurerm_postgresql_server"}), CONFIGURATION,
        parent_names=("server_name", "resource_group_name")),
    "azurerm_postgresql_flexible_server_firewall_rule": ChildKind(
        f"{FLEXIBLE}/firewallRules", frozenset({"azurerm_postgresql_flexible_server"}), FIREWALL_RULE,
        parent_id="server_id"),
    "azurerm_postgresql_firewall_rule": ChildKind(
        f"{SINGLE}/firewallRules", frozenset({"azurerm_postgresql_server"}), FIREWALL_RULE,
        parent_names=("server_name", "resource_group_name")),
}

PRICING_TYPE = "azurerm_security_center_subscription_pricing"
CONTACT_TYPE = "azurerm_security_center_contact"
#: Microsoft.Security/advancedThreatProtectionSettings on any resource (``target_resource_id``):
#: https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/resources/advanced_threat_protection
THREAT_PROTECTION_TYPE = "azurerm_advanced_threat_protection"


def read(values: Any, steps: tuple[str | int, ...]) -> Any:
    """The value at ``steps``: MISSING if absent or null, an Unknown if it or a block
    holding it is known only after apply (or hidden)."""
    current = values
    for step in steps:
        if isinstance(current, Unknown):
            return current
        if isinstance(step, int):
            if not isinstance(current, list) or step >= len(current):
                return MISSING
            current = current[step]
        elif isinstance(current, dict) and current.get(step) is not None:
            current = current[step]
        else:
            return MISSING
    return MISSING if current is None else current


def apply(fields: tuple[Field, ...], values: Any, out: dict[str, Any]) -> None:
    """Fill ``out`` from ``values`` by ``fields``; a later field for the same ARM path wins
    when its attribute is set. :class:`Malformed` names the attribute at fault."""
    for spec in fields:
        value = read(values, spec.tf)
        if value is MISSING:
            value = spec.absent
        elif spec.convert is not None and not isinstance(value, Unknown):
            try:
                value = spec.convert(value)
            except Malformed as exc:
                raise Malformed(f"{_tf_text(spec.tf)}: {exc}") from None
        if value is MISSING:
            continue
        node = out
        for key in spec.arm[:-1]:
            node = node.setdefault(key, {})
        node[spec.arm[-1]] = value


def _tf_text(steps: tuple[str | int, ...]) -> str:
    return "".join(f"[{s}]" if isinstance(s, int) else (f".{s}" if i else s) for i, s in enumerate(steps))
