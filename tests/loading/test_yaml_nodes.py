from __future__ import annotations

import pytest

from policyengine.errors import RuleLoadError, Span
from policyengine.loading.yaml_nodes import load_documents


def one(text: str) -> object:
    docs = list(load_documents(text, "f.yaml"))
    assert len(docs) == 1
    return docs[0].data


def test_positions_of_values_and_keys() -> None:
    doc = next(load_documents("a:\n  b: [1, {c: x}]\n", "f.yaml"))
    assert doc.positions.values[("a", "b", 1, "c")] == Span("f.yaml", 2, 14)
    assert doc.positions.keys[("a", "b")] == Span("f.yaml", 2, 3)
    # an unknown path falls back to its nearest known ancestor
    assert doc.positions.of(("a", "b", 1, "zzz")) == Span("f.yaml", 2, 10)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("v: on", "on"), ("v: off", "off"), ("v: yes", "yes"), ("v: No", "No"),
        ("v: true", True), ("v: False", False), ("v: 12", 12), ("v: 0x1f", 31), ("v: 1.5", 1.5),
        ("v: ~", None), ("v: null", None), ("v: 2024-01-01", "2024-01-01"), ("v: 1:20", "1:20"),
        ("v: 012", 12), ("v: '12'", "12"),
    ],
)
def test_yaml_1_2_core_scalars(text: str, value: object) -> None:
    assert one(text) == {"v": value}


def test_several_documents() -> None:
    docs = list(load_documents("a: 1\n---\nb: 2\n", "f.yaml"))
    assert [d.data for d in docs] == [{"a": 1}, {"b": 2}]
    assert docs[1].span == Span("f.yaml", 3, 1)


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("a: 1\nb: 2\na: 3\n", "f.yaml:3:1", "duplicate key 'a' (first defined at line 1)"),
        ("a: !!python/object:os.system x\n", "f.yaml:1:4", "tag 'tag:yaml.org,2002:python/object:os.system' is not allowed"),
        ("a: !custom x\n", "f.yaml:1:4", "tag '!custom' is not allowed"),
        ("a: [1, 2\n", "f.yaml:2:1", "invalid YAML"),
        ("a: b: c\n", "f.yaml:1:5", "invalid YAML: mapping values are not allowed in this context"),
        ("? [1]\n: x\n", "f.yaml:1:3", "mapping keys must be strings"),
    ],
)
def test_errors_are_located(text: str, where: str, message: str) -> None:
    with pytest.raises(RuleLoadError) as info:
        list(load_documents(text, "f.yaml"))
    assert str(info.value).startswith(f"{where}: ")
    assert message in str(info.value)


def test_alias_bomb_is_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    with pytest.raises(RuleLoadError, match="alias expansion is bounded"):
        list(load_documents("\n".join(lines) + "\n", "bomb.yaml"))


def test_recursive_alias_is_bounded() -> None:
    with pytest.raises(RuleLoadError, match="alias expansion is bounded"):
        list(load_documents("a: &x [*x]\n", "f.yaml"))


def test_modest_aliases_are_fine() -> None:
    assert one("base: &b {x: 1}\nother: *b\n") == {"base": {"x": 1}, "other": {"x": 1}}
