"""The evaluation fast paths decide exactly what the Python evaluator decides.

The native set numbers every request path its conditions read, reads each at most once per
evaluation (variables such as ``args`` looked up once for all their paths), and shares the
Decision of a simple outcome (a default, or one rule matched) through a table indexed by stage,
policy and rule. Each of those is attacked here: sets that read more paths than the memo keeps
inline, requests whose variables are not maps, decisions that differ only in their stage or
policy, and threads evaluating one set at once.
"""

from __future__ import annotations

import copy
import threading
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agent_os

pytestmark = pytest.mark.filterwarnings("ignore:rule .* every request without:agt_core.PolicyWarning")


def compile_both(policies: Any) -> tuple[Any, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        python = agent_os.compile_policies(copy.deepcopy(policies), evaluator="python")
        native = agent_os.compile_policies(copy.deepcopy(policies), evaluator="native")
    return python, native


def same(native: Any, python: Any) -> bool:
    return bool(
        native.model_copy(update={"evaluator": None}) == python.model_copy(update={"evaluator": None})
    )


def request(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "action": {"type": "read", "tool": "t"},
        "args": {},
        "agent": {"id": "a"},
        "context": {},
        "stage": "pre_tool",
    }
    base.update(overrides)
    return base


# -- many paths: more than the memo keeps inline, across several of its chunks ---------------------

_FIELDS = [f"f{i}" for i in range(70)]
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(["x", "y", ""]),
    st.lists(st.integers(0, 2), max_size=2),
)
_ATOMS = st.one_of(
    st.builds(
        lambda f, v: f"args.{f} == {v}",
        st.sampled_from(_FIELDS),
        st.sampled_from(["1", "'x'", "null", "true"]),
    ),
    st.builds(lambda f: f"args.{f} > 0", st.sampled_from(_FIELDS)),
    st.builds(lambda f: f"has(args.{f})", st.sampled_from(_FIELDS)),
    st.builds(lambda f: f"context.{f}.v in [1, 'x']", st.sampled_from(_FIELDS[:20])),
    st.builds(lambda f, g: f"args.{f} == args.{g}", st.sampled_from(_FIELDS), st.sampled_from(_FIELDS)),
    st.builds(lambda t: f"action.type == '{t}'", st.sampled_from(["read", "drop"])),
)
_RULES = st.lists(
    st.fixed_dictionaries(
        {
            "condition": st.builds(lambda a, b: f"{a} && {b}", _ATOMS, _ATOMS) | _ATOMS,
            "action": st.sampled_from(["allow", "deny", "require_approval", "warn", "log"]),
        }
    ),
    min_size=20,
    max_size=60,
)
_ARGS = st.one_of(
    st.dictionaries(st.sampled_from(_FIELDS), _VALUES, max_size=50),
    st.sampled_from([None, "args", [1, 2], {"$opaque": "bytes"}]),
)
_CONTEXT = st.one_of(
    st.dictionaries(
        st.sampled_from(_FIELDS[:20]), st.one_of(st.fixed_dictionaries({"v": _VALUES}), _VALUES), max_size=10
    ),
    st.just([]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules=_RULES,
    default=st.sampled_from(["allow", "deny"]),
    requests=st.lists(st.tuples(_ARGS, _CONTEXT, st.sampled_from(["read", "drop"])), min_size=1, max_size=4),
)
def test_sets_reading_many_paths_decide_identically(
    rules: list[dict[str, Any]], default: str, requests: list[tuple[Any, Any, str]]
) -> None:
    policy = {
        "apiVersion": "governance.toolkit/v1",
        "name": "wide",
        "default_action": default,
        "rules": [{"name": f"r{i}", **rule} for i, rule in enumerate(rules)],
    }
    python, native = compile_both(policy)
    for args, context, action in requests:
        req = request(args=args, context=context, action={"type": action, "tool": "t"})
        got, expected = native.evaluate(copy.deepcopy(req)), python.evaluate(copy.deepcopy(req))
        assert same(got, expected), f"request {req}\nnative {got!r}\npython {expected!r}"


# -- shared decisions ------------------------------------------------------------------------------

TWO_POLICIES: list[dict[str, Any]] = [
    {
        "apiVersion": "governance.toolkit/v1",
        "name": "first",
        "default_action": "allow",
        "rules": [
            {"name": "no-drop", "condition": "action.type == 'drop'", "action": "deny"},
            {"name": "after", "condition": "result == 'x'", "action": "deny", "stage": "post_tool"},
        ],
    },
    {
        "apiVersion": "governance.toolkit/v1",
        "name": "second",
        "agents": ["b*"],
        "default_action": "deny",
        "rules": [{"name": "reads", "condition": "action.type == 'read'", "action": "allow"}],
    },
]


def test_a_shared_default_decision_is_never_returned_for_another_stage_or_policy() -> None:
    python, native = compile_both(TWO_POLICIES)
    cases = [
        request(),  # agent a: only `first` applies; its default at pre_tool
        request(stage="post_tool", result="y"),  # the same default, at post_tool
        request(stage="pre_input"),  # and at a stage without rules
        request(agent={"id": "bob"}, action={"type": "write", "tool": "t"}),  # `second`'s default decides
        request(agent={"id": "bob"}),  # `second`'s rule matched, `first`'s default
        request(action={"type": "drop", "tool": "t"}),  # one rule matched
        request(stage="post_tool", result="x"),  # one rule matched at another stage
    ]
    # evaluated twice in two orders: whichever fills a shared entry first, each gets its own decision
    for order in (cases, list(reversed(cases))):
        for req in order:
            got, expected = native.evaluate(copy.deepcopy(req)), python.evaluate(copy.deepcopy(req))
            assert same(got, expected), f"request {req}\nnative {got!r}\npython {expected!r}"
    stages = {native.evaluate(request(stage=s)).stage for s in ("pre_tool", "post_tool", "pre_input")}
    assert stages == {"pre_tool", "post_tool", "pre_input"}
    assert native.evaluate(request()) is native.evaluate(request())
    assert native.evaluate(request()) is not native.evaluate(request(stage="post_tool"))


def test_threads_sharing_one_set_each_get_their_own_decision() -> None:
    python, native = compile_both(TWO_POLICIES)
    requests = [
        request(),
        request(stage="post_tool", result="x"),
        request(agent={"id": "bob"}),
        request(agent={"id": "bob"}, action={"type": "write", "tool": "t"}),
        request(action={"type": "drop", "tool": "t"}),
        request(args=[1]),
        request(agent={"id": 7}),
    ]
    expected = [python.evaluate(copy.deepcopy(r)) for r in requests]
    failures: list[str] = []
    start = threading.Barrier(6)

    def worker(offset: int) -> None:
        start.wait()
        for i in range(600):
            k = (i + offset) % len(requests)
            got = native.evaluate(requests[k])
            if not same(got, expected[k]):
                failures.append(f"request {requests[k]}: {got!r}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


# -- variables read once ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [{"a": 1, "b": {"c": 2}}, [1], "text", None, {"$opaque": "socket"}, {"a": {"$bytes": 3}}, {"b": []}],
    ids=repr,
)
def test_a_variable_read_by_several_paths_fails_as_each_path_alone(args: Any) -> None:
    policy = {
        "apiVersion": "governance.toolkit/v1",
        "name": "v",
        "default_action": "allow",
        "rules": [
            {"name": "one", "condition": "args.a == 1", "action": "deny"},
            {"name": "two", "condition": "args.b.c > 1", "action": "allow"},
            {"name": "three", "condition": "args.a.x == 1", "action": "require_approval"},
            {"name": "four", "condition": "has(args.b) && size(args) > 0", "action": "warn"},
        ],
    }
    python, native = compile_both(policy)
    req = request(args=args)
    got, expected = native.evaluate(copy.deepcopy(req)), python.evaluate(copy.deepcopy(req))
    assert same(got, expected), f"native {got!r}\npython {expected!r}"


def test_shared_decisions_stay_right_past_the_cache_bound() -> None:
    # 13 annotating rules: 8,192 distinct matched sets, twice the decisions the cache keeps
    policy = {
        "apiVersion": "governance.toolkit/v1",
        "name": "many",
        "default_action": "allow",
        "rules": [{"name": f"b{i}", "condition": f"args.b{i} == true", "action": "log"} for i in range(13)],
    }
    python, native = compile_both(policy)
    for n in [*range(8192), *range(0, 8192, 97)]:
        req = request(args={f"b{i}": bool(n >> i & 1) for i in range(13)})
        got = native.evaluate(req)
        assert [m.rule for m in got.matched] == [f"b{i}" for i in range(13) if n >> i & 1]
        if n % 61 == 0:
            assert same(got, python.evaluate(copy.deepcopy(req)))
