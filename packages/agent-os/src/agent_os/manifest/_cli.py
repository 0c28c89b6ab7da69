r"""The command line: ``keygen``, ``sign`` and ``verify``.

    python -m agent_os.manifest keygen --out publisher          # publisher.pem, publisher.pub
    python -m agent_os.manifest sign --key publisher.pem --name fetch_report --version 1.0.0 \
        --entry-point reports.tools:fetch_report --capability fetch_report \
        --root src --out src/fetch_report.manifest.json src/reports
    python -m agent_os.manifest verify --trusted-key publisher.pub src/fetch_report.manifest.json

Exit codes: 0 done, 1 a manifest did not verify, 2 bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import timedelta

from agent_os.manifest._errors import ManifestError
from agent_os.manifest._keys import generate_keypair, load_private_key
from agent_os.manifest._verify import (
    ManifestVersions,
    create_manifest,
    sign_manifest,
    verify_manifest,
    write_manifest,
)

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agent_os.manifest", description="Signed tool manifests.")
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="create an Ed25519 keypair: OUT.pem (private) and OUT.pub")
    keygen.add_argument("--out", required=True, help="path prefix of the two files")
    sign = commands.add_parser("sign", help="hash the tool's files and write a signed manifest")
    sign.add_argument("--key", required=True, help="the private key (.pem) to sign with")
    sign.add_argument("--name", required=True)
    sign.add_argument("--version", required=True, help="dotted integers, e.g. 1.4.0")
    sign.add_argument("--entry-point", default="", help="module:qualname of the tool's callable")
    sign.add_argument("--capability", action="append", required=True, help="an action the tool may perform")
    sign.add_argument("--root", default=".", help="folder the file paths are relative to (default: .)")
    sign.add_argument("--valid-days", type=int, default=365, help="days until it expires (0: never)")
    sign.add_argument("--out", required=True, help="where to write the manifest (inside --root)")
    sign.add_argument("paths", nargs="+", help="files or folders of the tool's code")
    verify = commands.add_parser("verify", help="verify a manifest and the files it lists")
    verify.add_argument("--trusted-key", action="append", required=True, help="a trusted public key (.pub)")
    verify.add_argument("--versions", help="JSON file of accepted versions (replay protection)")
    verify.add_argument("manifest")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "keygen":
            kid = generate_keypair(f"{args.out}.pem", f"{args.out}.pub")
            print(f"wrote {args.out}.pem (private, mode 0600) and {args.out}.pub; key id {kid}")
            return 0
        if args.command == "sign":
            out_dir = os.path.dirname(os.path.realpath(args.out))
            if os.path.realpath(args.root) != out_dir:
                print(
                    "error: write the manifest into --root: its file paths are relative to its folder",
                    file=sys.stderr,
                )
                return 2
            manifest = create_manifest(
                args.root,
                args.paths,
                name=args.name,
                version=args.version,
                entry_point=args.entry_point,
                capabilities=args.capability,
                valid_for=timedelta(days=args.valid_days) if args.valid_days > 0 else None,
            )
            write_manifest(sign_manifest(manifest, load_private_key(args.key)), args.out)
            print(f"signed {args.name} {args.version}: {len(manifest.files)} files -> {args.out}")
            return 0
        versions = ManifestVersions(args.versions) if args.versions else ManifestVersions()
        verified = verify_manifest(args.manifest, args.trusted_key, versions=versions)
        m = verified.manifest
        print(f"ok: {m.name} {m.version} signed by {verified.signer}; {len(m.files)} files match")
        return 0
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1 if args.command == "verify" else 2
