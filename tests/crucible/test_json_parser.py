"""The API's JSON parser (issue 16): orjson first, the standard parser for what orjson refuses or
would change, with one result either way: the same values, the same refusals and messages."""

from __future__ import annotations

import json

import pytest
from rest_framework.exceptions import ParseError

from crucible.api import parsers

ACCEPTED = [
    b'{"events": [{"id": "a", "duration_ms": 12.5, "input_tokens": 7, "ok": true, "x": null}]}',
    b'{"a": 1, "a": 2}',
    b'{"n": 1e-7, "m": -0.0, "k": 1.7976931348623157e308, "i": 9007199254740993}',
    '{"text": "modèle \\u00e9 日本"}'.encode(),
    b'{"big": 123456789012345678901234567890, "neg": -99999999999999999999}',
    b'{"lone": "\\ud800"}',
    b"  [1, 2, 3]  ",
]
REFUSED = [
    b'{"a": "\x01"}',
    b"{",
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b'{"a": 1e999}',
    b'{"a": "\xff"}',
    b"[1,]",
    b"\xef\xbb\xbf{}",
]


def standard(raw: bytes):
    return json.loads(raw.decode("utf-8"), parse_constant=parsers._reject_constant, parse_float=parsers._finite_float)


@pytest.mark.parametrize("raw", ACCEPTED)
def test_the_values_are_the_standard_parser_s(raw):
    parsed = parsers.json_loads(raw)
    assert parsed == standard(raw)
    assert json.dumps(parsed) == json.dumps(standard(raw))  # same types: an int stays an int


def test_a_whole_number_beyond_64_bits_stays_whole():
    assert parsers.json_loads(b'{"n": 123456789012345678901234567890}') == {"n": 123456789012345678901234567890}


@pytest.mark.parametrize("raw", REFUSED)
def test_refusals_keep_the_standard_message(raw):
    with pytest.raises(ParseError) as refused:
        parsers.json_loads(raw)
    try:
        standard(raw)
    except UnicodeDecodeError as exc:
        expected = f"The request body is not valid UTF-8 (byte {exc.start})."
    except ValueError as exc:
        expected = f"Malformed JSON: {exc}"
    else:
        pytest.fail("the standard parser accepts it")
    assert str(refused.value.detail) == expected


def test_depth_is_limited_on_the_fast_path(settings):
    settings.API_MAX_JSON_DEPTH = 3
    parsers.json_loads(b'{"a": {"b": 1}}')
    with pytest.raises(ParseError, match="nested deeper than 3"):
        parsers.json_loads(b'{"a": {"b": {"c": [1]}}}')


def test_long_digit_runs_inside_text_keep_the_fast_path(monkeypatch):
    calls = []
    monkeypatch.setattr(parsers.json, "loads", lambda *args, **kwargs: calls.append(args))
    raw = b'{"trace_id": "12345678901234567890123456789012", "id": "x-1234567890123456789012"}'
    assert parsers.json_loads(raw) == {"trace_id": "12345678901234567890123456789012", "id": "x-1234567890123456789012"}
    assert calls == []


@pytest.mark.parametrize(
    "raw",
    [
        b"[1234567890123456789012]",
        b'{"a":  -12345678901234567890}',
        b'{"a": [1, 12345678901234567890]}',
        b"12345678901234567890",
    ],
)
def test_a_long_whole_number_anywhere_keeps_its_digits(raw):
    assert parsers.json_loads(raw) == standard(raw)
    assert json.dumps(parsers.json_loads(raw)) == json.dumps(standard(raw))  # whole, not a float
