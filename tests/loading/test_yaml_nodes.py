from __future__ import annotations

from pathlib import Path

import pytest

from policyengine.errors import RuleLoadError, Span
from policyengine.loading.yaml_nodes import load_documents, read_text, shown


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


BIG = "1" * 4301


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (f"a: {BIG}\n", "f.yaml:1:4", "an integer of 4301 digits: at most 4300 are read"),
        (f"a: -{BIG}\n", "f.yaml:1:4", "an integer of 4301 digits: at most 4300 are read"),
        (f"a: 0x{'f' * 4301}\n", "f.yaml:1:4", "an integer of 4301 digits: at most 4300 are read"),
        (f"a:\n  ? {BIG}\n  : x\n", "f.yaml:2:5", "an integer of 4301 digits"),
        ("a: .nan\n", "f.yaml:1:4", "NaN is not a number JSON can hold; write a finite number"),
        ("a: -.inf\n", "f.yaml:1:4", "'-.inf' (infinite) is not a number JSON can hold"),
        ("a: 1e400\n", "f.yaml:1:4", "'1e400' (infinite) is not a number JSON can hold"),
        # libyaml counts bytes; the column counts characters (é is two bytes).
        ("a: é\nb: x\u0007\n", "f.yaml:2:5", "invalid YAML: character '\\x07' (U+0007): control characters are not allowed"),
        ("é: \u001b[31m\n", "f.yaml:1:4", "invalid YAML: character '\\x1b' (U+001B)"),
        ("a: '\ud800'\n", "f.yaml:1:5", "invalid YAML: a lone surrogate is not a character"),
        ('a: "\\ud800"\n', "f.yaml:1:7", "invalid YAML: found invalid Unicode character escape code"),
        ("[" * 100_000, "f.yaml:1:", "invalid YAML: exceeded maximum nesting depth"),
        ('"\\e]8;;x": 1\n"\\e]8;;x": 2\n', "f.yaml:2:1", "duplicate key '\\x1b]8;;x'"),
    ],
)
def test_hostile_scalars_and_text_are_located(text: str, where: str, message: str) -> None:
    with pytest.raises(RuleLoadError) as info:
        list(load_documents(text, "f.yaml"))
    assert str(info.value).startswith(f"{where}")
    assert message in str(info.value)
    assert "\u001b" not in str(info.value)


def test_the_largest_integer_read_and_finite_floats_load() -> None:
    assert one(f"a: {'9' * 4300}") == {"a": int("9" * 4300)}
    assert one("a: 1e300") == {"a": 1e300}


def test_the_pure_python_loader_is_bounded_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader used where PyYAML is built without libyaml: it composes recursively, so
    nesting deeper than the stack is located, not a RecursionError (libyaml stops at 1,000
    levels by itself), and its reader counts characters where libyaml counts bytes."""
    from policyengine.loading import yaml_nodes

    monkeypatch.setattr(yaml_nodes, "_Loader", yaml_nodes._PyLoader)
    with pytest.raises(RuleLoadError) as info:
        list(load_documents("[" * 5_000, "f.yaml"))  # past the interpreter's recursion limit
    assert str(info.value) == "f.yaml:1:1: invalid YAML: nested too deeply to read"
    with pytest.raises(RuleLoadError) as info:
        list(load_documents("a: é\nb: x\u0007\n", "f.yaml"))
    assert str(info.value).startswith("f.yaml:2:5: invalid YAML: character '\\x07'")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a: 1\nb: \xff\xfe\n", "f.yaml:2:4: not UTF-8 text: byte 0xff cannot be decoded (invalid start byte)"),
        (b"a: \xc3\xa9\xc3\n", "f.yaml:1:5: not UTF-8 text: byte 0xc3 cannot be decoded"),
    ],
)
def test_read_text_locates_the_first_byte_that_is_not_utf8(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(content)
    with pytest.raises(RuleLoadError) as info:
        read_text(path, "f.yaml", "rule file")
    assert str(info.value).startswith(message)


def test_read_text_of_a_directory_or_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuleLoadError) as info:
        read_text(tmp_path, "d", "waiver file")
    assert str(info.value) == "d: cannot read the waiver file: Is a directory"
    with pytest.raises(RuleLoadError) as info:
        read_text(tmp_path / "none.yaml", "none.yaml", "waiver file")
    assert str(info.value) == "none.yaml: cannot read the waiver file: No such file or directory"


def test_shown_escapes_and_cuts() -> None:
    assert shown("on") == "'on'"
    assert shown("\u001b[2J\ud800") == "'\\x1b[2J\\ud800'"
    assert shown("x" * 100) == f"{'x' * 60!r}... (100 characters)"


def test_read_text_stops_at_its_bound() -> None:
    """A device that never ends (``--rules /dev/zero``) is read up to the bound, not forever."""
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    with pytest.raises(RuleLoadError) as info:
        read_text(Path("/dev/zero"), "/dev/zero", "rule file")
    assert str(info.value) == "/dev/zero: the rule file is larger than 16 MiB"
