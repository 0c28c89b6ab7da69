"""``python -m agent_hypervisor``: verify, checkpoint, export and replay audit stores.

Exit codes: 0 success (verify: the log verified; replay: no decision differs), 1 a verification
failure or differing decisions, 2 bad usage or a file that cannot be read.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from agt_core import GovernanceError

__all__ = ["main"]


def _open(path: str) -> Any:
    if path.startswith(("postgresql://", "postgres://")):
        from agent_hypervisor._postgres_log import PostgresAuditLog

        return PostgresAuditLog(path, create=False)
    from agent_hypervisor._entry_points import parse_sqlite_location
    from agent_hypervisor._sqlite_log import SqliteAuditLog

    file, _ = parse_sqlite_location(path)
    return SqliteAuditLog(file, create=False)


def _verify(ns: argparse.Namespace, out: TextIO) -> int:
    from agent_hypervisor._checkpoint import SignedCheckpoint

    checkpoint = None
    if ns.checkpoint:
        checkpoint = SignedCheckpoint.from_json(Path(ns.checkpoint).read_bytes())
        if ns.public_key is None and not ns.trust_embedded_key:
            print(
                "error: --checkpoint needs --public-key (the signer's key you trust); "
                "--trust-embedded-key uses the key inside the checkpoint, which proves nothing against forgery",
                file=sys.stderr,
            )
            return 2
    key = ns.public_key if ns.public_key is not None else (checkpoint.public_key if checkpoint else None)
    with _open(ns.store) as log:
        report = log.verify(checkpoint=checkpoint, public_key=key, deep=ns.deep)
    print(f"{ns.store}: {report.summary()}", file=out)
    if report.ok and checkpoint is None and not report.checkpoints_checked:
        print(
            "note: no checkpoint was checked, so records cut off the end or a rebuilt log would go "
            "unnoticed; pass --checkpoint FILE --public-key KEY",
            file=out,
        )
    return 0 if report.ok else 1


def _keygen(ns: argparse.Namespace, out: TextIO) -> int:
    from agent_hypervisor._checkpoint import Ed25519Signer

    signer = Ed25519Signer.generate()
    key_path = Path(ns.out)
    if key_path.exists():
        print(f"error: `{key_path}` exists; refusing to overwrite a key", file=sys.stderr)
        return 2
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(signer.private_pem())
    pub = key_path.with_name(key_path.name + ".pub")
    pub.write_bytes(signer.public_pem())
    print(
        f"private key: {key_path}\npublic key: {pub}\npublic key (hex): {signer.public_key_bytes.hex()}",
        file=out,
    )
    return 0


def _checkpoint(ns: argparse.Namespace, out: TextIO) -> int:
    from agent_hypervisor._checkpoint import Ed25519Signer

    signer = Ed25519Signer.from_pem(Path(ns.key).read_bytes())
    with _open(ns.store) as log:
        signed = log.checkpoint(signer)
    text = signed.to_json()
    if ns.out:
        Path(ns.out).write_text(text + "\n", encoding="utf-8")
        print(
            f"checkpoint of {signed.tree_size} records, root {signed.root_hash}, written to {ns.out}",
            file=out,
        )
    else:
        print(text, file=out)
    return 0


def _export(ns: argparse.Namespace, out: TextIO) -> int:
    target: TextIO = open(ns.out, "w", encoding="utf-8") if ns.out else out  # noqa: SIM115 - closed below
    try:
        with _open(ns.store) as log:
            count = log.export_cloudevents(target) if ns.format == "cloudevents" else log.export_jsonl(target)
    finally:
        if target is not out:
            target.close()
    if ns.out:
        print(f"{count} records written to {ns.out}", file=out)
    return 0


def _replay(ns: argparse.Namespace, out: TextIO) -> int:
    from agent_hypervisor._events import is_event
    from agent_os import compile_policies

    policy_set = compile_policies(ns.policy)
    differing = skipped = total = 0
    other_sets: set[str] = set()
    with _open(ns.store) as log:
        for record in log.records():
            if is_event(record.request):
                continue  # hypervisor events (sessions, deltas, commitments) were never policy decisions
            total += 1
            recorded = record.decision
            if recorded.policy_set_hash and recorded.policy_set_hash != policy_set.hash:
                other_sets.add(recorded.policy_set_hash)
            if recorded.refused_by is not None or recorded.rate_limited:
                # Refused before or beside the policy (guard, enricher, rate limit): not a policy decision.
                skipped += 1
                continue
            now = policy_set.evaluate(record.request)
            if (now.effect, now.rule) != (recorded.effect, recorded.rule):
                differing += 1
                agent = (record.request.get("agent") or {}).get("id")
                action = (record.request.get("action") or {}).get("type")
                print(
                    f"record {record.seq} ({record.timestamp}) agent `{agent}` action `{action}`: "
                    f"recorded {recorded.effect} (rule `{recorded.rule}`) -> now {now.effect} (rule `{now.rule}`)",
                    file=out,
                )
    if other_sets:
        print(
            f"note: records were decided by {len(other_sets)} other policy set(s) than `{policy_set.hash}`",
            file=out,
        )
    print(
        f"{total} records replayed against {ns.policy}: {differing} decided differently, "
        f"{skipped} refused outside the policy (not replayed)",
        file=out,
    )
    return 1 if differing else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agent_hypervisor", description="Verify, checkpoint, export and replay audit stores."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", help="verify a store; exit 1 on any failure")
    v.add_argument("store", help="audit store (path, sqlite:/// or postgresql:// URL)")
    v.add_argument("--checkpoint", help="a signed checkpoint the log must extend (JSON file)")
    v.add_argument("--public-key", help="the checkpoint signer's public key (PEM file or 64 hex digits)")
    v.add_argument(
        "--trust-embedded-key", action="store_true", help="check the signature with the key it carries"
    )
    v.add_argument(
        "--deep", action="store_true", help="also check canonical form and SQLite's own consistency"
    )
    v.set_defaults(run=_verify)
    k = sub.add_parser("keygen", help="create an Ed25519 checkpoint signing key")
    k.add_argument(
        "--out", required=True, help="private key file to create (PEM, mode 0600); public key beside it"
    )
    k.set_defaults(run=_keygen)
    c = sub.add_parser("checkpoint", help="sign the store's current tree head")
    c.add_argument("store")
    c.add_argument("--key", required=True, help="private key PEM file")
    c.add_argument("--out", help="write the checkpoint here (default: stdout)")
    c.set_defaults(run=_checkpoint)
    e = sub.add_parser("export", help="export records as JSON Lines or CloudEvents")
    e.add_argument("store")
    e.add_argument("--format", choices=("jsonl", "cloudevents"), default="jsonl")
    e.add_argument("--out", help="output file (default: stdout)")
    e.set_defaults(run=_export)
    r = sub.add_parser(
        "replay", help="re-evaluate every recorded request; list the records decided differently"
    )
    r.add_argument("store")
    r.add_argument("--policy", required=True, help="policy file or folder to evaluate against")
    r.set_defaults(run=_replay)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; return the exit code."""
    ns = _parser().parse_args(argv)
    stream = out if out is not None else sys.stdout
    try:
        code: int = ns.run(ns, stream)
    except (GovernanceError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
