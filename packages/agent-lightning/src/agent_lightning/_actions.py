"""How an environment action becomes a governed request: the tool (``action.type``) and its ``args``.

The default mapping, by action space:

=================  ==========================================  ======================================
space              ``action.type`` (the tool)                  ``args``
=================  ==========================================  ======================================
Discrete           ``names[a - start]``, else ``action_<a>``   ``{"index": a}``
MultiDiscrete      ``tool``                                    ``{dim: names[i][v] or v, ...}``
Text               ``tool``                                    ``{"text": a}``
Dict               ``a[type_key]`` when it is text (or a       the action as JSON data
                   Discrete index into ``names``), else
                   ``tool``
anything else      ``tool``                                    ``{"value": a as JSON data}``
=================  ==========================================  ======================================

``dims`` names the MultiDiscrete dimensions (default ``d0``, ``d1``, ...). A callable mapping
replaces all of this. numpy values become plain JSON values; a non-finite float cannot be judged
and its action is refused (fail closed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import gymnasium

__all__ = ["ActionMapping", "Mapper", "default_state", "jsonable"]

Mapper = Callable[[Any], tuple[str, Mapping[str, Any]]]
"""A custom mapping: env action -> (tool name, args)."""

_SMALL_BOX = 64


def jsonable(value: Any) -> Any:
    """`value` with numpy scalars and arrays, tuples and mappings turned into plain JSON data."""
    if value is None or type(value) in (str, bool, int, float):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # numpy arrays and scalars: tolist() gives Python ints, floats, bools
        return jsonable(tolist())
    return value  # left as it is: the request builder refuses what is not JSON


class ActionMapping:
    """The documented mapping from an action of `space` to ``(tool, args)`` (see the module docstring).

    Args:
        space: The environment's action space.
        names: Discrete: one name per action. MultiDiscrete: one list of names per dimension (or
            None for a dimension whose values stay numbers). Dict: names of a Discrete ``type_key``.
        tool: The tool name for spaces whose action does not name one.
        dims: MultiDiscrete: the name of each dimension in ``args``.
        type_key: Dict: the key whose value names the tool.

    Raises:
        ValueError: when `names` or `dims` do not fit `space`.
    """

    def __init__(
        self,
        space: gymnasium.Space[Any],
        *,
        names: Sequence[Any] | None = None,
        tool: str = "act",
        dims: Sequence[str] | None = None,
        type_key: str = "tool",
    ) -> None:
        from gymnasium import spaces

        if type(tool) is not str or not tool:
            raise ValueError("tool must be a non-empty string")
        self.space = space
        self.tool = tool
        self.type_key = type_key
        self._names: list[Any] | None = list(names) if names is not None else None
        self._dims: list[str] = []
        if isinstance(space, spaces.Discrete):
            if self._names is not None and len(self._names) != int(space.n):
                raise ValueError(f"names has {len(self._names)} entries but the Discrete space has {space.n}")
            self._kind = "discrete"
            self._start = int(space.start)
        elif isinstance(space, spaces.MultiDiscrete):
            if space.nvec.ndim != 1:
                raise ValueError("only one-dimensional MultiDiscrete spaces have a default mapping")
            count = int(space.nvec.shape[0])
            self._dims = list(dims) if dims is not None else [f"d{i}" for i in range(count)]
            if len(self._dims) != count or len(set(self._dims)) != count:
                raise ValueError(f"dims must be {count} distinct names, one per dimension")
            if self._names is not None:
                if len(self._names) != count:
                    raise ValueError(f"names must hold one list (or None) per dimension ({count})")
                for i, labels in enumerate(self._names):
                    if labels is not None and len(labels) != int(space.nvec[i]):
                        raise ValueError(
                            f"names[{i}] has {len(labels)} entries, dimension {i} has {space.nvec[i]}"
                        )
            self._kind = "multi_discrete"
        elif isinstance(space, spaces.Text):
            self._kind = "text"
        elif isinstance(space, spaces.Dict):
            self._kind = "dict"
        else:
            self._kind = "value"

    def __call__(self, action: Any) -> tuple[str, dict[str, Any]]:
        """``(tool, args)`` for `action`.

        Raises:
            ValueError: when the action does not fit the space (unknown index, missing tool).
        """
        kind = self._kind
        if kind == "discrete":
            index = jsonable(action)
            if type(index) is not int:
                raise ValueError(f"a Discrete action must be an integer, not {action!r}")
            if self._names is None:
                return f"action_{index}", {"index": index}
            position = index - self._start
            if not 0 <= position < len(self._names):
                raise ValueError(f"action {index} is outside the Discrete space")
            return str(self._names[position]), {"index": index}
        if kind == "multi_discrete":
            values = jsonable(action)
            if not isinstance(values, list) or len(values) != len(self._dims):
                raise ValueError(
                    f"a MultiDiscrete action must hold {len(self._dims)} integers, not {action!r}"
                )
            args: dict[str, Any] = {}
            for i, (dim, value) in enumerate(zip(self._dims, values, strict=True)):
                labels = self._names[i] if self._names is not None else None
                if labels is not None:
                    if type(value) is not int or not 0 <= value < len(labels):
                        raise ValueError(f"value {value!r} of dimension `{dim}` is outside the space")
                    args[dim] = labels[value]
                else:
                    args[dim] = value
            return self.tool, args
        if kind == "text":
            if type(action) is not str:
                raise ValueError(f"a Text action must be a string, not {type(action).__name__}")
            return self.tool, {"text": action}
        if kind == "dict":
            data = jsonable(action)
            if not isinstance(data, dict):
                raise ValueError(f"a Dict action must be a mapping, not {type(action).__name__}")
            named = data.get(self.type_key)
            if type(named) is str and named:
                return named, data
            if type(named) is int and self._names is not None:
                if not 0 <= named < len(self._names):
                    raise ValueError(f"`{self.type_key}` {named} is outside names")
                return str(self._names[named]), data
            return self.tool, data
        return self.tool, {"value": jsonable(action)}


def default_state(space: gymnasium.Space[Any], observation: Any) -> Any:
    """The observation as JSON data for ``context.observation`` when it is small, else None.

    Discrete, MultiDiscrete, MultiBinary, Text, Dict and Tuple observations are included; a Box
    only when it has at most 64 elements (an image would make every request large).
    """
    from gymnasium import spaces

    if isinstance(space, spaces.Box) and math.prod(space.shape) > _SMALL_BOX:
        return None
    if isinstance(
        space,
        (
            spaces.Discrete,
            spaces.MultiDiscrete,
            spaces.MultiBinary,
            spaces.Text,
            spaces.Dict,
            spaces.Tuple,
            spaces.Box,
        ),
    ):
        return jsonable(observation)
    return None
