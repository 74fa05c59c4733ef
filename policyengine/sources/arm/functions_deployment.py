"""Deployment, scope and resource functions:
https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-deployment,
https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-scope,
https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-resource

What the user did not tell us about the deployment (subscription, resource group, location...)
is an unknown atom with a fixed text (``subscription().subscriptionId``, ``resourceGroup().name``),
and ids are built from known text and those atoms with ``joined``, so the id of a resource
named in one place compares equal to the same id built elsewhere.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from policyengine.sources.arm.values import SECURE_TYPES, FunctionError, Mode, need_int, need_str, type_name
from policyengine.unknown import Unknown, joined

if TYPE_CHECKING:
    from policyengine.sources.arm.evaluator import Evaluator

Args = Sequence[Any]

SUBSCRIPTION_ID = "subscription().subscriptionId"
RESOURCE_GROUP = "resourceGroup().name"
LOCATION = "resourceGroup().location"
TENANT_ID = "tenant().tenantId"
MANAGEMENT_GROUP = "managementGroup().name"

# environment() in global Azure, as documented
# (https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-deployment#environment).
AZURE_CLOUD: dict[str, Any] = {
    "name": "AzureCloud",
    "gallery": "https://gallery.azure.com/",
    "graph": "https://graph.windows.net/",
    "portal": "https://portal.azure.com",
    "graphAudience": "https://graph.windows.net/",
    "activeDirectoryDataLake": "https://datalake.azure.net/",
    "batch": "https://batch.core.windows.net/",
    "media": "https://rest.media.azure.net",
    "sqlManagement": "https://management.core.windows.net:8443/",
    "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/"
                       "quickstart-templates/aliases.json",
    "resourceManager": "https://management.azure.com/",
    "authentication": {
        "loginEndpoint": "https://login.microsoftonline.com/",
        "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
        "tenant": "common",
        "identityProvider": "AAD",
    },
    "suffixes": {
        "acrLoginServer": ".azurecr.io",
        "azureDatalakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
        "azureDatalakeStoreFileSystem": "azuredatalakestore.net",
        "azureFrontDoorEndpointSuffix": "azurefd.net",
        "keyvaultDns": ".vault.azure.net",
        "sqlServerHostname": ".database.windows.net",
        "storage": "core.windows.net",
    },
}


#: The command-line options that give a deployment-context value (the others have none).
_OPTIONS = {RESOURCE_GROUP: "--resource-group", LOCATION: "--location"}


def _atom(text: str) -> Unknown:
    option = _OPTIONS.get(text)
    hint = f" (give it with {option})" if option else ""
    return Unknown(text, f"{text} is known only at deployment{hint}")


def _given(value: str | None, text: str) -> str | Unknown:
    return value if value is not None else _atom(text)


def _path(*pieces: str | Unknown) -> str | Unknown:
    """Known text and unknown atoms as one string (an Unknown with parts if any is unknown)."""
    if all(isinstance(p, str) for p in pieces):
        return "".join(str(p) for p in pieces)
    return joined(pieces)


# -- parameters, variables, copyIndex


def parameters(ev: Evaluator, args: Args) -> Any:
    name = need_str(args[0], "the parameter name")
    if ev.mode is Mode.FUNCTION:
        if name.lower() not in ev.args:
            raise FunctionError(f"a user-defined function reads only its own parameters, and has no {name!r}")
        return ev.args[name.lower()]
    return ev.scope.parameter(name)


def variables(ev: Evaluator, args: Args) -> Any:
    name = need_str(args[0], "the variable name")
    if ev.mode is Mode.FUNCTION:
        raise FunctionError("a user-defined function can't read variables")
    if ev.mode is Mode.DEFAULT:
        # https://learn.microsoft.com/azure/azure-resource-manager/templates/parameters#default-value
        raise FunctionError("a parameter's default value can't reference a variable")
    return ev.scope.variable(name)


def copy_index(ev: Evaluator, args: Args) -> int | Unknown:
    """``copyIndex([loopName], [offset])``: the innermost loop, or the named one."""
    name: str | None = None
    rest = list(args)
    if rest and isinstance(rest[0], str):
        name = rest.pop(0)
    if len(rest) > 1 or (rest and (isinstance(rest[0], bool) or not isinstance(rest[0], int))):
        raise FunctionError("takes an optional loop name and an optional int offset")
    index = ev.copy_index(name)
    if isinstance(index, Unknown):
        # The offset, not the loop's name, is kept in the text: loops over the same unknown
        # count (servers and their parameters) then name the same instances alike.
        return Unknown(f"copyIndex({', '.join(str(r) for r in rest)})", index.reason)
    return index + (need_int(rest[0], "the offset") if rest else 0)


# -- values known only at deployment


def _runtime(ev: Evaluator, name: str, args: Args, reason: str, *, defaults_only: bool = False) -> Unknown:
    if defaults_only and ev.mode is not Mode.DEFAULT:
        # https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-date#utcnow
        raise FunctionError("can only be used in the default value of a parameter")
    if not defaults_only and ev.mode is not Mode.TEMPLATE:
        raise FunctionError(f"cannot be used in a {ev.mode.value}")
    return ev.unknown_call(name, args, reason)


def reference(ev: Evaluator, args: Args) -> Unknown:
    return _runtime(ev, "reference", args, "reference() reads a resource's runtime state")


def references(ev: Evaluator, args: Args) -> Unknown:
    return _runtime(ev, "references", args, "references() reads resources' runtime state")


def pick_zones(ev: Evaluator, args: Args) -> Unknown:
    return _runtime(ev, "pickZones", args, "pickZones() depends on the region's availability zones")


def providers(ev: Evaluator, args: Args) -> Unknown:
    return _runtime(ev, "providers", args, "providers() reads the resource provider's registration")


def new_guid(ev: Evaluator, args: Args) -> Unknown:
    return _runtime(ev, "newGuid", args, "newGuid() is a new value at each deployment", defaults_only=True)


def utc_now(ev: Evaluator, args: Args) -> Unknown:
    return _runtime(ev, "utcNow", args, "utcNow() is the time of the deployment", defaults_only=True)


def deployer(ev: Evaluator, args: Args) -> Unknown:
    return _atom("deployer()")


# -- the deployment's context


def subscription(ev: Evaluator, args: Args) -> dict[str, Any]:
    given = ev.scope.deployment
    sub = _given(given.subscription_id, SUBSCRIPTION_ID)
    tenant_id = _given(given.tenant_id, TENANT_ID)
    return {"id": _path("/subscriptions/", sub), "subscriptionId": sub, "tenantId": tenant_id,
            "displayName": _atom("subscription().displayName")}


def resource_group(ev: Evaluator, args: Args) -> dict[str, Any]:
    given = ev.scope.deployment
    sub, group = _given(given.subscription_id, SUBSCRIPTION_ID), _given(given.resource_group, RESOURCE_GROUP)
    return {"id": _path("/subscriptions/", sub, "/resourceGroups/", group), "name": group,
            "type": "Microsoft.Resources/resourceGroups", "location": _given(given.location, LOCATION),
            "tags": _atom("resourceGroup().tags"),
            "properties": {"provisioningState": _atom("resourceGroup().properties.provisioningState")}}


def tenant(ev: Evaluator, args: Args) -> dict[str, Any]:
    tenant_id = _given(ev.scope.deployment.tenant_id, TENANT_ID)
    return {"countryCode": _atom("tenant().countryCode"), "displayName": _atom("tenant().displayName"),
            "id": _path("/tenants/", tenant_id), "tenantId": tenant_id}


def management_group(ev: Evaluator, args: Args) -> dict[str, Any]:
    name = _atom(MANAGEMENT_GROUP)
    return {"id": _path("/providers/Microsoft.Management/managementGroups/", name), "name": name,
            "properties": _atom("managementGroup().properties"),
            "type": "/providers/Microsoft.Management/managementGroups"}


def deployment(ev: Evaluator, args: Args) -> dict[str, Any]:
    """The deployment object of a local template; runtime fields are unknown."""
    out: dict[str, Any] = {
        "name": _given(ev.scope.deployment.deployment_name, "deployment().name"),
        "properties": {
            "templateLink": _atom("deployment().properties.templateLink"),
            "template": _without_secrets(ev.scope.template),
            "templateHash": _atom("deployment().properties.templateHash"),
            "parameters": _atom("deployment().properties.parameters"),
            "mode": _atom("deployment().properties.mode"),
            "provisioningState": _atom("deployment().properties.provisioningState"),
        },
    }
    if ev.scope.target != "resourceGroup":
        out["location"] = _atom("deployment().location")
    return out


def _without_secrets(template: Mapping[str, Any]) -> Mapping[str, Any]:
    """The template as deployment() shows it, less the values of secure parameters and outputs."""
    out = dict(template)
    for section, key in (("parameters", "defaultValue"), ("outputs", "value")):
        declared = template.get(section)
        if isinstance(declared, Mapping):
            out[section] = {
                name: {k: v for k, v in decl.items() if k != key}
                if isinstance(decl, Mapping) and str(decl.get("type", "")).lower() in SECURE_TYPES else decl
                for name, decl in declared.items()}
    return out


def environment(ev: Evaluator, args: Args) -> dict[str, Any]:
    return copy.deepcopy(AZURE_CLOUD)


# -- resource ids


def _text(value: Any, what: str) -> str | Unknown:
    if isinstance(value, Unknown | str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise FunctionError(f"{what} must be a string, not {type_name(value)}")


def _resource_path(resource_type: Any, names: Sequence[Any]) -> str | Unknown | None:
    """``/providers/{namespace}/{type}/{name}[/{type}/{name}...]``; None when unknown names
    leave the pairing of types and names open."""
    parts = need_str(resource_type, "resourceType").strip("/").split("/")
    if len(parts) < 2 or not all(parts):
        raise FunctionError(f"{resource_type!r} is not a resource type (namespace/type)")
    namespace, types = parts[0], parts[1:]
    segments: list[str | Unknown] = []
    for name in names:
        text = _text(name, "every resource name")
        segments.extend(text.split("/") if isinstance(text, str) else [text])
    if len(segments) != len(types):
        if any(isinstance(n, Unknown) for n in names):
            return None
        raise FunctionError(f"the type {resource_type!r} needs {len(types)} resource name(s), "
                            f"not {len(segments)}")
    pieces: list[str | Unknown] = ["/providers/", namespace]
    for kind, segment in zip(types, segments, strict=True):
        pieces += ["/", kind, "/", segment]
    return _path(*pieces)


def _type_position(args: Args, most: int) -> int | None:
    """Which argument is the resource type: the first of the leading ones that contains a '/'."""
    for i in range(min(most + 1, len(args))):
        if isinstance(args[i], str) and "/" in args[i]:
            return i
    return None


def _build(ev: Evaluator, name: str, args: Args, at: int | None, scope: Any) -> Any:
    """The id from ``scope(arguments before the type)`` and the type's provider path."""
    if at is None:
        unknown = next((a for a in args[:3] if isinstance(a, Unknown)), None)
        if unknown is not None:
            return ev.unknown_call(name, args, unknown.reason)
        raise FunctionError("no resource type (namespace/type) among the arguments")
    if len(args) < at + 2:
        raise FunctionError("needs a resource name after the resource type")
    path = _resource_path(args[at], args[at + 1:])
    if path is None:
        unknown = next(a for a in args if isinstance(a, Unknown))
        return ev.unknown_call(name, args, unknown.reason)
    return _path(*scope([_text(a, "every scope argument") for a in args[:at]]), path)


def resource_id(ev: Evaluator, args: Args) -> Any:
    """``resourceId([subscriptionId], [resourceGroupName], type, names...)`` at the template's
    deployment scope."""
    given = ev.scope.deployment
    target = ev.scope.target

    def scope(prefix: list[str | Unknown]) -> list[str | Unknown]:
        if not prefix and target in ("managementGroup", "tenant"):
            return []
        sub = prefix[0] if len(prefix) == 2 else _given(given.subscription_id, SUBSCRIPTION_ID)
        if not prefix and target == "subscription":
            return ["/subscriptions/", sub]
        group = prefix[-1] if prefix else _given(given.resource_group, RESOURCE_GROUP)
        return ["/subscriptions/", sub, "/resourceGroups/", group]

    return _build(ev, "resourceId", args, _type_position(args, 2), scope)


def subscription_resource_id(ev: Evaluator, args: Args) -> Any:
    default = _given(ev.scope.deployment.subscription_id, SUBSCRIPTION_ID)
    return _build(ev, "subscriptionResourceId", args, _type_position(args, 1),
                  lambda prefix: ["/subscriptions/", prefix[0] if prefix else default])


def tenant_resource_id(ev: Evaluator, args: Args) -> Any:
    return _build(ev, "tenantResourceId", args, _type_position(args, 0), lambda prefix: [])


def management_group_resource_id(ev: Evaluator, args: Args) -> Any:
    return _build(ev, "managementGroupResourceId", args, _type_position(args, 1),
                  lambda prefix: ["/providers/Microsoft.Management/managementGroups/",
                                  prefix[0] if prefix else _atom(MANAGEMENT_GROUP)])


def extension_resource_id(ev: Evaluator, args: Args) -> Any:
    base = _text(args[0], "baseResourceId")
    if isinstance(base, str) and not base.startswith("/"):
        raise FunctionError(f"baseResourceId {base!r} is not a resource id")
    at = 1 if isinstance(args[1], str) and "/" in args[1] else None
    return _build(ev, "extensionResourceId", args, at,
                  lambda prefix: [base.rstrip("/") if isinstance(base, str) else base])
