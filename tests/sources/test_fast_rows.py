"""The fast path for NDJSON rows (strictjson.row) decodes exactly what the strict decoder does,
and refuses exactly what it refuses, with the same message at the same place: compact rows
are the ones orjson's encoding can match, so the hostile cases are written compactly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policyengine.sources.jsonpos import MAX_DEPTH
from policyengine.sources.strictjson import Refused, loads, row


def outcome(decode: Any, text: str) -> tuple[str, Any]:
    try:
        value = decode(text)
    except Refused as refused:
        return "refused", (refused.offset, refused.message, refused.end)
    except json.JSONDecodeError as exc:
        return "invalid", (exc.msg, exc.pos)
    return "value", json.dumps(value)  # a float and an int of equal value differ here


def nested(depth: int) -> str:
    return '{"id":"/x","v":' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


CASES = [
    '{"id":"/x","name":"a","name":"b"}',                     # a duplicate key
    '{"id":"/x","properties":{"v":"off","v":"on"}}',         # a nested duplicate
    '{"id":"/x","a":{"k":1},"b":{"k":1,"k":1}}',             # equal duplicate values
    '{"id":"/x","v":NaN}',
    '{"id":"/x","v":-Infinity}',
    '{"id":"/x","v":1e400}',
    '{"id":"/x","v":' + "9" * 30 + "}",                      # past 64 bits: orjson reads a float
    '{"id":"/x","v":' + "9" * 5000 + "}",                    # past Python's digit limit
    '{"id":"/x","v":18446744073709551616}',
    '{"id":"/x","v":-9223372036854775809}',
    '{"id":"/x","v":1E5}',
    '{"id":"/x","v":1e+16}',
    '{"id":"/x","v":-0.0}',
    '{"id":"/x","v":"\\ud800"}',                             # a lone surrogate escape
    '{"id":"/x","v":"\\u00e9\\u2028"}',
    '{"id":"/x","v":"é\u2028"}',
    '{"id":"/x","v":"a\\/b"}',
    '{"id":"/x","v":1}x',
    '{"id":"/x","v":1} ',
    '{"id":"/x","v":1}\r\n',
    '{"id":"/x",}',
    '{"id":"/x","v":tru}',
    nested(MAX_DEPTH),
    nested(MAX_DEPTH + 1),                                   # orjson nests to 1024
    nested(1100),
    '{"id":"/x","t":"' + "[" * 600 + '"}',                   # brackets in a string nest nothing
]


@pytest.mark.parametrize("text", CASES)
def test_a_row_decodes_and_refuses_as_the_strict_decoder_does(text: str) -> None:
    for line in (text, text + "\n"):
        assert outcome(row, line) == outcome(loads, line)


def test_a_duplicate_key_in_a_compact_row_is_refused_where_it_is() -> None:
    kind, (offset, message, _) = outcome(row, '{"id":"/x","name":"a","name":"b"}\n')
    assert kind == "refused" and offset == 22
    assert message.startswith("duplicate key 'name' in one object")


scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=4), inner, max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(values, st.booleans(), st.booleans())
def test_any_compact_row_decodes_as_the_strict_decoder_does(value: Any, ascii_only: bool,
                                                            duplicate: bool) -> None:
    text = json.dumps({"id": "/x", "v": value}, separators=(",", ":"), ensure_ascii=ascii_only)
    if duplicate:  # the same key again, last: the strict decoder refuses it
        text = text[:-1] + ',"id":"/y"}'
    assert outcome(row, text + "\n") == outcome(loads, text + "\n")
