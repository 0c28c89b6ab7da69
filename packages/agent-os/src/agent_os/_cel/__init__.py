"""CEL (Common Expression Language) conditions for policy rules, in pure Python.

Conditions compile once, at policy load, into Python closures and evaluate against the request::

    >>> program = compile_condition("action.type in ['drop', 'delete']")
    >>> program.evaluate_bool({"action": {"type": "drop", "tool": "sql"}})
    True

Evaluation is strictly typed and fails closed: a missing field or a type mismatch raises
:class:`CelEvalError`, never silently yields false. See ``docs/conditions.md`` for the language.
"""

from agent_os._cel._analysis import Pin
from agent_os._cel._checker import VARIABLES
from agent_os._cel._errors import CelEvalError, CelSyntaxError
from agent_os._cel._limits import DEFAULT_LIMITS, CelLimits
from agent_os._cel._program import Program, compile_condition
from agent_os._cel._values import index_key, is_opaque, key_kind, kind_of

__all__ = [
    "DEFAULT_LIMITS",
    "VARIABLES",
    "CelEvalError",
    "CelLimits",
    "CelSyntaxError",
    "Pin",
    "Program",
    "compile_condition",
    "index_key",
    "is_opaque",
    "key_kind",
    "kind_of",
]
