"""The JSON decoder with positions: the C-decoded path and the position-keeping parser give the
same values and the same ``file:line:col`` for every node, and whatever the C decoder would
accept but this module refuses is refused, located, as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from policyengine.errors import InputError, Span
from policyengine.sources import jsonpos

ROOT = Path(__file__).resolve().parents[2]

ODD = """ \t
{"a\\u0041" :  [1, [ ], {}, {"x":[ -1.5e3 ,true,null ]}],"b\\"q":"v\\n",
"": {"nested": [[["deep"]]]} ,  "c":"\u00e9\U0001f600"
 }\r\n"""


def deep_spans(node: Any) -> Any:
    """Every value with its own span and every member's, recursively."""
    if isinstance(node, (jsonpos.JObject, jsonpos.JArray)):
        members: list[tuple[str | int, Any]] = (
            list(node.items()) if isinstance(node, dict) else list(enumerate(node)))
        return (jsonpos.span_of(node), type(node).__name__,
                [(k, jsonpos.span_at(node, k), deep_spans(v)) for k, v in members])
    return node


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "templates").rglob("*.json"))
                         + sorted((ROOT / "tests" / "fixtures").rglob("*.json"))[:200],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_both_decoders_agree_on_every_span(path: Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        slow = jsonpos._positioned(text, str(path))
    except InputError as exc:
        with pytest.raises(InputError) as info:
            jsonpos.loads(text, str(path))
        assert str(info.value) == str(exc)
        return
    assert deep_spans(jsonpos.loads(text, str(path))) == deep_spans(slow)


def test_odd_spacing_escaped_keys_and_empty_containers() -> None:
    fast = jsonpos._fast(ODD, "odd.json")
    assert fast == jsonpos._positioned(ODD, "odd.json")
    assert deep_spans(fast) == deep_spans(jsonpos._positioned(ODD, "odd.json"))
    assert jsonpos.span_at(fast, 'b"q') == Span("odd.json", 2, 64)
    assert jsonpos.span_at(fast[""]["nested"][0][0], 0) == Span("odd.json", 3, 19)


def test_a_span_asked_deep_first_locates_the_containers_above() -> None:
    fast = jsonpos.loads(ODD, "odd.json")
    inner = fast["aA"][3]["x"]
    span = jsonpos.span_at(inner, 2)
    assert span is not None and (span.line, span.col) == (2, 48)
    assert jsonpos.span_of(fast) is not None and jsonpos.span_of(fast).line == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "message"), [
    ('{"a": 1, "a": 2}', "duplicate property 'a' (first at line 1)"),
    ('[NaN]', "unexpected 'N': expected a JSON value"),
    ('[1e400]', "number out of range: 1e400"),
    ("[" + "1" * 101 + "]", "number out of range: an integer of 101 digits"),
    ("[" * 300 + "]" * 300, "JSON nested more than 256 deep"),
    ('{"a": 1}\n{"b": 2}', "unexpected text after the JSON value"),
    ("", "empty file: expected JSON"),
])
def test_what_the_c_decoder_would_take_or_misplace_is_refused_located(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        jsonpos.loads(text, "t.json")
    assert message in str(info.value) and str(info.value).startswith("t.json:")
    with pytest.raises(InputError) as again:
        jsonpos._positioned(text, "t.json")
    assert str(info.value) == str(again.value)


@pytest.mark.parametrize("text", ['// c\n{"a": [1, /* two */ 2]}', '{"a":\x0c1}', '\ufeff{"a": 1}'])
def test_what_only_the_positioned_parser_reads_is_decoded_by_it(text: str) -> None:
    try:
        expected = deep_spans(jsonpos._positioned(text, "t.json"))
    except InputError as exc:
        with pytest.raises(InputError) as info:
            jsonpos.loads(text, "t.json")
        assert str(info.value) == str(exc)
        return
    assert deep_spans(jsonpos.loads(text, "t.json")) == expected
