"""The kill switch command line: pull, status, history, release; bad input and missing stores."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent_sre import KillSwitch

from .conftest import make_request


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent_sre", *args], capture_output=True, text=True, check=False
    )


def test_pull_status_history_release(tmp_path: Path) -> None:
    db = str(tmp_path / "ks.db")
    pulled = cli("--store", db, "pull", "agent", "bot-7", "--by", "alice", "--reason", "INC-42")
    assert pulled.returncode == 0 and "pulled agent:bot-7" in pulled.stdout
    assert (
        KillSwitch(db, max_staleness_s=0).check(make_request("bot-7")) is not None
    )  # seen by a governed process
    status = cli("--store", db, "status")
    assert "agent:bot-7\tpulled by alice" in status.stdout and "INC-42" in status.stdout
    released = cli("--store", db, "release", "agent", "bot-7", "--by", "bob", "--reason", "fixed")
    assert released.returncode == 0
    again = cli("--store", db, "release", "agent", "bot-7", "--by", "bob", "--reason", "fixed")
    assert again.returncode == 1 and "was not pulled" in again.stderr
    history = cli("--store", db, "history").stdout.splitlines()
    assert [line.split("\t")[2] for line in history] == ["pull", "release"]


def test_bad_input_and_missing_store(tmp_path: Path) -> None:
    db = tmp_path / "ks.db"
    missing = cli("--store", str(db), "status")
    assert missing.returncode == 3 and "does not exist" in missing.stderr and not db.exists()
    no_reason = cli("--store", str(db), "pull", "agent", "bot", "--by", "a", "--reason", " ")
    assert no_reason.returncode == 2 and "say why" in no_reason.stderr
    usage = cli("--store", str(db), "pull", "planet", "x", "--by", "a", "--reason", "b")
    assert usage.returncode == 2
