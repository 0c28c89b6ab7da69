"""agent-lightning: governance for reinforcement-learning training.

Govern every action of a Gymnasium environment, turn violations into penalties or CMDP costs,
audit every training decision with its episode and step, and score LLM-agent trajectories with
the same rules::

    from agent_lightning import GovernedEnv
    env = GovernedEnv(gymnasium.make("MyEnv-v0"), policy="policy.yaml", action_names=[...])

Importing this package is cheap: gymnasium and numpy load when an environment class is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_lightning._version import __version__

if TYPE_CHECKING:
    from agent_lightning._actions import ActionMapping, jsonable
    from agent_lightning._env import GovernedEnv, Shaping
    from agent_lightning._judgement import Judgement
    from agent_lightning._penalties import Penalties, Violation
    from agent_lightning._summary import EpisodeSummary
    from agent_lightning._trajectory import StepScore, TrajectoryScore, TrajectoryScorer, score_trajectory
    from agent_lightning._vector import GovernedVectorEnv

__all__ = [
    "ActionMapping",
    "EpisodeSummary",
    "GovernedEnv",
    "GovernedVectorEnv",
    "Judgement",
    "Penalties",
    "Shaping",
    "StepScore",
    "TrajectoryScore",
    "TrajectoryScorer",
    "Violation",
    "__version__",
    "jsonable",
    "score_trajectory",
]

_LAZY = {
    "ActionMapping": "agent_lightning._actions",
    "jsonable": "agent_lightning._actions",
    "GovernedEnv": "agent_lightning._env",
    "Shaping": "agent_lightning._env",
    "Judgement": "agent_lightning._judgement",
    "Penalties": "agent_lightning._penalties",
    "Violation": "agent_lightning._penalties",
    "EpisodeSummary": "agent_lightning._summary",
    "StepScore": "agent_lightning._trajectory",
    "TrajectoryScore": "agent_lightning._trajectory",
    "TrajectoryScorer": "agent_lightning._trajectory",
    "score_trajectory": "agent_lightning._trajectory",
    "GovernedVectorEnv": "agent_lightning._vector",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'agent_lightning' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
