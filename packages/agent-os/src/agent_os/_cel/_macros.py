"""The list macros ``exists``, ``all``, ``exists_one``, ``map`` and ``filter``.

Programs that use a macro, or build strings, lists or maps at evaluation time, evaluate against
an :class:`Env`: a per-evaluation copy of the activation that also holds the macro variables,
the iteration counter and the bytes built so far. One copy per evaluation keeps compiled
programs free of shared mutable state, so they are safe to evaluate from many threads; programs
that do neither (nearly all of them) skip it entirely.
"""

from __future__ import annotations

from typing import Any

from agent_os._cel._errors import CelEvalError
from agent_os._cel._paths import Fn
from agent_os._cel._values import is_opaque, type_name

__all__ = [
    "LIST_ELEMENT_BYTES",
    "MAP_ENTRY_BYTES",
    "Env",
    "as_eval_error",
    "charge",
    "macro",
    "string_bytes",
    "with_env",
]


class Env(dict[str, Any]):
    """The activation plus macro variables, with what this evaluation has spent so far.

    Attributes:
        steps: Macro iterations so far.
        produced: Bytes of strings, lists and maps built so far (see :func:`charge`).
        budget: The most bytes this evaluation may build (``max_eval_bytes``).
    """

    __slots__ = ("budget", "produced", "steps")
    steps: int
    produced: int
    budget: int


LIST_ELEMENT_BYTES = 8
"""What one element of a built list costs against ``max_eval_bytes`` (one reference)."""
MAP_ENTRY_BYTES = 16
"""What one entry of a built map costs against ``max_eval_bytes`` (a key and a value)."""


def string_bytes(text: str) -> int:
    """The UTF-8 length of ``text`` (a lone surrogate counts 3 bytes, as it would encode)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def charge(env: Any, size: int) -> None:
    """Counts ``size`` bytes about to be built against the evaluation's budget.

    Called before the value is built, so an over-budget value never exists. ``env`` is None
    while the compiler folds constant sub-expressions, which cost nothing at evaluation time.

    Raises:
        CelEvalError: When the evaluation would go over ``max_eval_bytes``.
    """
    if env is None:
        return
    total = env.produced + size
    if total > env.budget:
        raise CelEvalError(
            f"condition would build more than {env.budget} bytes of strings and lists (limit max_eval_bytes)"
        )
    env.produced = total


def as_eval_error(exc: Exception) -> CelEvalError:
    """Translates any exception raised while evaluating into a :class:`CelEvalError`."""
    if isinstance(exc, CelEvalError):
        return exc
    if isinstance(exc, RecursionError):
        return CelEvalError("a value in the request nests too deeply to evaluate")
    return CelEvalError(f"unexpected {type(exc).__name__} while evaluating the condition")


def with_env(root: Fn, budget: int) -> Fn:
    """Wraps a program's closure so each evaluation gets its own :class:`Env`."""

    def run(activation: Any) -> Any:
        try:
            env = Env(activation)
        except Exception:
            raise CelEvalError("the activation must be a mapping of variable names to values") from None
        env.steps = 0
        env.produced = 0
        env.budget = budget
        return root(env)

    return run


def _range(value: Any, name: str) -> Any:
    t = type(value)
    if t is list or (t is dict and not is_opaque(value)):
        return value  # iterating a map yields its keys, as in CEL
    raise CelEvalError(f"`{name}` needs a list or a map, got {type_name(value)}")


def _over_budget(limit: int) -> CelEvalError:
    return CelEvalError(f"condition exceeded {limit} macro iterations (limit max_eval_steps)")


def _not_bool(name: str, value: Any) -> CelEvalError:
    return CelEvalError(f"the predicate of `{name}` must be a bool, got {type_name(value)}")


def macro(name: str, target: Fn, var: str, body: tuple[Fn, ...], limit: int) -> Fn:
    """Builds the closure for ``target.name(var, *body)``.

    ``exists`` and ``all`` absorb errors the way ``||`` and ``&&`` do (a true, respectively
    false, predicate decides even if another element errored); the others propagate errors.
    """
    if name in ("exists", "all"):
        (pred,) = body
        absorbing = name == "exists"  # the predicate value that decides: true for exists
        identity = not absorbing

        def quantifier(env: Env) -> bool:
            error: CelEvalError | None = None
            for item in _range(target(env), name):
                steps = env.steps + 1
                if steps > limit:
                    raise _over_budget(limit)
                env.steps = steps
                env[var] = item
                try:
                    result = pred(env)
                except Exception as exc:
                    if error is None:
                        error = as_eval_error(exc)
                    continue
                if result is absorbing:
                    return result
                if result is not identity and error is None:
                    error = _not_bool(name, result)
            if error is not None:
                raise error
            return identity

        return quantifier
    if name == "exists_one":
        (pred,) = body

        def exists_one(env: Env) -> bool:
            count = 0
            for item in _range(target(env), name):
                steps = env.steps + 1
                if steps > limit:
                    raise _over_budget(limit)
                env.steps = steps
                env[var] = item
                result = pred(env)
                if result is True:
                    count += 1
                elif result is not False:
                    raise _not_bool(name, result)
            return count == 1

        return exists_one
    if name == "filter" or (name == "map" and len(body) == 2):
        pred = body[0]
        transform = body[1] if name == "map" else None

        def filter_map(env: Env) -> list[Any]:
            out: list[Any] = []
            for item in _range(target(env), name):
                steps = env.steps + 1
                if steps > limit:
                    raise _over_budget(limit)
                env.steps = steps
                env[var] = item
                keep = pred(env)
                if keep is True:
                    value = item if transform is None else transform(env)
                    charge(env, LIST_ELEMENT_BYTES)
                    out.append(value)
                elif keep is not False:
                    raise _not_bool(name, keep)
            return out

        return filter_map
    (transform,) = body

    def map_(env: Env) -> list[Any]:
        out: list[Any] = []
        for item in _range(target(env), name):
            steps = env.steps + 1
            if steps > limit:
                raise _over_budget(limit)
            env.steps = steps
            env[var] = item
            value = transform(env)
            charge(env, LIST_ELEMENT_BYTES)
            out.append(value)
        return out

    return map_
