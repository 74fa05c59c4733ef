"""The ARM template function library: one table, name → implementation and arity.

Reference: https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions

``kind`` says how a function meets values not known before deployment:

- ``plain``: its arguments are evaluated first; an unknown anywhere in them makes the result an
  unknown whose text is the call (``toLower(parameters('x'))``). Most functions are plain.
- ``unknowns``: its arguments are evaluated and it answers for unknowns itself (``length`` of
  an array holding an unknown element is known; ``concat`` keeps unknown pieces of a name).
- ``lazy``: it gets its arguments unevaluated (``if`` evaluates only the branch taken; lambda
  functions call their ``lambda(...)`` per element).

Names outside the table: ``ns.fn(...)`` calls a user-defined function, ``list*(...)`` (any name
that starts with ``list``) reads runtime values (an unknown), anything else is an unsupported
function: an unknown and a note, never a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from policyengine.sources.arm import functions_cidr as cidr
from policyengine.sources.arm import functions_collection as coll
from policyengine.sources.arm import functions_date as date
from policyengine.sources.arm import functions_deployment as deploy
from policyengine.sources.arm import functions_lambda as lam
from policyengine.sources.arm import functions_logic as logic
from policyengine.sources.arm import functions_string as text

if TYPE_CHECKING:
    from policyengine.sources.arm.evaluator import Evaluator

Impl = Callable[["Evaluator", Sequence[Any]], Any]


@dataclass(frozen=True)
class Function:
    """One ARM function: its documented spelling, implementation, arity and kind."""

    name: str
    impl: Impl
    min_args: int
    max_args: int | None
    kind: Literal["plain", "unknowns", "lazy"] = "plain"


_ANY = None  # no upper bound on the number of arguments

FUNCTIONS: dict[str, Function] = {f.name.lower(): f for f in (
    # array and object
    Function("array", coll.array, 1, 1, "unknowns"),
    Function("concat", text.concat, 1, _ANY, "unknowns"),
    Function("contains", coll.contains, 2, 2),
    Function("createArray", coll.create_array, 0, _ANY, "unknowns"),
    Function("createObject", coll.create_object, 0, _ANY, "unknowns"),
    Function("empty", coll.empty, 1, 1, "unknowns"),
    Function("first", coll.first, 1, 1, "unknowns"),
    Function("flatten", coll.flatten, 1, 1, "unknowns"),
    Function("indexOf", coll.index_of, 2, 2),
    Function("intersection", coll.intersection, 2, _ANY),
    Function("items", coll.items, 1, 1, "unknowns"),
    Function("json", coll.json_, 1, 1),
    Function("last", coll.last, 1, 1, "unknowns"),
    Function("lastIndexOf", coll.last_index_of, 2, 2),
    Function("length", coll.length, 1, 1, "unknowns"),
    Function("null", coll.null, 0, 0),
    Function("objectKeys", coll.object_keys, 1, 1, "unknowns"),
    Function("range", coll.range_, 2, 2),
    Function("shallowMerge", coll.shallow_merge, 1, 1, "unknowns"),
    Function("skip", coll.skip, 2, 2, "unknowns"),
    Function("take", coll.take, 2, 2, "unknowns"),
    Function("tryGet", coll.try_get, 2, _ANY, "unknowns"),
    Function("union", coll.union, 2, _ANY, "unknowns"),
    # lambda
    Function("filter", lam.filter_, 2, 2, "lazy"),
    Function("groupBy", lam.group_by, 2, 2, "lazy"),
    Function("lambda", lam.lambda_, 1, _ANY, "lazy"),
    Function("lambdaVariables", lam.lambda_variables, 1, 1, "unknowns"),
    Function("map", lam.map_, 2, 2, "lazy"),
    Function("mapValues", lam.map_values, 2, 2, "lazy"),
    Function("reduce", lam.reduce, 3, 3, "lazy"),
    Function("sort", lam.sort, 2, 2, "lazy"),
    Function("toObject", lam.to_object, 2, 3, "lazy"),
    # logical and comparison
    Function("and", logic.and_, 2, _ANY, "lazy"),
    Function("bool", logic.bool_, 1, 1),
    Function("coalesce", logic.coalesce, 1, _ANY, "lazy"),
    Function("equals", logic.equals, 2, 2),
    Function("false", logic.false_, 0, 0),
    Function("greater", logic.greater, 2, 2),
    Function("greaterOrEquals", logic.greater_or_equals, 2, 2),
    Function("if", logic.if_, 3, 3, "lazy"),
    Function("less", logic.less, 2, 2),
    Function("lessOrEquals", logic.less_or_equals, 2, 2),
    Function("not", logic.not_, 1, 1),
    Function("or", logic.or_, 2, _ANY, "lazy"),
    Function("true", logic.true_, 0, 0),
    # numeric
    Function("add", logic.add, 2, 2),
    Function("div", logic.div, 2, 2),
    Function("float", logic.float_, 1, 1),
    Function("int", logic.int_, 1, 1),
    Function("max", logic.max_, 1, _ANY),
    Function("min", logic.min_, 1, _ANY),
    Function("mod", logic.mod, 2, 2),
    Function("mul", logic.mul, 2, 2),
    Function("sub", logic.sub, 2, 2),
    # string
    Function("base64", text.base64_, 1, 1),
    Function("base64ToJson", text.base64_to_json, 1, 1),
    Function("base64ToString", text.base64_to_string, 1, 1),
    Function("dataUri", text.data_uri, 1, 1),
    Function("dataUriToString", text.data_uri_to_string, 1, 1),
    Function("endsWith", text.ends_with, 2, 2),
    Function("format", text.format_, 1, _ANY, "unknowns"),
    Function("guid", text.guid, 1, _ANY),
    Function("join", text.join, 2, 2, "unknowns"),
    Function("padLeft", text.pad_left, 2, 3),
    Function("replace", text.replace, 3, 3),
    Function("split", text.split, 2, 2),
    Function("startsWith", text.starts_with, 2, 2),
    Function("string", text.string, 1, 1),
    Function("substring", text.substring, 1, 3),
    Function("toLower", text.to_lower, 1, 1),
    Function("toUpper", text.to_upper, 1, 1),
    Function("trim", text.trim, 1, 1),
    Function("uniqueString", text.unique_string, 1, _ANY),
    Function("uri", text.uri, 2, 2),
    Function("uriComponent", text.uri_component, 1, 1),
    Function("uriComponentToString", text.uri_component_to_string, 1, 1),
    # date
    Function("dateTimeAdd", date.date_time_add, 2, 3),
    Function("dateTimeFromEpoch", date.date_time_from_epoch, 1, 1),
    Function("dateTimeToEpoch", date.date_time_to_epoch, 1, 1),
    Function("utcNow", deploy.utc_now, 0, 1),
    # CIDR
    Function("cidrHost", cidr.cidr_host, 2, 2),
    Function("cidrSubnet", cidr.cidr_subnet, 3, 3),
    Function("parseCidr", cidr.parse_cidr, 1, 1),
    # deployment and scope
    Function("copyIndex", deploy.copy_index, 0, 2),
    Function("deployer", deploy.deployer, 0, 0),
    Function("deployment", deploy.deployment, 0, 0),
    Function("environment", deploy.environment, 0, 0),
    Function("managementGroup", deploy.management_group, 0, 0),
    Function("newGuid", deploy.new_guid, 0, 0),
    Function("parameters", deploy.parameters, 1, 1),
    Function("resourceGroup", deploy.resource_group, 0, 0),
    Function("subscription", deploy.subscription, 0, 0),
    Function("tenant", deploy.tenant, 0, 0),
    Function("variables", deploy.variables, 1, 1),
    # resources
    Function("extensionResourceId", deploy.extension_resource_id, 3, _ANY, "unknowns"),
    Function("managementGroupResourceId", deploy.management_group_resource_id, 2, _ANY, "unknowns"),
    Function("pickZones", deploy.pick_zones, 3, 5, "unknowns"),
    Function("providers", deploy.providers, 1, 2, "unknowns"),
    Function("reference", deploy.reference, 1, 3, "unknowns"),
    Function("references", deploy.references, 1, 2, "unknowns"),
    Function("resourceId", deploy.resource_id, 2, _ANY, "unknowns"),
    Function("subscriptionResourceId", deploy.subscription_resource_id, 2, _ANY, "unknowns"),
    Function("tenantResourceId", deploy.tenant_resource_id, 2, _ANY, "unknowns"),
)}
