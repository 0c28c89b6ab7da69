"""Python-side behaviour of canonical JSON that language-neutral vectors cannot express.

The shared vectors (conformance/canonical_json/) cover RFC 8785 itself; here: Python types with
no JSON spelling (tuples, subclasses, non-string keys, sets), the depth limit, and that the fast
path (C encoder) and the pure-Python path give the same bytes.
"""

from __future__ import annotations

import enum
import hashlib
from collections import OrderedDict
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agt_core import (
    MAX_SAFE_INTEGER,
    CanonicalJSONError,
    GovernanceError,
    canonical_json,
    canonical_json_bytes,
    content_hash,
    sha256_hex,
)

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _one_line(exc: GovernanceError) -> None:
    assert "\n" not in exc.message
    assert exc.message == exc.message.strip()
    assert not exc.message[0].isupper()
    assert not exc.message.endswith(".")


# -- digests ------------------------------------------------------------------------------------


def test_sha256_hex_of_str_is_sha256_of_its_utf8() -> None:
    assert sha256_hex(b"") == EMPTY_SHA256
    assert sha256_hex("") == EMPTY_SHA256
    assert sha256_hex("é€😀") == hashlib.sha256("é€😀".encode()).hexdigest()
    assert sha256_hex("é") != sha256_hex("é".encode("latin-1"))


def test_content_hash_is_prefixed_sha256_of_canonical_bytes() -> None:
    value = {"b": [1.5, "x"], "a": None}
    assert content_hash(value) == "sha256:" + hashlib.sha256(b'{"a":null,"b":[1.5,"x"]}').hexdigest()
    assert content_hash({"a": None, "b": [1.5, "x"]}) == content_hash(value)


def test_canonical_json_bytes_are_utf8_of_canonical_json() -> None:
    value = {"\u2028": "é", "k": 1e-7}
    assert canonical_json_bytes(value) == canonical_json(value).encode("utf-8")
    assert canonical_json_bytes(value) == '{"k":1e-7,"\u2028":"é"}'.encode()


# -- Python types -------------------------------------------------------------------------------


def test_tuples_are_arrays() -> None:
    assert canonical_json((1, (2, "x"), [])) == '[1,[2,"x"],[]]'


def test_bool_is_not_written_as_int() -> None:
    assert canonical_json([True, False, 1, 0]) == "[true,false,1,0]"
    assert canonical_json({"t": True, "f": 0.0}) == '{"f":0,"t":true}'


class _Color(enum.IntEnum):
    RED = 1


class _Name(enum.StrEnum):
    ALICE = "alice"


class _Float(float):
    """Like numpy.float64: a float whose repr and abs are its own."""

    def __repr__(self) -> str:
        return f"_Float({float(self)!r})"

    def __abs__(self) -> _Float:
        return _Float(float.__abs__(self))


def test_int_str_and_float_subclasses_are_written_as_their_value() -> None:
    assert canonical_json({"c": _Color.RED, "n": _Name.ALICE}) == '{"c":1,"n":"alice"}'
    assert canonical_json([_Float(-2.5e-7), _Float(3.0)]) == "[-2.5e-7,3]"


def test_mapping_subclass_sorts_like_dict() -> None:
    ordered = OrderedDict([("b", 1), ("a", 2)])
    assert canonical_json(ordered) == canonical_json({"a": 2, "b": 1}) == '{"a":2,"b":1}'


@pytest.mark.parametrize("key", [1, 1.5, None, True, ("a",), b"a"])
def test_non_string_keys_are_refused(key: Any) -> None:
    with pytest.raises(CanonicalJSONError, match="object key") as info:
        canonical_json({key: 1})
    _one_line(info.value)
    # Mixing with string keys must not slip through the sort either.
    with pytest.raises(CanonicalJSONError):
        canonical_json({"a": 1, key: 2})


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        ({1, 2}, "set"),
        (b"bytes", "bytes"),
        (Decimal("1.5"), "Decimal"),
        (datetime(2026, 1, 1), "datetime"),
        (object(), "object"),
        (complex(1, 2), "complex"),
    ],
)
def test_values_without_a_json_form_are_refused(value: Any, type_name: str) -> None:
    with pytest.raises(CanonicalJSONError) as info:
        canonical_json({"x": [value]})
    assert f"`{type_name}`" in info.value.message
    _one_line(info.value)


def test_lone_surrogate_is_refused_by_canonical_json_itself() -> None:
    # Not only when encoding to bytes: the str form must never hold text that cannot be hashed.
    for value in ["\ud800", {"k": "a\udfffb"}, {"\udc00": 1}, ["\ud83d\ude00"]]:
        with pytest.raises(CanonicalJSONError, match="lone surrogate") as info:
            canonical_json(value)
        _one_line(info.value)
        with pytest.raises(CanonicalJSONError):
            canonical_json_bytes(value)
        with pytest.raises(CanonicalJSONError):
            content_hash(value)


def test_surrogate_pair_code_points_are_not_a_character() -> None:
    # "\ud83d\ude00" in a Python str is two code points, not U+1F600.
    assert canonical_json("\U0001f600") == '"\U0001f600"'
    with pytest.raises(CanonicalJSONError):
        canonical_json("\ud83d\ude00")


# -- integers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (MAX_SAFE_INTEGER, "9007199254740991"),
        (-MAX_SAFE_INTEGER, "-9007199254740991"),
        (2**53, "9007199254740992"),
        (10**20, "100000000000000000000"),
        (295147905179352830000, "295147905179352830000"),  # how RFC 8785 writes 2.0**68
    ],
)
def test_large_integers_in_their_exact_json_form(value: int, text: str) -> None:
    assert canonical_json(value) == text
    assert canonical_json(float(value)) == text


@pytest.mark.parametrize(
    "value",
    [2**53 + 1, -(2**53 + 1), 2**64, 2**68, 10**21, 2**1024, -(10**400), 10**5000],
    ids=["2**53+1", "-(2**53+1)", "2**64", "2**68", "10**21", "2**1024", "-(10**400)", "10**5000"],
)
def test_inexact_integers_are_refused(value: int) -> None:
    # 10**5000 would make str() raise ValueError (int max str digits); it must stay our error.
    with pytest.raises(CanonicalJSONError) as info:
        canonical_json({"id": value})
    _one_line(info.value)
    assert info.value.help == "pass large identifiers as strings"


def test_integer_error_names_the_value() -> None:
    with pytest.raises(CanonicalJSONError, match="`9007199254740993`"):
        canonical_json(2**53 + 1)


# -- depth --------------------------------------------------------------------------------------


def _nest(levels: int, leaf: Any, as_dict: bool = False) -> Any:
    value = leaf
    for _ in range(levels):
        value = {"k": value} if as_dict else [value]
    return value


@pytest.mark.parametrize("leaf", [1, "s", None, 1.5, "é", 2**60])
@pytest.mark.parametrize("as_dict", [False, True])
def test_depth_limit_is_the_same_whatever_the_leaves(leaf: Any, as_dict: bool) -> None:
    # The C-encoder fast path (ints, strs) and the pure-Python path (floats, non-ASCII, big
    # ints) must agree on where the limit is: the same structure cannot hash on one and not the
    # other.
    if leaf == 2**60:
        leaf = float(leaf)
    canonical_json(_nest(256, leaf, as_dict))
    with pytest.raises(CanonicalJSONError, match="deeper than 256") as info:
        canonical_json(_nest(257, leaf, as_dict))
    _one_line(info.value)


def test_self_containing_value_is_refused_not_a_recursion_error() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(CanonicalJSONError):
        canonical_json(cyclic)
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(CanonicalJSONError):
        canonical_json(loop)


# -- fast path == slow path ---------------------------------------------------------------------


def _to_ordered(value: Any) -> Any:
    """The same data, but with dict subclasses, which always take the pure-Python path."""
    if isinstance(value, dict):
        return OrderedDict((k, _to_ordered(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_to_ordered(v) for v in value]
    return value


_plain_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.text(st.characters(exclude_categories=["Cs"]), max_size=10),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(st.characters(max_codepoint=0x7F), max_size=4), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(deadline=None, max_examples=300)
@given(_plain_values)
def test_fast_path_and_pure_python_path_agree(value: Any) -> None:
    assert canonical_json(value) == canonical_json(_to_ordered(value))


def test_error_is_a_governance_error() -> None:
    assert issubclass(CanonicalJSONError, GovernanceError)


def test_sha256_hex_of_text_with_a_lone_surrogate_is_our_error() -> None:
    with pytest.raises(CanonicalJSONError, match="lone surrogate"):
        sha256_hex("a\ud800")
