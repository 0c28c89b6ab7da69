"""Real-shaped secrets (each must be redacted) and near misses (each must be left alone).

Every value is fake: shaped like the provider's format, generated here, never a live credential.
Some are assembled from parts so that secret scanners reading this repository do not flag them.
"""

from __future__ import annotations

import base64
import json


def _b64url(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _luhn_complete(prefix: str, length: int) -> str:
    """`prefix` padded with 7s to `length - 1` digits, plus the Luhn check digit."""
    body = (prefix + "7" * length)[: length - 1]
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)


_JWT = ".".join(
    [
        _b64url({"alg": "HS256", "typ": "JWT"}),
        _b64url({"sub": "1234567890", "name": "Jane Roe", "iat": 1516239022}),
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    ]
)
_PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIAbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefABCD\n"
    "-----END PRIVATE KEY-----"
)
_RSA_PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n-----END RSA PRIVATE KEY-----"

# (detector, text, the secret inside it)
SECRETS: list[tuple[str, str, str]] = [
    (
        "openai_api_key",
        "OPENAI_API_KEY=" + "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0hIj3kLm6n",
        "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0hIj3kLm6n",
    ),
    (
        "openai_api_key",
        "legacy sk-" + "a1B2c3D4e5F6g7H8i9J0" + "T3BlbkFJ" + "k1L2m3N4o5P6q7R8s9T0 key",
        "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",
    ),
    (
        "anthropic_api_key",
        "x-api-key: " + "sk-ant-api03-" + "Zx9" * 31 + "-AA",
        "sk-ant-api03-" + "Zx9" * 31 + "-AA",
    ),
    ("aws_access_key", "aws_access_key_id = AKIA" + "IOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_access_key", "temporary ASIA" + "Y34FZKBOKMUTVV7A in the log", "ASIAY34FZKBOKMUTVV7A"),
    (
        "aws_secret_key",
        "aws_secret_access_key = wJalrXUtnFI/K7MDENG/bPxRfiCY" + "EXAMPLEKEYab",
        "wJalrXUtnFI/K7MDENG/bPxRfiCYEXAMPLEKEYab",
    ),
    (
        "aws_secret_key",
        '{"SecretAccessKey": "' + "je7MtGbClwBF/2Zp9Utk/h3yCo8nvb" + 'EXAMPLEKEY"}',
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    ),
    (
        "github_token",
        "token ghp_" + "16C7e42F292c6912E7710c838347Ae178B4a",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    ),
    (
        "github_token",
        "github_pat_" + "11ABCDEFG0123456789abc_" + "x" * 59,
        "github_pat_11ABCDEFG0123456789abc_" + "x" * 59,
    ),
    ("gitlab_token", "PRIVATE-TOKEN: glpat-" + "xV3kS9aB2cD4eF6gH8jK", "glpat-xV3kS9aB2cD4eF6gH8jK"),
    (
        "slack_token",
        "SLACK_BOT_TOKEN=xoxb-" + "1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    ),
    (
        "slack_token",
        "post to https://hooks.slack.com/services/" + "T0123ABCD/B0123ABCD/abcdefghijklmnopqrstuvwx",
        "https://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcdefghijklmnopqrstuvwx",
    ),
    (
        "stripe_key",
        "stripe.api_key = 'sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc'",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    ),
    ("stripe_key", "restricted rk_test_" + "51H8xYzAbCdEfGhIjKlMnOpQr", "rk_test_51H8xYzAbCdEfGhIjKlMnOpQr"),
    (
        "google_api_key",
        "key=AIza" + "SyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI&q=x",
        "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI",
    ),
    (
        "google_api_key",
        "client_secret GOCSPX-" + "1a2B3c4D5e6F7g8H9i0J1k2L3m4N",
        "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",
    ),
    ("private_key", "key:\n" + _PEM + "\nend", _PEM),
    ("private_key", _RSA_PEM, _RSA_PEM),
    (
        "private_key",
        "truncated -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY",
        "MHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY",
    ),
    ("jwt", "Authorization: Bearer " + _JWT, _JWT),
    ("url_password", "DATABASE_URL=postgres://app:S3cr3t!pw@db.internal:5432/prod", "S3cr3t!pw"),
    ("url_password", "git clone https://deploy:glass-Horse-7@git.example.com/repo.git", "glass-Horse-7"),
    ("credit_card", "card 4111 1111 1111 1111 exp 12/29", "4111 1111 1111 1111"),
    ("credit_card", "mc 5500-0000-0000-0004", "5500-0000-0000-0004"),
    ("credit_card", "amex 378282246310005.", "378282246310005"),
    ("credit_card", "generated " + _luhn_complete("6011", 16), _luhn_complete("6011", 16)),
    ("email", "contact jane.roe+billing@example.co.uk today", "jane.roe+billing@example.co.uk"),
    ("email", "Email:bob@corp.example.com", "bob@corp.example.com"),
    ("phone_number", "call +1 415-555-0132 now", "+1 415-555-0132"),
    ("phone_number", "tel (415) 555-0132", "(415) 555-0132"),
    ("phone_number", "UK +44 20 7946 0958", "+44 20 7946 0958"),
    ("phone_number", "office 212.555.0175", "212.555.0175"),
]

# (text, why it must not be redacted)
NEAR_MISSES: list[tuple[str, str]] = [
    ("order 4111 1111 1111 1112 shipped", "fails the Luhn checksum"),
    ("invoice 1234567812345678", "fails the Luhn checksum"),
    ("id 0000 0000 0000 0000", "a run of one digit"),
    ("request 123e4567-e89b-12d3-a456-426614174000", "a UUID"),
    ("commit 9fceb02d0ae598e95dc970b74767f19372d61af8", "a git SHA"),
    ("sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "a SHA-256"),
    ("AKIA" + "IOSFODNN7EXAMP", "a truncated AWS key id"),
    ("akia" + "iosfodnn7example", "lower case is not an AWS key id"),
    ("sk-" + "short-token", "too short for an OpenAI key"),
    ("ghp_" + "abc123", "a truncated GitHub token"),
    ("glpat-" + "short", "a truncated GitLab token"),
    ("sk_live_" + "short", "a truncated Stripe key"),
    ("AIza" + "SyShort", "a truncated Google key"),
    ("eyJhbGciOi.not.a-token", "JWT-like but too short"),
    (
        "eyJ" + "notbase64atall!!" + ".eyJabcdefgh.abcdefghijklmnopqrstuvwx",
        "JWT-shaped; the header does not decode",
    ),
    ("https://user@example.com/path", "a URL with a user and no password"),
    ("http://localhost:8080/health", "a URL with a port"),
    ("released 2024-01-15 as v1.2.3", "a date and a version"),
    ("order number 1234567890", "ten digits without separators"),
    ("ip 192.168.100.200", "an IP address"),
    ("user@localhost", "no top-level domain"),
    ("the -----BEGIN PUBLIC KEY----- block is fine", "a public key"),
    (
        "aws_secret_access_key = 9fceb02d0ae598e95dc970b74767f19372d61af8",
        "40 hex digits are a hash, not an AWS secret",
    ),
    (
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a@b",
        "a public SSH key",
    ),
    ("price 1,234,567.89 USD", "a number with thousands separators"),
]
