"""Strict unpadded base64url, the text form of signatures, nonces and keys in our messages."""

from __future__ import annotations

import base64
import binascii

__all__ = ["b64d", "b64e"]


def b64e(data: bytes) -> str:
    """Encode as base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: object, *, size: int | None = None, what: str = "value") -> bytes:
    """Decode unpadded base64url, refusing other alphabets, padding and non-canonical spellings.

    Raises:
        ValueError: saying what `what` should have been.
    """
    if not isinstance(text, str) or not text.isascii() or "=" in text:
        raise ValueError(f"{what} is not unpadded base64url text")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{what} is not valid base64url") from exc
    if b64e(data) != text:
        raise ValueError(f"{what} is not canonical base64url")
    if size is not None and len(data) != size:
        raise ValueError(f"{what} must be {size} bytes, got {len(data)}")
    return data
