"""Properties of the request facets on generated input: no stacking, casing, spacing or comment
hides a statement's verb, and no input makes derivation raise or produce something else than
well-formed facts or an unreadable value."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agent_os._facets import k8s_facets, sql_facets

# (statement, its verb, whether it writes)
FRAGMENTS = [
    ("SELECT id FROM orders", "SELECT", False),
    ("select * from customers where name = 'DROP TABLE x; --'", "SELECT", False),
    ("DROP TABLE orders", "DROP", True),
    ("TRUNCATE orders", "TRUNCATE", True),
    ("DELETE FROM orders WHERE id = 1", "DELETE", True),
    ("UPDATE orders SET total = 0", "UPDATE", True),
    ("INSERT INTO orders VALUES (1)", "INSERT", True),
    ("ALTER TABLE orders ADD COLUMN c INT", "ALTER", True),
    ("GRANT ALL ON orders TO mallory", "GRANT", True),
    ("CREATE TABLE t (a INT)", "CREATE", True),
]
SEPARATORS = [";", " ; ", ";\n", "; /* ; DROP */ ", ";-- DELETE\n", ";\t\t"]


def _recase(text: str, seed: int) -> str:
    rng = random.Random(seed)
    out = []
    quoted = False
    for ch in text:
        quoted = quoted != (ch == "'")
        out.append(ch if quoted else (ch.upper() if rng.random() < 0.5 else ch.lower()))
    return "".join(out)


@settings(max_examples=150, deadline=None)
@given(
    picks=st.lists(st.sampled_from(range(len(FRAGMENTS))), min_size=1, max_size=4),
    separators=st.lists(st.sampled_from(SEPARATORS), min_size=4, max_size=4),
    seed=st.integers(0, 2**16),
    trailing=st.booleans(),
)
def test_stacking_casing_and_comments_never_hide_a_verb(
    picks: list[int], separators: list[str], seed: int, trailing: bool
) -> None:
    parts = [FRAGMENTS[i][0] for i in picks]
    text = parts[0]
    for part, separator in zip(parts[1:], separators, strict=False):
        text += separator + part
    text = _recase(text, seed) + (";" if trailing else "")
    facts = sql_facets(text)
    verbs = {FRAGMENTS[i][1] for i in picks}
    assert facts["verbs"] == sorted(verbs), text
    assert facts["statements"] == len(picks), text
    assert facts["writes"] == any(FRAGMENTS[i][2] for i in picks), text
    if len(verbs) == 1:
        assert facts["verb"] == next(iter(verbs))
    else:
        assert set(facts["verb"]) == {"$opaque"}, text


def _well_formed(facts: Any, keys: set[str]) -> bool:
    if set(facts) == {"$opaque"}:
        return isinstance(facts["$opaque"], str)
    return set(facts) == keys


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=200) | st.from_regex(r"(SELECT|DROP|WITH|INSERT|;|'|--|/\*| |\(|\)|\w)*", fullmatch=True)
)
def test_any_text_gives_facts_or_an_unreadable_value(text: str) -> None:
    facts = sql_facets(text)
    assert _well_formed(
        facts, {"statements", "verbs", "verb", "writes", "tables", "qualified_tables", "functions"}
    )


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["GET", "get", "POST", "PUT", "PATCH", "DELETE", "HEAD", "TRACE", ""]),
    path=st.text(alphabet="/apinmesvdoc.%?=&1-_watch", max_size=60),
)
def test_any_kubernetes_request_gives_facts_or_an_unreadable_value(method: str, path: str) -> None:
    facts = k8s_facets(method, path)
    assert _well_formed(
        facts, {"verb", "group", "version", "resource", "name", "subresource", "namespace", "command"}
    )
    if "$opaque" not in facts:
        segments = path.split("?", maxsplit=1)[0].split("/")
        assert ".." not in segments and "%" not in path.split("?", maxsplit=1)[0]


WORDS = ["kubectl", "get", "delete", "exec", "cp", "logs", "-n", "-nprod", "--namespace=dev", "-A", "--all"]
WORDS += [
    "pods",
    "pod/web",
    "ns",
    "production",
    "web-1",
    "--",
    "-f",
    "x.yaml",
    "-l",
    "a=b",
    "--bogus",
    "'",
    ":",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=8))
def test_any_kubectl_command_gives_facts_or_an_unreadable_value(words: list[str]) -> None:
    from agent_os._facets import compile_facets

    facets = compile_facets({"k8s": {"command": "cmd"}})
    assert facets is not None
    for command in (words, " ".join(words)):
        facts = facets.apply({"args": {"cmd": command}})["k8s"]
        assert _well_formed(
            facts, {"verb", "group", "version", "resource", "name", "subresource", "namespace", "command"}
        )
