"""The list macros ``exists``, ``all``, ``exists_one``, ``map`` and ``filter``.

Programs that use a macro evaluate against an :class:`Env`: a per-evaluation copy of the
activation that also holds the macro variables and the iteration counter. One copy per
evaluation keeps compiled programs free of shared mutable state, so they are safe to evaluate
from many threads; programs without macros skip it entirely.
"""

from __future__ import annotations

from typing import Any

from agent_os._cel._errors import CelEvalError
from agent_os._cel._paths import Fn
from agent_os._cel._values import type_name

__all__ = ["Env", "as_eval_error", "macro", "with_env"]


class Env(dict[str, Any]):
    """The activation plus macro variables, and the count of macro iterations so far."""

    __slots__ = ("steps",)
    steps: int


def as_eval_error(exc: Exception) -> CelEvalError:
    """Translates any exception raised while evaluating into a :class:`CelEvalError`."""
    if isinstance(exc, CelEvalError):
        return exc
    if isinstance(exc, RecursionError):
        return CelEvalError("a value in the request nests too deeply to evaluate")
    return CelEvalError(f"unexpected {type(exc).__name__} while evaluating the condition")


def with_env(root: Fn) -> Fn:
    """Wraps a program's closure so each evaluation gets its own :class:`Env`."""

    def run(activation: Any) -> Any:
        try:
            env = Env(activation)
        except Exception:
            raise CelEvalError("the activation must be a mapping of variable names to values") from None
        env.steps = 0
        return root(env)

    return run


def _range(value: Any, name: str) -> Any:
    t = type(value)
    if t is list or t is dict:
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
                    out.append(item if transform is None else transform(env))
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
            out.append(transform(env))
        return out

    return map_
