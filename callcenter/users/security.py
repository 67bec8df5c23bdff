"""Passwords (scrypt), API tokens (random, stored hashed), short-lived signed tokens and URLs.

Signed values are HMAC-SHA256 over their content with the service's secret key; nothing here
trusts a value that does not verify, and every comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(password.encode(), salt=_unb64(salt), dklen=32, **_SCRYPT)
    return hmac.compare_digest(candidate, _unb64(digest))


def new_api_token() -> tuple[str, str]:
    """(the token, shown once; its hash, stored)."""
    token = "cc_" + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign(payload: dict[str, object], key: bytes, ttl: float) -> str:
    body = _b64(json.dumps({**payload, "exp": int(time.time() + ttl)},
                           separators=(",", ":")).encode())
    return f"s.{body}.{_mac(body, key)}"


def verify(token: str, key: bytes) -> dict[str, object] | None:
    try:
        prefix, body, mac = token.split(".")
    except ValueError:
        return None
    if prefix != "s" or not hmac.compare_digest(mac, _mac(body, key)):
        return None
    try:
        payload = json.loads(_unb64(body))
    except ValueError:
        return None
    if not isinstance(payload, dict) or int(payload.get("exp", 0)) < time.time():
        return None
    return payload


def _mac(body: str, key: bytes) -> str:
    return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
