from __future__ import annotations

import numpy as np

from agent_lightning import GovernedEnv, GovernedVectorEnv
from agent_os import AuditLog

from .conftest import NAMES, POLICY, RecordingEnv

READ, WRITE, DELETE, ESCALATE = range(4)


def test_each_sub_env_is_governed_with_one_shared_audit_trail() -> None:
    inners: list[RecordingEnv] = []

    def make() -> RecordingEnv:
        inners.append(RecordingEnv(length=2))
        return inners[-1]

    vec = GovernedVectorEnv([make, make], policy=POLICY, action_names=NAMES, shaping="cost")
    vec.reset(seed=0)
    _, reward, _, _, info = vec.step(np.array([DELETE, WRITE]))
    assert inners[0].seen == [] and inners[1].seen == [WRITE]
    assert reward.tolist() == [0.0, 1.0]
    assert info["cost"].tolist() == [1.0, 0.0]
    assert info["governance"]["blocked"].tolist() == [True, False]
    assert list(info["governance"]["rule"]) == ["no-delete", None]
    log = vec.audit_log
    assert isinstance(log, AuditLog)
    assert sorted(r.request["context"]["env_index"] for r in log.records()) == [0, 1]
    assert all(isinstance(e, GovernedEnv) and e.gate is vec.gate for e in vec.governed)
    # Finish both episodes (env 0 needs two more steps: its blocked step did not advance it).
    vec.step(np.array([WRITE, WRITE]))
    vec.step(np.array([WRITE, READ]))
    finished = vec.summaries()
    assert (0, 1) in [(i, s.blocked) for i, s in finished]
    assert log.verify(deep=True) == len(log.records())
    vec.close()
