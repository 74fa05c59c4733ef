"""The shared parent/child/subscription graph (policyengine/records/graph.py)."""

from __future__ import annotations

from policyengine.records.graph import Children, Graph, Node, child_key
from policyengine.records.model import Origin
from policyengine.unknown import Unknown

SID = "0000-AA"


def _sub(sid: str | Unknown) -> Node[int]:
    text = sid if isinstance(sid, str) else f"[{sid.text}]"
    rid = f"/subscriptions/{text}"
    return Node(rid, "Microsoft.Resources/subscriptions", {"id": rid}, Origin("f.json"))


def test_subscriptions_are_made_once_whatever_the_case() -> None:
    graph: Graph[int] = Graph(_sub)
    first = graph.subscription(SID)
    assert graph.subscription(SID.lower()) is first
    assert first.id == f"/subscriptions/{SID}"
    unknown = graph.subscription(Unknown("subscription().subscriptionId", "known at deployment"))
    assert unknown.id == "/subscriptions/[subscription().subscriptionId]"
    assert len(graph.subscriptions) == 2


def test_a_resource_record_points_to_its_subscription_record() -> None:
    graph: Graph[int] = Graph(_sub)
    sub = graph.subscription(SID)
    sub.children.put(child_key("Microsoft.Security/pricings", "OpenSourceRelationalDatabases"),
                     {"properties": {"pricingTier": "Standard"}}, 3)
    server: Node[int] = Node(f"/subscriptions/{SID}/x", "T/s", {"id": "x"}, Origin("f.json", 7),
                             unread={"t/s/c": "annotated"}, subscription=sub)
    server.children.put(("t/s/c", "a"), {"v": 1}, 8)
    server.children.unknown("t/s/c", "two rows disagree")
    server.children.unknown("t/s/d", "two rows disagree")
    record = server.record()
    assert record.subscription is sub.record()  # one subscription record, shared
    assert record.subscription.children == {("microsoft.security/pricings", "opensourcerelationaldatabases"):
                                             {"properties": {"pricingTier": "Standard"}}}
    assert record.children == {("t/s/c", "a"): {"v": 1}}
    # The resource's own annotation wins over what its children say.
    assert record.unread == {"t/s/c": "annotated", "t/s/d": "two rows disagree"}
    assert record.origin.line == 7


def test_a_changed_subscription_is_rebuilt_for_later_records() -> None:
    graph: Graph[int] = Graph(_sub)
    sub = graph.subscription(SID)
    before = sub.record()
    sub.children.put(("microsoft.security/pricings", "p"), {}, 1)
    assert sub.record() is before  # built once, until said changed
    sub.changed()
    after = sub.record()
    assert after is not before and after.children and not before.children


def test_only_subscriptions_the_input_speaks_of_are_declared() -> None:
    graph: Graph[int] = Graph(_sub)
    graph.subscription("quiet")
    graph.subscription("priced").children.put(("microsoft.security/pricings", "p"), {}, 1)
    graph.subscription("unknown").unread["microsoft.security/pricings"] = "set by a rejected resource"
    assert [r.id for r in graph.declared()] == ["/subscriptions/priced", "/subscriptions/unknown"]


def test_a_dropped_child_keeps_where_it_came_from() -> None:
    kids: Children[int] = Children()
    kids.put(("t", "a"), {"v": 1}, 4)
    kids.drop(("t", "a"))
    kids.unknown("t", "first reason")
    kids.unknown("t", "second reason")
    assert kids.rows == {} and kids.where == {("t", "a"): 4}
    assert kids.unread == {"t": "first reason"}
