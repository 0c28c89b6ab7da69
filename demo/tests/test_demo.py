"""The demos tell the story they claim: every beat holds, and a changed outcome fails the run.

Each demo runs as `./dev demo` runs it, in its own interpreter, so its exit code is what is tested.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1]


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_the_flagship_story_holds_and_leaves_its_artefacts(tmp_path: Path) -> None:
    result = run_demo(str(DEMO / "run_demo.py"), "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "Every beat came out as the story expects." in out
    assert not re.search(r"FAIL(?!ED at record)", out)  # the tampered copy's verdict is the only FAILED
    for beat in [
        "the forged credential is refused as bad-signature",
        r"fetch_url\(url='https://collect.evil.example.*deny +rule tainted-egress",
        r"plan step 2: deploy_hotfix +deny +guard:rings",
        r"ran in a ring-3 sandbox with its own network namespace",
        r"shell\(command='ls; curl.*deny +guard:command-policy:operator-shell",
        r"shell\(command='sqlite3 .*deny +guard:command-policy:operator-shell",
        r"ledger_query\(sql='WITH gone AS \(DELETE.*deny +rule ledger-read-only",
        "the injection in vendor-invoice.md is detected",
        r"send_email\(to='ap@contoso-supplies.example'.*approved +rule external-mail-approval",
        r"send_email\(to='payouts@quick-refund.example'.*refused +rule external-mail-approval",
        r"market_data\(pair='EURUSD'\) +deny +guard:circuit-breaker",
        r"search\(\.\.\.\) from process \d+ +deny +guard:kill-switch",
        "the debit is compensated after the credit fails",
        "a copy with that denial turned into an allow is caught",
        "agt verify ASI10 Rogue Agents: PASS",
    ]:
        assert re.search(beat, out), beat
    for artefact in ["audit.db", "checkpoint.json", "signer.pem.pub", "agt-verify.sarif", "kill-switch.db"]:
        assert (tmp_path / artefact).is_file(), artefact


def test_a_changed_outcome_fails_the_demo(tmp_path: Path) -> None:
    # Without the rule that refuses outbound calls after an injection, the hijacked call goes
    # through to the tool: the demo must say so and exit 1.
    policy = (DEMO / "finance-team" / "policy.yaml").read_text(encoding="utf-8")
    weakened = re.sub(r"- name: tainted-egress\n(  .*\n)+", "", policy)
    assert "tainted-egress" not in weakened
    (tmp_path / "policy.yaml").write_text(weakened, encoding="utf-8")
    result = run_demo(
        str(DEMO / "run_demo.py"), "--out", str(tmp_path / "out"), "--policy", str(tmp_path / "policy.yaml")
    )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "expected deny by rule tainted-egress" in result.stdout


def test_the_quick_start_demo_holds() -> None:
    result = run_demo(str(DEMO / "quick_start.py"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "came out as expected" in result.stdout
