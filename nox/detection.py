"""The injection detector's embedding classifier: its tests and its measured figures.

    ./dev -s detection_classifier                 # classifier tests + the evaluation with it
    ./dev -s detection_classifier -- -k train     # pytest arguments pass through

Not tagged ci: agent-os[classifier] pulls in torch (5.6 GB installed, CUDA libraries included,
as PyPI has no CPU-only build); measured on the shared 2-core machine: 35 s to install from a
warm uv cache (about 100 s cold), 2.6 minutes of tests, 12 minutes of evaluation. The default
agent-os session never installs it.
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent.parent


@nox.session(python="3.11")
def detection_classifier(session: nox.Session) -> None:
    """Install agent-os with the classifier extra; run the detection tests with it; measure."""
    session.install(
        "-e",
        str(ROOT / "packages" / "agt-core"),
        "-e",
        f"{ROOT / 'packages' / 'agent-os'}[classifier]",
        "pytest>=8",
        "hypothesis>=6.100",
    )
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "AGT_DETECTION_CLASSIFIER": "1"}
    session.run(
        "pytest", str(ROOT / "packages" / "agent-os" / "tests" / "detection"), *session.posargs, env=env
    )
    session.run("python", "-m", "agent_os.detection.evaluate", "--classifier", env=env)
