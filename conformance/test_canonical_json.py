"""The canonical JSON (RFC 8785) vectors in conformance/canonical_json/, run against agt_core.

Each vector file holds `cases` (JSON input, expected canonical text and its SHA-256) and
`errors` (JSON text that has no canonical form). The property tests below check the same rules on
generated data against references written here, independently of agt_core's implementation.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import subprocess
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agt_core import (
    MAX_SAFE_INTEGER,
    CanonicalJSONError,
    canonical_json,
    canonical_json_bytes,
    content_hash,
    sha256_hex,
)

VECTORS = Path(__file__).parent / "canonical_json"
FILES = sorted(VECTORS.glob("*.json"))
ERROR_KINDS = {"not_json", "number_overflow", "inexact_integer", "duplicate_key", "lone_surrogate"}


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key `{key}`")
        result[key] = value
    return result


def _loads(text: str) -> Any:
    """The harness's JSON reader: stdlib json, refusing duplicate keys.

    A Python dict cannot hold a duplicate key, so that check has to happen while reading.
    Everything else (NaN, 1e400 -> inf, huge integers, lone surrogates) is read as Python data
    and must be refused by agt_core itself.
    """
    return json.loads(text, object_pairs_hook=_no_duplicates)


def _vectors() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, _loads(path.read_text(encoding="utf-8"))) for path in FILES]


def _cases() -> list[Any]:
    return [
        pytest.param(case, id=f"{path.stem}:{case['name']}")
        for path, doc in _vectors()
        for case in doc["cases"]
    ]


def _errors() -> list[Any]:
    return [
        pytest.param(err, id=f"{path.stem}:{err['name']}")
        for path, doc in _vectors()
        for err in doc["errors"]
    ]


# -- the vector files ---------------------------------------------------------------------------


def test_vector_files_are_well_formed() -> None:
    assert len(FILES) >= 6
    total_cases = 0
    for path, doc in _vectors():
        assert set(doc) == {"description", "cases", "errors"}, path.name
        names = [c["name"] for c in doc["cases"]] + [e["name"] for e in doc["errors"]]
        assert len(names) == len(set(names)), f"{path.name}: duplicate names"
        for case in doc["cases"]:
            assert set(case) == {"name", "input", "canonical", "sha256"}, case["name"]
            assert case["sha256"] == hashlib.sha256(case["canonical"].encode("utf-8")).hexdigest()
        for err in doc["errors"]:
            assert set(err) == {"name", "kind", "input_json_text", "error"}, err["name"]
            assert err["kind"] in ERROR_KINDS
        # Files stay ASCII: every non-ASCII character in a vector is written as an escape.
        assert path.read_bytes().isascii(), path.name
        total_cases += len(doc["cases"])
    assert total_cases > 1000


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_generator_reproduces_the_vector_files(tmp_path: Path) -> None:
    subprocess.run(["node", str(VECTORS / "generate.mjs"), str(tmp_path)], check=True, capture_output=True)
    generated = sorted(p.name for p in tmp_path.glob("*.json"))
    assert generated == [p.name for p in FILES]
    for name in generated:
        assert (tmp_path / name).read_bytes() == (VECTORS / name).read_bytes(), name


# -- running the vectors ------------------------------------------------------------------------


@pytest.mark.parametrize("case", _cases())
def test_case(case: dict[str, Any]) -> None:
    value = case["input"]
    expected: str = case["canonical"]
    assert canonical_json(value) == expected
    assert canonical_json_bytes(value) == expected.encode("utf-8")
    assert sha256_hex(canonical_json_bytes(value)) == case["sha256"]
    assert sha256_hex(expected) == case["sha256"]
    assert content_hash(value) == "sha256:" + case["sha256"]


@pytest.mark.parametrize("case", _cases())
def test_canonical_text_is_a_fixed_point(case: dict[str, Any]) -> None:
    # Verifiers re-read stored canonical text and canonicalise it again (audit verification);
    # that includes text such as `100000000000000000000`, which json.loads reads as an int.
    assert canonical_json(_loads(case["canonical"])) == case["canonical"]


@pytest.mark.parametrize("err", _errors())
def test_error(err: dict[str, Any]) -> None:
    text = err["input_json_text"]
    if err["kind"] == "duplicate_key":
        with pytest.raises(ValueError, match="duplicate key"):
            _loads(text)
        return
    value = _loads(text)
    for function in (canonical_json, canonical_json_bytes, content_hash):
        with pytest.raises(CanonicalJSONError) as info:
            function(value)
        message = info.value.message
        assert "\n" not in message
        assert not message[0].isupper()


# -- properties on generated data ---------------------------------------------------------------

PROPERTY = settings(deadline=None, max_examples=300)

_DECIMAL_FORM = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?")
_EXPONENT_FORM = re.compile(r"-?[1-9](\.[0-9]*[1-9])?e[+-][1-9][0-9]*")


def _significant_digits(text: str) -> str:
    mantissa = text.lstrip("-").split("e")[0]
    return mantissa.replace(".", "").strip("0")


def _bracket(exact: Decimal, digits: int) -> tuple[Decimal, Decimal]:
    """The decimals of `digits` significant digits just below and just above `exact` (> 0)."""
    step = Decimal(1).scaleb(exact.adjusted() - digits + 1)
    return exact.quantize(step, rounding=ROUND_FLOOR), exact.quantize(step, rounding=ROUND_CEILING)


@PROPERTY
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_follow_ecmascript_number_to_string(x: float) -> None:
    """Number::toString, checked with exact decimal arithmetic rather than another formatter."""
    text = canonical_json(x)
    assert float(text) == x  # reads back exactly (and -0.0 is written 0)
    if x == 0:
        assert text == "0"
        return
    assert text.startswith("-") == (x < 0)
    if 1e-6 <= abs(x) < 1e21:
        assert _DECIMAL_FORM.fullmatch(text), text
    else:
        assert _EXPONENT_FORM.fullmatch(text), text
    exact = abs(Decimal(x))
    written = abs(Decimal(text))
    digits = len(_significant_digits(text))
    # As few digits as possible: neither neighbour with one digit fewer reads back as x. (Both
    # must be checked: at a power of two the gap below x is half the gap above.)
    if digits > 1:
        assert all(float(c) != abs(x) for c in _bracket(exact, digits - 1)), text
    # Of the decimals with that many digits that read back as x, the closest; an exact tie goes
    # to the even last digit.
    candidates = [c for c in set(_bracket(exact, digits)) if float(c) == abs(x)]
    assert written in candidates, text
    best = min(abs(c - exact) for c in candidates)
    assert abs(written - exact) == best, text
    if sum(abs(c - exact) == best for c in candidates) == 2:
        assert int(_significant_digits(text)[-1]) % 2 == 0, text


@PROPERTY
@given(st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER))
def test_safe_integers_are_written_in_full(n: int) -> None:
    assert canonical_json(n) == str(n)


def _exact_json_form(n: int) -> bool:
    """True when `n` is digit for digit how ECMAScript writes the double nearest to it."""
    try:
        x = float(n)
    except OverflowError:
        return False
    return abs(x) < 1e21 and int(Decimal(repr(x))) == n


_BIG = MAX_SAFE_INTEGER + 1
_big_integers = (
    st.integers(min_value=_BIG, max_value=2**1100)
    | st.floats(min_value=float(_BIG), max_value=9.999999999999999e20).map(lambda x: int(Decimal(repr(x))))
).flatmap(lambda n: st.sampled_from([n, -n, n + 1, n - 1]))


@PROPERTY
@given(_big_integers)
def test_large_integers_only_in_their_exact_json_form(n: int) -> None:
    if abs(n) <= MAX_SAFE_INTEGER:
        return
    if _exact_json_form(n):
        assert canonical_json(n) == str(n)
        assert float(canonical_json(float(n))) == float(n)
        assert canonical_json(float(n)) == str(n)  # the int and the double it names agree
    else:
        with pytest.raises(CanonicalJSONError):
            canonical_json(n)


_ALLOWED_ESCAPES = {'\\"', "\\\\", "\\b", "\\t", "\\n", "\\f", "\\r"} | {
    f"\\u{c:04x}" for c in range(0x20) if chr(c) not in "\b\t\n\f\r"
}


@PROPERTY
@given(st.text())
def test_strings_escape_only_quote_backslash_and_controls(s: str) -> None:
    text = canonical_json(s)
    assert json.loads(text) == s
    assert text[0] == text[-1] == '"'
    body = text[1:-1]
    assert not any(ord(c) < 0x20 for c in body)
    for escape in re.findall(r"\\(?:u[0-9a-fA-F]{4}|.)", body):
        assert escape in _ALLOWED_ESCAPES, escape
    # Everything else is literal: the body is the string with exactly those characters replaced.
    literal = re.sub(r"\\(?:u[0-9a-fA-F]{4}|.)", "", body)
    assert literal == "".join(c for c in s if c not in '"\\' and ord(c) >= 0x20)


@PROPERTY
@given(st.text(), st.integers(0xD800, 0xDFFF), st.text(), st.booleans())
def test_lone_surrogates_are_refused(before: str, surrogate: int, after: str, as_key: bool) -> None:
    s = before + chr(surrogate) + after
    value: Any = {s: 1} if as_key else [s]
    with pytest.raises(CanonicalJSONError):
        canonical_json(value)
    with pytest.raises(CanonicalJSONError):
        canonical_json_bytes(value)


def _utf16_units(key: str) -> list[int]:
    units: list[int] = []
    for ch in key:
        cp = ord(ch)
        if cp > 0xFFFF:
            cp -= 0x10000
            units += [0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF)]
        else:
            units.append(cp)
    return units


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
_keys = st.text(
    alphabet=st.sampled_from("aAzZ_0 é€\u2028\ue000\ufb33\uffff\U00010000\U0001f600\U0010ffff"), max_size=3
)
_json_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_keys, children, max_size=6),
    max_leaves=40,
)


@PROPERTY
@given(_json_values)
def test_documents_round_trip_with_keys_in_utf16_order(value: Any) -> None:
    text = canonical_json(value)
    key_orders: list[list[str]] = []

    def record(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        key_orders.append([k for k, _ in pairs])
        return dict(pairs)

    assert _same(json.loads(text, object_pairs_hook=record), value)
    for keys in key_orders:
        assert keys == sorted(keys, key=_utf16_units)
    assert canonical_json(json.loads(text)) == text
    assert canonical_json_bytes(value) == text.encode("utf-8")
    assert content_hash(value) == "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _same(read: Any, value: Any) -> bool:
    """Equal as JSON data: numbers compare as the doubles they denote.

    RFC 8785 writes the double 3.607901988546355e16 as ``36079019885463550``, which Python
    reads back as an int other than the exact value of the double; read as a double, it is the same.
    """
    if isinstance(value, dict):
        return (
            isinstance(read, dict)
            and read.keys() == value.keys()
            and all(_same(read[k], value[k]) for k in value)
        )
    if isinstance(value, list):
        return isinstance(read, list) and len(read) == len(value) and all(map(_same, read, value))
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return type(read) is type(value) and read == value
    return not isinstance(read, bool) and isinstance(read, int | float) and float(read) == float(value)


def _reversed_dicts(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed_dicts(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_dicts(v) for v in value]
    return value


@PROPERTY
@given(_json_values)
def test_insertion_order_does_not_matter(value: Any) -> None:
    assert canonical_json(_reversed_dicts(value)) == canonical_json(value)


@pytest.mark.parametrize("x", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_refused(x: float) -> None:
    with pytest.raises(CanonicalJSONError):
        canonical_json({"x": [x]})
