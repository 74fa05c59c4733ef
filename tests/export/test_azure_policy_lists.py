"""Rules on every resource of a related type (``related`` without a name) as Azure Policy
definitions: a ``count`` of them ``greater: 0`` is auditIfNotExists without a name in
``details`` (any resource of the type, as built-in 4f4f78b8 asks for any security contact),
with ``existenceScope: subscription`` for subscription-scope types; what auditIfNotExists
cannot ask (that none match) is reported with the way Azure Policy would say it."""

from __future__ import annotations

import pytest

from policyengine import ir
from policyengine.export import export_rule
from policyengine.export.aliases import alias_table
from policyengine.export.conditions import Unsupported
from policyengine.loading.rules import load_rules
from tests.conftest import rule_text
from tests.export.azure_oracle import AzureOracle
from tests.export.test_azure_policy import Write, assert_valid

CONTACTS = "microsoft.security/securitycontacts"
SUBSCRIPTION = {"id": "/subscriptions/s1", "type": "Microsoft.Resources/subscriptions"}


def _rule(write: Write, spec: str) -> ir.Rule:
    (loaded,) = load_rules([write("r.yaml", rule_text(spec))], include_bundled=False)
    return loaded


def _any_contact(write: Write, where: str) -> ir.Rule:
    """A subscription rule: at least one security contact matches ``where``."""
    return _rule(write, f"""
        resource: Microsoft.Resources/subscriptions
        related:
          contacts: {{type: Microsoft.Security/securityContacts, scope: subscription}}
        condition:
          field: related.contacts
          count:
            where: {where}
            greater: 0
        """)


def test_any_contact_with_an_address_is_auditifnotexists_at_subscription_scope(write: Write) -> None:
    document = export_rule(_any_contact(write, '{field: "@.properties.email", notEquals: ""}'))
    assert_valid(document)
    details = document["properties"]["policyRule"]["then"]["details"]
    assert details["type"] == "Microsoft.Security/securityContacts" and "name" not in details
    assert details["existenceScope"] == "subscription"
    oracle = AzureOracle(alias_table())
    with_address = {(CONTACTS, "default1"): {"properties": {"email": "secops@contoso.com"}}}
    blank = {(CONTACTS, "default1"): {"properties": {"email": ""}}}
    assert not oracle.flags(document, SUBSCRIPTION, "Microsoft.Resources/subscriptions", with_address)
    assert oracle.flags(document, SUBSCRIPTION, "Microsoft.Resources/subscriptions", blank)
    assert oracle.flags(document, SUBSCRIPTION, "Microsoft.Resources/subscriptions", {})
    # Two contacts: one with an address is enough.
    both = {**blank, (CONTACTS, "default2"): {"properties": {"email": "dba@contoso.com"}}}
    assert not oracle.flags(document, SUBSCRIPTION, "Microsoft.Resources/subscriptions", both)


@pytest.mark.parametrize("bound", ["less: 1", "equals: 0"])
def test_none_matching_is_reported_with_the_way_azure_policy_says_it(write: Write, bound: str) -> None:
    rule = _rule(write, f"""
        resource: Microsoft.DBforPostgreSQL/flexibleServers
        related:
          rules: {{type: Microsoft.DBforPostgreSQL/flexibleServers/firewallRules}}
        condition:
          field: related.rules
          count:
            where: {{field: "@.properties.startIpAddress", equals: 0.0.0.0}}
            {bound}
        """)
    with pytest.raises(Unsupported, match=r"a definition on Microsoft\.DBforPostgreSQL/flexibleServers/firewallRules itself"):
        export_rule(rule)


def test_an_element_property_without_a_known_alias_is_reported(write: Write) -> None:
    rule = _any_contact(write, '{field: "@.properties.emails", notEquals: ""}')
    with pytest.raises(Unsupported, match=r"@\.properties\.emails: no Azure Policy alias"):
        export_rule(rule)
