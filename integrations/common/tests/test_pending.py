"""PendingCalls: the before/after-callback table is bounded and hands back what was stored."""

from __future__ import annotations

from agt_integrations import PendingCalls, Verdict


def verdict(n: int) -> Verdict:
    return Verdict(True, str(n), None)


def test_put_then_pop_once() -> None:
    pending = PendingCalls()
    anchor = {"name": "x"}
    pending.put(id(anchor), verdict(1), anchor=anchor)
    entry = pending.pop(id(anchor))
    assert entry is not None and entry.verdict.message == "1" and entry.anchor is anchor
    assert pending.pop(id(anchor)) is None


def test_oldest_entries_are_dropped_past_the_limit() -> None:
    pending = PendingCalls(limit=3)
    for n in range(5):
        pending.put(n, verdict(n))
    assert len(pending) == 3
    assert pending.pop(0) is None and pending.pop(1) is None
    assert [pending.pop(n).verdict.message for n in (2, 3, 4)] == ["2", "3", "4"]  # type: ignore[union-attr]


def test_a_re_put_key_counts_as_newest() -> None:
    pending = PendingCalls(limit=2)
    pending.put("a", verdict(1))
    pending.put("b", verdict(2))
    pending.put("a", verdict(3))
    pending.put("c", verdict(4))
    assert pending.pop("b") is None
    assert pending.pop("a").verdict.message == "3"  # type: ignore[union-attr]
