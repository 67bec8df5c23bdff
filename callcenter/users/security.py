"""Passwords (scrypt, on their own small thread pool), API tokens (random, stored hashed) and
the service's keys: one per purpose, derived from the configured secret, with old secrets
still accepted for verification so that rotating the secret logs nobody out.

Signed values (login tokens, recording URLs, WebSocket tickets) are itsdangerous
serializers; each purpose has its own salt, so itsdangerous derives a separate HMAC key for
it and a value signed for one purpose never verifies for another.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from callcenter.workers import BACKGROUND_NICENESS

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def _yield_cpu() -> None:
    """On Linux a thread has its own nice value: the hashing threads give way to the event
    loop's thread, so 20 password guesses a second (a core of scrypt) do not slow telephony."""
    if sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)


# scrypt releases the GIL; two workers keep it off the event loop and off the default pool
# (asyncio.to_thread), so a crowd of password guessers waits here and nowhere else.
_HASHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="password-hash",
                              initializer=_yield_cpu)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes) -> bytes:
    """The expensive step; every login attempt runs it exactly once, known user or not."""
    return hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)


def _hash_now(password: str) -> str:
    salt = secrets.token_bytes(16)
    return f"scrypt${_b64(salt)}${_b64(_scrypt(password, salt))}"


# Checked when there is no real hash (unknown user, no password set): the same work, so the
# response time does not tell which usernames exist.
_DUMMY_HASH = f"scrypt${_b64(b'callcenter-dummy')}${_b64(bytes(32))}"


def _verify_now(password: str, stored: str | None) -> bool:
    real = _parts(stored)
    salt, digest = real or _parts(_DUMMY_HASH)  # type: ignore[misc]
    return hmac.compare_digest(_scrypt(password, salt), digest) and real is not None


def _parts(stored: str | None) -> tuple[bytes, bytes] | None:
    """(salt, digest) of one of our hashes; None for none, or anything else."""
    try:
        scheme, salt, digest = (stored or "").split("$")
        return (_unb64(salt), _unb64(digest)) if scheme == "scrypt" else None
    except ValueError:
        return None


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, _hash_now, password)


async def verify_password(password: str, stored: str | None) -> bool:
    """Always one scrypt run, whether or not there is a hash to check against."""
    return await asyncio.get_running_loop().run_in_executor(_HASHING, _verify_now, password,
                                                            stored)


def new_api_token() -> tuple[str, str]:
    """(the token, shown once; its hash, stored)."""
    token = "cc_" + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Signed:
    """Values signed for one purpose, with an age limit checked on reading."""

    def __init__(self, secrets_oldest_first: list[bytes], purpose: str) -> None:
        self._serializer = URLSafeTimedSerializer(
            secrets_oldest_first, salt=f"callcenter.{purpose}",
            signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256})

    def sign(self, payload: dict[str, Any]) -> str:
        return self._serializer.dumps(payload)

    def verify(self, value: str, max_age: float) -> dict[str, Any] | None:
        """The payload, or None for anything forged, expired, signed for another purpose or
        malformed."""
        try:
            payload = self._serializer.loads(value, max_age=max_age)
        except (BadSignature, UnicodeError, ValueError):
            return None
        return payload if isinstance(payload, dict) else None


class Keys:
    """The current secret signs; old secrets (newest first in settings) still verify."""

    def __init__(self, current: bytes, old: list[bytes] | None = None,
                 forget: bytes | None = None) -> None:
        ring = [*reversed(old or []), current]  # itsdangerous signs with the last one
        self.login = Signed(ring, "login-token")
        self.recording = Signed(ring, "recording-url")
        self.ws_ticket = Signed(ring, "ws-ticket")
        self.csrf = Signed(ring, "csrf")  # the console's double-submit token, per session
        # The forget-me hash must stay the same for numbers already forgotten, so it is not
        # derived: it is the forget key if configured, else the secret itself (as it always
        # was). It never rotates; see the README before rotating the secret.
        self.forget = forget or current
