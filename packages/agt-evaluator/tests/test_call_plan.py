"""The native call plan (one crossing per governed call) against agent-os's general path.

`govern()` decides a common call through `NativePolicySet.call_plan` when nothing else in the
pipeline needs to see it. These tests hold the two paths to the same outcome for the caller,
the same arguments for the tool, the same decisions and the same audit records, and attack the
places where a shortcut could differ: text the general path normalises, values it freezes,
extensions added after wrapping, and records written by both paths into one chain.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_os import AuditLog, govern, governance_context, pipeline
from agt_core import (
    GENESIS_HASH,
    GovernanceDenied,
    audit_record_body,
    canonical_json,
    record_hash,
)

pytestmark = pytest.mark.filterwarnings("ignore:rule .* every request without:agt_core.PolicyWarning")

POLICY: dict[str, Any] = {
    "apiVersion": "governance.toolkit/v1",
    "name": "plan-policy",
    "default_action": "allow",
    "rules": [
        {"name": "no-drop", "condition": "action.type in ['drop', 'delete', 'truncate']", "action": "deny"},
        {"name": "no-secrets", "condition": "has(args.table) && args.table == 'secrets'", "action": "deny"},
        {"name": "huge", "condition": "has(args.limit) && args.limit > 1000", "action": "deny"},
        {"name": "prod", "condition": "has(context.env) && context.env == 'prod'", "action": "deny"},
        {"name": "auditor", "condition": "agent.id == 'auditor' && action.type != 'read'", "action": "deny"},
        {"name": "noted", "condition": "has(args.note) && args.note.startsWith('x')", "action": "warn"},
        {"name": "logged", "condition": "has(args.dry_run) && args.dry_run == true", "action": "log"},
        {"name": "keys", "condition": "args.exists(k, k == 'mode') && args.mode == 'w'", "action": "deny"},
        {"name": "first-key", "condition": "size(args) > 0 && args.map(k, k)[0] == 'zz'", "action": "deny"},
        {"name": "tool-name", "condition": "action.tool == 'blocked_tool'", "action": "deny"},
        {"name": "whole-action", "condition": "size(action) != 2", "action": "deny"},
        {"name": "unguarded", "condition": "action.tool == 'tool_c' && args.amount > 5000", "action": "deny"},
        # errors (fails closed) when zz is None or text: the default of tool_b's zz is None
        {"name": "kinds", "condition": "action.tool == 'tool_b' && args.zz > 3", "action": "deny"},
        {"name": "pattern", "condition": "has(args.path) && args.path.matches('^/etc/')", "action": "deny"},
        {
            "name": "send",
            "condition": "action.type == 'send'",
            "action": "require_approval",
            "approvers": ["ops"],
        },
        {"name": "stage", "condition": "stage != 'pre_tool'", "action": "deny"},
    ],
}


def tool_a(action: str, table: str, limit: int = 10, dry_run: bool = False, note: str | None = None) -> Any:
    return {"action": action, "table": table, "limit": limit, "dry_run": dry_run, "note": note}


def tool_b(path, mode="r", zz=None):  # type: ignore[no-untyped-def]  # no annotations on purpose
    return {"path": path, "mode": mode, "zz": zz}


def tool_c(*, action: Any, amount: int, currency: str = "usd") -> Any:
    return {"action": action, "amount": amount, "currency": currency}


TOOLS: dict[str, Callable[..., Any]] = {"tool_a": tool_a, "tool_b": tool_b, "tool_c": tool_c}


class _Nothing:
    """An enricher that adds nothing: its presence alone sends every call down the general path."""

    name = "nothing"

    def enrich(self, request: Any) -> None:
        return None


def pair(fn: Callable[..., Any], **options: Any) -> tuple[Any, Any]:
    """The same tool governed twice: with the native plan, and on the general path."""
    planned = govern(fn, policy=POLICY, audit=AuditLog(), lint=False, **options)
    general = govern(fn, policy=POLICY, audit=AuditLog(), enrichers=[_Nothing()], lint=False, **options)
    assert planned.native_plan is not None
    assert general.native_plan is None
    return planned, general


def outcome(governed: Any, kwargs: dict[str, Any]) -> tuple[Any, ...]:
    try:
        result = governed(**kwargs)
    except GovernanceDenied as exc:
        return ("denied", str(exc), exc.help, exc.decision.model_dump())
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc))
    return ("ran", result, {k: type(v) for k, v in result.items()})


def records(log: AuditLog) -> list[dict[str, Any]]:
    """The log's records without their times (and so without their hashes)."""
    out = []
    for line in log.lines():
        record = json.loads(line)
        del record["timestamp"], record["hash"], record["prev_hash"]
        if record["approval"] is not None:
            del record["approval"]["decided_at"]
        out.append(record)
    return out


def assert_same(planned: Any, general: Any, kwargs: dict[str, Any]) -> None:
    assert outcome(planned, kwargs) == outcome(general, kwargs), kwargs
    assert records(planned.audit_log) == records(general.audit_log), kwargs
    assert planned.audit_log.verify(deep=True) == len(planned.audit_log)


# -- the differential property ---------------------------------------------------------------

ASCII = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=12)
WORDS = st.sampled_from(
    [
        "read",
        "READ",
        " Drop ",
        "drop\x1c",
        "\x1fdelete\t",
        "send",
        "secrets",
        "w",
        "r",
        "/etc/passwd",
        "x1",
        "zz",
    ]
)
UNICODE = st.sampled_from(["ＤＲＯＰ", "dr\u200bop", "ré", "\U0001f600", "dro\u0070\u0301"])
SCALARS = st.one_of(
    ASCII,
    WORDS,
    UNICODE,
    st.booleans(),
    st.none(),
    st.integers(-(2**53) - 2, 2**53 + 2),
    st.sampled_from([0, 1000, 1001, 5001, -1, 2**53 - 1, 2**53, -(2**53) + 1, 2**64]),
    st.floats(allow_nan=False),
)
VALUES = st.one_of(
    SCALARS, SCALARS, SCALARS, st.lists(SCALARS, max_size=2), st.dictionaries(ASCII, SCALARS, max_size=2)
)
NAMES = st.sampled_from(
    ["action", "table", "limit", "dry_run", "note", "path", "mode", "zz", "amount", "currency", "other"]
)


def mostly(common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`common` nine times in ten (hypothesis's one_of does not weight repeated strategies)."""
    return st.integers(0, 9).flatmap(lambda i: rare if i == 0 else common)


TEXT = mostly(st.one_of(ASCII, WORDS), UNICODE)
INTS = mostly(
    st.one_of(st.integers(-10_000, 10_000), st.sampled_from([0, 3, 4, 1000, 1001, 5001, -1, 2**53 - 1])),
    st.one_of(st.integers(-(2**53) - 2, 2**53 + 2), st.sampled_from([2**53, -(2**53), 2**64])),
)
# Mostly what each parameter is declared (or meant) to take, so most calls are ones the plan
# covers; sometimes anything at all.
PARAMS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "tool_a": {
        "action": TEXT,
        "table": TEXT,
        "limit": INTS,
        "dry_run": st.booleans(),
        "note": st.one_of(st.none(), TEXT),
    },
    "tool_b": {"path": TEXT, "mode": TEXT, "zz": st.one_of(st.none(), INTS, TEXT)},
    "tool_c": {"action": st.one_of(st.none(), TEXT), "amount": INTS, "currency": TEXT},
}
REQUIRED = {"tool_a": {"action", "table"}, "tool_b": {"path"}, "tool_c": {"action", "amount"}}


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    tool = draw(st.sampled_from(sorted(TOOLS)))
    kwargs: dict[str, Any] = {}
    for name in draw(st.permutations(sorted(PARAMS[tool]))):  # keyword order is part of the request
        if name in REQUIRED[tool] or draw(st.booleans()):
            kwargs[name] = draw(mostly(PARAMS[tool][name], VALUES))
    if draw(st.integers(0, 9)) == 0:
        kwargs[draw(NAMES)] = draw(VALUES)  # an unknown or repeated name
    if kwargs and draw(st.integers(0, 9)) == 0:
        del kwargs[draw(st.sampled_from(sorted(kwargs)))]  # maybe a required one
    return tool, kwargs


PAIRS = {name: pair(fn) for name, fn in TOOLS.items()}
AUDITOR_PAIRS = {name: pair(fn, agent_id="auditor") for name, fn in TOOLS.items()}
COVERAGE = {"covered": 0, "declined": 0}


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(call=calls(), auditor=st.booleans())
def test_the_plan_and_the_general_path_agree_on_everything(
    call: tuple[str, dict[str, Any]], auditor: bool
) -> None:
    tool, kwargs = call
    planned, general = (AUDITOR_PAIRS if auditor else PAIRS)[tool]
    try:
        covered = planned.native_plan.decide(kwargs) is not None
    except UnicodeEncodeError:
        covered = False
    COVERAGE["covered" if covered else "declined"] += 1
    assert_same(planned, general, kwargs)


def test_the_property_exercised_the_plan_and_the_general_path() -> None:
    # Runs after the property above (file order): most generated calls took the plan, many did not.
    if sum(COVERAGE.values()) == 0:
        pytest.skip("the property test did not run in this session")
    assert COVERAGE["covered"] > 200 and COVERAGE["declined"] > 100, COVERAGE


# -- the plan covers the common call ---------------------------------------------------------

COVERED = [
    ("tool_a", {"action": "read", "table": "users"}),
    ("tool_a", {"table": "users", "action": "READ ", "limit": 5, "dry_run": True, "note": "xy"}),
    ("tool_a", {"action": "drop", "table": "users"}),
    ("tool_a", {"action": "read", "table": "secrets"}),
    ("tool_a", {"action": "read", "table": "t", "limit": 1001}),
    ("tool_b", {"path": "/etc/shadow"}),
    ("tool_b", {"path": "/tmp/x", "mode": "w"}),
    ("tool_b", {"zz": 1, "path": "p"}),
    ("tool_c", {"action": None, "amount": 3}),
    ("tool_c", {"action": "Read", "amount": 6000}),
]


@pytest.mark.parametrize(("tool", "kwargs"), COVERED)
def test_common_calls_are_decided_by_the_plan_and_agree(tool: str, kwargs: dict[str, Any]) -> None:
    planned, general = PAIRS[tool]
    assert planned.native_plan.decide(kwargs) is not None  # covered: no detour through the kernel
    assert_same(planned, general, kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"action": "ＤＲＯＰ", "table": "users"},  # fullwidth: NFKC makes it `drop`
        {"action": "dr\u200bop", "table": "users"},  # zero-width space inside
        {"action": "drop", "table": "users", "extra": 1},  # not a parameter
        {"table": "users"},  # a required argument missing
        {"action": 1, "table": "users"},  # an action that is not text
        {"action": "read", "table": ["users"]},  # a list: frozen by the general path
        {"action": "read", "table": "users", "limit": True},  # bool where int is declared
        {"action": "read", "table": "users", "limit": 2**53},  # beyond JSON's exact integers
        {"action": "read", "table": "users", "limit": 1.5},  # a float
    ],
)
def test_calls_the_plan_does_not_cover_exactly_are_declined_and_decided_by_the_kernel(
    kwargs: dict[str, Any],
) -> None:
    planned, general = PAIRS["tool_a"]
    assert planned.native_plan.decide(kwargs) is None
    assert_same(planned, general, kwargs)


def test_normalised_lookalikes_of_a_denied_action_are_still_denied() -> None:
    planned, _ = PAIRS["tool_a"]
    for spelling in ("ＤＲＯＰ", "DROP", " drop\x1c", "\x1f\x0bDelete\r\n", "TRUNCATE\x1d"):
        with pytest.raises(GovernanceDenied, match="no-drop"):
            planned(action=spelling, table="users")


def test_str_subclasses_cannot_steer_the_plan() -> None:
    class Sneaky(str):
        def lower(self) -> str:  # type: ignore[override]
            return "read"

        def strip(self, chars: str | None = None) -> str:  # type: ignore[override]
            return "read"

    planned, _ = PAIRS["tool_a"]
    with pytest.raises(GovernanceDenied, match="no-drop"):
        planned(action=Sneaky("DROP"), table="users")
    assert planned.native_plan.decide({"action": Sneaky("DROP"), "table": "users"}) is None


async def tool_async(action: str, table: str, limit: int = 10) -> Any:
    return {"action": action, "table": table, "limit": limit}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"action": "read", "table": "users"},
        {"action": " DROP\x1c", "table": "users"},
        {"action": "ＤＲＯＰ", "table": "users"},
        {"action": "read", "table": "secrets", "limit": 3},
        {"action": "read", "table": ["users"]},
        {"action": "send", "table": "t"},
        {"table": "users"},
    ],
)
def test_async_tools_take_the_plan_too_and_agree(kwargs: dict[str, Any]) -> None:
    planned, general = pair(tool_async)

    def sync(governed: Any) -> Any:
        return lambda **kw: asyncio.run(governed(**kw))

    assert outcome(sync(planned), kwargs) == outcome(sync(general), kwargs)
    assert records(planned.audit_log) == records(general.audit_log)
    assert planned.audit_log.verify(deep=True) == len(planned.audit_log) == len(general.audit_log)


# -- when the plan is made, and what is checked at each call -----------------------------------


@pytest.mark.filterwarnings("ignore::agt_core.PolicyWarning")
def test_no_plan_when_the_kernel_has_work_the_plan_does_not_do() -> None:
    def tool(action: str) -> str:
        return action

    observer = type(
        "O", (), {"name": "o", "on_decision": lambda s, o: None, "on_completion": lambda *a: None}
    )()
    guard = type("G", (), {"name": "g", "check": lambda s, r: None})()
    limited = {
        **POLICY,
        "rules": [{"name": "r", "condition": "true", "action": "allow", "limit": "5/minute"}],
    }
    post = {
        **POLICY,
        "rules": [
            *POLICY["rules"],
            {"name": "p", "condition": "true", "action": "log", "stage": "post_tool"},
        ],
    }
    assert govern(tool, policy=POLICY).native_plan is not None
    assert govern(tool, policy=POLICY, audit=False).native_plan is not None
    for options in (
        {"policy": POLICY, "enrichers": [_Nothing()]},
        {"policy": POLICY, "guards": [guard]},
        {"policy": POLICY, "observers": [observer]},
        {"policy": POLICY, "redaction": True},
        {"policy": POLICY, "evaluator": "python"},
        {"policy": POLICY, "audit": AuditLog(sink=lambda line: None)},
        {"policy": limited},
        {"policy": post},
    ):
        assert govern(tool, **options).native_plan is None, options

    def method_like(self: Any, action: str) -> str:
        return action

    def variadic(action: str, **rest: Any) -> str:
        return action

    assert govern(method_like, policy=POLICY).native_plan is None
    assert govern(variadic, policy=POLICY).native_plan is None


def test_a_guard_added_to_the_pipeline_after_wrapping_still_sees_every_call() -> None:
    planned, _ = pair(tool_a)
    planned(action="read", table="users")

    class Refuse:
        name = "late-guard"

        def check(self, request: Any) -> str:
            return "closed for maintenance"

    guard = Refuse()
    pipeline().add_guard(guard)
    try:
        with pytest.raises(GovernanceDenied, match="late-guard"):
            planned(action="read", table="users")
    finally:
        pipeline().remove(guard)
    planned(action="read", table="users")
    decisions = [r.decision for r in planned.audit_log.records()]
    assert [d.refused_by for d in decisions] == [None, "guard:late-guard", None]


def test_governance_context_reaches_the_policy_on_a_planned_tool() -> None:
    planned, _ = pair(tool_a)
    with governance_context(env="prod"), pytest.raises(GovernanceDenied, match="prod"):
        planned(action="read", table="users")
    assert planned(action="read", table="users")["table"] == "users"


def test_an_approval_rule_goes_to_the_approval_handler() -> None:
    asked: list[Any] = []

    def approve(request: Any) -> Any:
        asked.append(request)
        return request.approve("alice")

    from agent_os import CallbackApproval

    planned = govern(tool_a, policy=POLICY, audit=AuditLog(), approval_handler=CallbackApproval(approve))
    assert planned.native_plan is not None
    assert planned(action="send", table="t")["action"] == "send"
    (record,) = planned.audit_log.records()
    assert len(asked) == 1 and record.approval is not None and record.approval.approver == "alice"


def test_positional_calls_take_the_general_path_and_agree() -> None:
    planned, general = PAIRS["tool_a"]
    for call in (("read", "users"), ("drop", "users"), ("read", "secrets", 5)):
        got = []
        for governed in (planned, general):
            try:
                got.append(("ran", governed(*call)))
            except GovernanceDenied as exc:
                got.append(("denied", str(exc)))
        assert got[0] == got[1]


# -- the audit chain ----------------------------------------------------------------------------


def test_the_planned_record_is_agt_cores_record_to_the_byte() -> None:
    # Text that needs escaping, a null and the most negative safe integer: the request the plan
    # writes must be the builder's canonical JSON, and the record agt-core's layout and hash.
    planned, general = pair(tool_a)
    kwargs = {"action": "Read", "table": 'us"e\\rs\x01', "note": None, "limit": -(2**53) + 1}
    decision = planned.native_plan.decide(kwargs)
    for _ in range(2):
        planned(**kwargs)
    general(**kwargs)
    request_json = canonical_json(json.loads(general.audit_log.lines()[0])["request"])
    prev = GENESIS_HASH
    for seq, (digest, body) in enumerate(planned.audit_log._native.snapshot()[0]):
        stamp = json.loads(body)["timestamp"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp)  # UtcClock's shape
        expected = audit_record_body(
            seq=seq,
            timestamp=stamp,
            prev_hash=prev,
            request_json=request_json,
            decision_json=decision.canonical_json(),
            approval_json="null",
        )
        assert body == expected
        assert digest == record_hash(expected)
        prev = digest


def test_planned_and_general_records_interleaved_from_threads_form_one_chain() -> None:
    log = AuditLog()

    def store(path: str, tags: Any = None) -> None:
        return None

    planned = govern(store, policy=POLICY, audit=log, lint=False)
    general = govern(store, policy=POLICY, audit=log, enrichers=[_Nothing()], lint=False)
    assert planned.native_plan is not None
    errors: list[BaseException] = []

    def work(governed: Any, n: int) -> None:
        try:
            for i in range(n):
                # every third call has a list, which only the general path reads
                kwargs = {"path": f"p{i}"} if i % 3 else {"path": "p", "tags": ["x"]}
                governed(**kwargs)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(g, 300)) for g in (planned, general, planned, general)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert log.verify(deep=True) == 1200
    assert [r.seq for r in log.records()] == list(range(1200))


def test_tampering_with_a_planned_record_is_detected() -> None:
    from agt_core import AuditIntegrityError

    planned, _ = pair(tool_a)
    planned(action="read", table="users")
    planned(action="read", table="orders")
    lines = planned.audit_log.lines()
    from agt_core import verify_audit_lines

    assert verify_audit_lines(lines, expected_count=2).count == 2
    forged = lines[0].replace('"users"', '"secrets"')
    with pytest.raises(AuditIntegrityError):
        verify_audit_lines([forged, lines[1]], expected_count=2)


def test_a_plan_that_fails_hands_the_call_to_the_kernel() -> None:
    # A keyword that is not valid Unicode cannot be read by the plan (it raises); the general
    # path then raises the call's own TypeError, and neither path records anything for it.
    planned, general = pair(tool_b)
    kwargs = {"\ud800": 1, "path": "p"}
    with pytest.raises(UnicodeEncodeError):
        planned.native_plan.decide(kwargs)
    assert outcome(planned, kwargs)[:2] == ("error", "TypeError")
    assert_same(planned, general, kwargs)
    assert len(planned.audit_log) == 0


def test_a_warn_rule_matched_on_the_plan_is_noticed_once(caplog: pytest.LogCaptureFixture) -> None:
    from agent_os import Pipeline

    own = Pipeline()  # notices are remembered per pipeline: a fresh one has noticed nothing
    planned = govern(tool_a, policy=POLICY, audit=AuditLog(), lint=False, pipeline=own)
    assert planned.native_plan is not None
    with caplog.at_level("INFO", logger="agent_os"):
        for _ in range(3):
            planned(action="read", table="users", note="xylophone")
    notices = [r for r in caplog.records if "rule `noted` (warn) matched" in r.getMessage()]
    assert len(notices) == 1 and notices[0].levelname == "WARNING"
    assert [r.decision.matched[0].rule for r in planned.audit_log.records()] == ["noted"] * 3
