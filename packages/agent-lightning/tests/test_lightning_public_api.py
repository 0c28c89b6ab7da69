from __future__ import annotations

import subprocess
import sys

import agent_lightning


def test_all_names_resolve_and_match_dir() -> None:
    for name in agent_lightning.__all__:
        assert getattr(agent_lightning, name) is not None
    assert agent_lightning.__all__ == sorted(agent_lightning.__all__)
    assert dir(agent_lightning) == sorted(agent_lightning.__all__)


def test_lazy_map_and_all_agree() -> None:
    lazy = set(agent_lightning._LAZY)
    assert lazy | {"__version__"} == set(agent_lightning.__all__)


def test_import_is_cheap_and_scoring_needs_no_gymnasium() -> None:
    code = (
        "import sys, agent_lightning as al\n"
        "assert 'gymnasium' not in sys.modules and 'numpy' not in sys.modules\n"
        's = al.score_trajectory([(\'drop\', {})], """apiVersion: governance.toolkit/v1\n'
        "name: p\ndefault_action: allow\nrules:\n- name: r\n  condition: \\\"action.type == 'drop'\\\"\n"
        '  action: deny\n""")\n'
        "assert s.refused == 1\n"
        "assert 'gymnasium' not in sys.modules, 'scoring imported gymnasium'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_attribute() -> None:
    try:
        agent_lightning.NoSuchThing
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
