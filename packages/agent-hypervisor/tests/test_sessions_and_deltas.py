"""Sessions through govern() and the delta engine: conflicts, bad patches, racing agents, rollback."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import agent_os
from agent_hypervisor import (
    DeltaConflict,
    DeltaEngine,
    DeltaRejected,
    MerkleAuditLog,
    PatchError,
    Session,
    SqliteAuditLog,
    apply_patch,
    diff,
    session_summary,
)
from agt_core import AuditIntegrityError, GovernanceDenied

POLICY = """\
apiVersion: governance.toolkit/v1
name: team-policy
default_action: allow
rules:
- name: no-deletes
  condition: "action.type == 'delete'"
  action: deny
"""


@pytest.fixture(autouse=True)
def _fresh_pipeline() -> None:
    agent_os.pipeline().reset()


# -- JSON Patch (RFC 6902) ----------------------------------------------------------------------

DOC = {"foo": ["bar", "baz"], "obj": {"a": 1}}


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ([{"op": "add", "path": "/foo/1", "value": "qux"}], {"foo": ["bar", "qux", "baz"], "obj": {"a": 1}}),
        ([{"op": "add", "path": "/foo/-", "value": "end"}], {"foo": ["bar", "baz", "end"], "obj": {"a": 1}}),
        ([{"op": "remove", "path": "/foo/0"}], {"foo": ["baz"], "obj": {"a": 1}}),
        ([{"op": "replace", "path": "/obj/a", "value": 2}], {"foo": ["bar", "baz"], "obj": {"a": 2}}),
        ([{"op": "move", "from": "/obj/a", "path": "/b"}], {"foo": ["bar", "baz"], "obj": {}, "b": 1}),
        (
            [{"op": "copy", "from": "/foo", "path": "/c"}],
            {"foo": ["bar", "baz"], "obj": {"a": 1}, "c": ["bar", "baz"]},
        ),
        ([{"op": "test", "path": "/obj/a", "value": 1.0}], DOC),
        ([{"op": "add", "path": "/a~1b", "value": 1}], {**DOC, "a/b": 1}),
        ([{"op": "replace", "path": "", "value": {"x": 1}}], {"x": 1}),
    ],
)
def test_rfc6902_operations(patch: list, expected: dict) -> None:
    assert apply_patch(DOC, patch) == expected
    assert DOC == {"foo": ["bar", "baz"], "obj": {"a": 1}}  # the input is never modified


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ([{"op": "remove", "path": "/missing"}], "does not exist"),
        ([{"op": "replace", "path": "/foo/5", "value": 1}], "out of range"),
        ([{"op": "add", "path": "/foo/01", "value": 1}], "not an array index"),
        ([{"op": "test", "path": "/obj/a", "value": True}], "test failed"),
        ([{"op": "add", "path": "no-slash", "value": 1}], "must start with"),
        ([{"op": "add", "path": "/x"}], "needs a `value`"),
        ([{"op": "frobnicate", "path": "/x"}], "unknown op"),
        ([{"op": "move", "from": "/obj", "path": "/obj/inner"}], "into itself"),
        ([{"op": "add", "path": "/obj/a/deeper", "value": 1}], "scalar"),
    ],
)
def test_bad_patches_are_refused_with_the_reason(patch: list, reason: str) -> None:
    with pytest.raises(PatchError, match=reason) as info:
        apply_patch(DOC, [{"op": "test", "path": "/obj", "value": {"a": 1}}, *patch])
    assert info.value.op_index == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(st.text(max_size=3), json_values, max_size=4),
    st.dictionaries(st.text(max_size=3), json_values, max_size=4),
)
def test_diff_then_apply_reproduces_the_target(a: dict, b: dict) -> None:
    assert apply_patch(a, diff(a, b)) == b


# -- the delta engine -----------------------------------------------------------------------------


def test_deltas_chain_replay_diff_and_rollback() -> None:
    log = MerkleAuditLog()
    engine = DeltaEngine({"tasks": {}}, audit=log, session="s-1")
    d1 = engine.apply(
        [{"op": "add", "path": "/tasks/report", "value": "todo"}], agent="a", expected_version=0
    )
    d2 = engine.apply(
        [{"op": "replace", "path": "/tasks/report", "value": "done"}],
        agent="b",
        expected_version=1,
        cause="ab" * 32,
    )
    engine.apply([{"op": "add", "path": "/owner", "value": "b"}], agent="b", expected_version=2)
    assert d2.prev_hash == d1.hash and d2.cause == "ab" * 32
    assert engine.state_at(0) == {"tasks": {}}
    assert engine.state_at(1) == {"tasks": {"report": "todo"}}
    assert engine.diff(1, 3) == [
        {"op": "replace", "path": "/tasks/report", "value": "done"},
        {"op": "add", "path": "/owner", "value": "b"},
    ]
    back = engine.rollback_to(1, agent="supervisor")
    assert back.kind == "rollback" and back.seq == 3
    assert engine.state == {"tasks": {"report": "todo"}}
    assert engine.version == 4  # history kept: the rollback is a new delta
    assert engine.verify() == 4
    events = log.query(action="state.delta")
    assert [e.request["args"]["hash"] for e in events] == [d.hash for d in engine.deltas]
    assert log.verify().ok


def test_a_stale_writer_gets_a_conflict_and_a_bad_delta_changes_nothing() -> None:
    engine = DeltaEngine({"n": 0})
    engine.apply([{"op": "replace", "path": "/n", "value": 1}], agent="a", expected_version=0)
    with pytest.raises(DeltaConflict) as info:
        engine.apply([{"op": "replace", "path": "/n", "value": 5}], agent="b", expected_version=0)
    assert (info.value.expected, info.value.actual) == (0, 1)
    with pytest.raises(DeltaRejected, match="does not exist") as bad:
        engine.apply([{"op": "remove", "path": "/missing"}], agent="b", expected_version=1)
    assert bad.value.op_index == 0
    assert engine.state == {"n": 1} and engine.version == 1


def test_racing_agents_lose_no_update() -> None:
    engine = DeltaEngine({"counter": 0})
    agents, increments = 6, 40
    start = threading.Barrier(agents)
    conflicts = [0] * agents

    def agent(i: int) -> None:
        start.wait()
        done = 0
        while done < increments:
            version, state = engine.read()
            patch = [
                {"op": "test", "path": "/counter", "value": state["counter"]},
                {"op": "replace", "path": "/counter", "value": state["counter"] + 1},
            ]
            try:
                engine.apply(patch, agent=f"agent-{i}", expected_version=version)
            except DeltaConflict:
                conflicts[i] += 1
                continue
            done += 1

    threads = [threading.Thread(target=agent, args=(i,)) for i in range(agents)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert engine.state == {"counter": agents * increments}
    assert engine.version == agents * increments
    assert engine.verify() == agents * increments


def test_tampered_delta_history_is_detected() -> None:
    engine = DeltaEngine({"n": 0})
    for v in range(3):
        engine.apply([{"op": "replace", "path": "/n", "value": v + 1}], agent="a", expected_version=v)
    forged = engine._deltas[1].model_copy(update={"patch": ({"op": "replace", "path": "/n", "value": 99},)})
    engine._deltas[1] = forged
    with pytest.raises(AuditIntegrityError, match="delta 1"):
        engine.verify()


# -- sessions ----------------------------------------------------------------------------------


def test_session_tags_calls_enforces_membership_and_is_rebuilt_from_the_log(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    log = SqliteAuditLog(path)

    def act(action: str, item: str) -> str:
        return f"{action} {item}"

    writer = agent_os.govern(act, policy=POLICY, audit=log, agent_id="writer")
    outsider = agent_os.govern(act, policy=POLICY, audit=log, agent_id="outsider")
    with Session("quarterly report", agents=["writer"], audit=log, policy_set_hash="sha256:" + "0" * 64) as s:
        writer(action="draft", item="q3")
        with pytest.raises(GovernanceDenied, match="has not joined"):
            outsider(action="draft", item="q3")
        s.join("outsider")
        outsider(action="review", item="q3")
        with pytest.raises(GovernanceDenied):
            writer(action="delete", item="q2")
    writer(action="draft", item="outside-the-session")
    log.close()

    with SqliteAuditLog(path) as reopened:
        summary = session_summary(reopened, s.id)
        assert reopened.verify().ok
    assert summary.task == "quarterly report"
    assert summary.agents == ("writer", "outsider")
    assert summary.status == "completed" and summary.started_at and summary.ended_at
    assert len(summary.calls) == 4  # draft, refused outsider, review, refused delete
    assert len(summary.events) == 3  # start, join, end
    with pytest.raises(KeyError):
        session_summary(MerkleAuditLog(), s.id)


def test_a_session_passed_to_one_tool_and_calls_after_it_ended() -> None:
    log = MerkleAuditLog()
    s = Session("one tool", agents=["a"], audit=log)
    s.start()
    tool = agent_os.govern(
        lambda action: action, policy=POLICY, audit=log, agent_id="a", enrichers=[s], guards=[s]
    )
    assert tool(action="read") == "read"
    s.end()
    with pytest.raises(GovernanceDenied, match="ended"):
        tool(action="read")
    summary = session_summary(log, s.id)
    assert len(summary.calls) == 2 and summary.status == "completed"


def test_delta_engine_is_restored_from_a_durable_log(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with SqliteAuditLog(path) as log:
        engine = DeltaEngine({"n": 0, "items": []}, audit=log, session="s-9")
        for v in range(5):
            engine.apply([{"op": "add", "path": "/items/-", "value": v}], agent="a", expected_version=v)
        engine.rollback_to(2, agent="sup")
        expected = engine.state
        other = DeltaEngine({"x": 1}, audit=log, session="s-other")
        other.apply([{"op": "replace", "path": "/x", "value": 2}], agent="b", expected_version=0)
    with SqliteAuditLog(path) as log:
        restored = DeltaEngine.restore(log, session="s-9")
        assert restored.state == expected and restored.version == 6
        assert restored.verify() == 6
        assert restored.state_at(2) == {"n": 0, "items": [0, 1]}
        restored.apply([{"op": "replace", "path": "/n", "value": 1}], agent="a", expected_version=6)
    with SqliteAuditLog(path) as log:
        assert DeltaEngine.restore(log, session="s-9").version == 7
        with pytest.raises(KeyError):
            DeltaEngine.restore(log, session="nope")


def test_restoring_tampered_deltas_is_refused(tmp_path: Path) -> None:
    log = MerkleAuditLog()
    engine = DeltaEngine({"n": 0}, audit=log, session="s")
    for v in range(3):
        engine.apply([{"op": "replace", "path": "/n", "value": v + 1}], agent="a", expected_version=v)
    # An attacker rewrites one delta event and recomputes that record's hash chain from there:
    # the delta's own hash no longer matches its fields, so restoring refuses it.
    import json

    from agt_core import canonical_json

    at = next(r.seq for r in log.query(action="state.delta") if r.request["args"]["seq"] == 1)
    fields = json.loads(log._bodies[0][at])
    fields["request"]["args"]["patch"] = [{"op": "replace", "path": "/n", "value": 99}]
    log._bodies[0][at] = canonical_json(fields)
    assert not log.verify().ok  # the audit log itself says so
    with pytest.raises(AuditIntegrityError):
        DeltaEngine.restore(_relaxed(log), session="s")


def _relaxed(log: MerkleAuditLog) -> MerkleAuditLog:
    """A copy of `log` rebuilt from its (tampered) records, so its own chain verifies again."""
    import json

    copy = MerkleAuditLog()
    for body in log._bodies[0]:
        fields = json.loads(body)
        from agt_core import Decision

        copy.append(fields["request"], Decision.model_validate(fields["decision"]))
    return copy
