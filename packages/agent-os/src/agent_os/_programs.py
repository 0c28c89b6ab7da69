"""Compiled conditions shared by the loader and the Python evaluator, keyed by condition text.

The loader compiles every condition once to check it (and to read the fields it uses); the
Python evaluator then compiles the same texts from the resolved policies. Both ask here, so a
condition is compiled once per process however many rules or reloads use it. The CEL package's
own cache is a small LRU (1,024 entries): a policy of 10,000 rules would compile each condition
three times through it.

The cache is bounded (`MAX_PROGRAMS`); past the bound the oldest half is dropped, which only
costs a recompilation. Programs are immutable, so sharing them between policy sets is safe.
"""

from __future__ import annotations

import threading

from agent_os._cel import Program, compile_condition

__all__ = ["MAX_PROGRAMS", "program"]

MAX_PROGRAMS = 65_536
"""Most compiled conditions kept."""

_programs: dict[str, Program] = {}
_lock = threading.Lock()


def program(condition: str) -> Program:
    """The compiled `condition`, from the cache or compiled now.

    Raises:
        CelSyntaxError: When the condition does not compile (never cached).
    """
    found = _programs.get(condition)
    if found is not None:
        return found
    compiled = compile_condition(condition)
    with _lock:
        if len(_programs) >= MAX_PROGRAMS:
            for key in list(_programs)[: MAX_PROGRAMS // 2]:
                del _programs[key]
        _programs[condition] = compiled
    return compiled
