"""Users and their credentials: creating, logging in, deactivating, resetting a password,
revoking tokens, and finding who a bearer token belongs to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.limits import (
    AMI_VALUE,
    INTERFACE,
    USERNAME,
    InvalidInput,
    check_text,
    column_length,
)
from callcenter.users.models import ROLES, ApiToken, User
from callcenter.users.security import hash_password, new_api_token, token_hash, verify_password
from callcenter.users.throttle import LoginThrottle


class WrongCredentials(Exception):
    """Unknown user, inactive user, no password, or a wrong one: deliberately one error."""


class NoSuchUser(LookupError):
    pass


async def create_user(session: AsyncSession, *, username: str, role: str,
                      password: str | None = None, agent_name: str | None = None,
                      interface: str | None = None,
                      outbound_callerid: str | None = None) -> User:
    if role not in ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(ROLES)}")
    if role == "agent" and not (agent_name and interface):
        raise InvalidInput("interface" if agent_name else "agent_name",
                           "an agent needs an agent name and an Asterisk interface")
    # the CLI comes here without the API's schema: the same bounds, checked once more
    check_text("username", username, column_length(User.username), USERNAME)
    for field, value, pattern in (("agent_name", agent_name, AMI_VALUE),
                                  ("interface", interface, INTERFACE),
                                  ("outbound_callerid", outbound_callerid, AMI_VALUE)):
        if value is not None:
            check_text(field, value, column_length(getattr(User, field)), pattern)
    user = User(username=username, role=role,
                password_hash=await hash_password(password) if password else None,
                agent_name=agent_name, interface=interface,
                outbound_callerid=outbound_callerid, active=True, token_epoch=0)
    session.add(user)
    await session.flush()
    return user


async def authenticate(session: AsyncSession, throttle: LoginThrottle, *, username: str,
                       password: str, address: str | None) -> User:
    """The user, after the throttle (Throttled) and one password check whatever the username:
    unknown users cost the same scrypt run as known ones."""
    throttle.attempt(username, address)
    user = await session.scalar(select(User).where(User.username == username))
    stored = user.password_hash if user is not None and user.active else None
    # the read is over: its connection goes back to the pool before the slow hash, so
    # password guessers waiting for scrypt do not hold the web's connections
    await session.commit()
    # the hash first, always: an unknown user must not return sooner than a known one
    if not await verify_password(password, stored) or user is None:
        raise WrongCredentials
    throttle.succeeded(username)
    return user


async def find_user(session: AsyncSession, username: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NoSuchUser(f"no user named {username!r}")
    return user


def set_active(user: User, active: bool) -> None:
    """A deactivated user is refused at once by new requests, within the 10 s token cache by
    the API, and their open WebSockets are closed at the next check (ws_recheck_seconds)."""
    user.active = active


async def set_password(session: AsyncSession, user: User, password: str) -> None:
    """A new password ends the login sessions made with the old one."""
    user.password_hash = await hash_password(password)
    user.token_epoch += 1
    await session.flush()


async def revoke_tokens(session: AsyncSession, user: User) -> int:
    """Every API token deleted, every login token and ticket void; the number of API tokens."""
    result = await session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    user.token_epoch += 1
    await session.flush()
    return result.rowcount or 0  # type: ignore[attr-defined]


async def create_token(session: AsyncSession, user: User, name: str = "api",
                       ttl: timedelta | None = None) -> str:
    token, digest = new_api_token()
    now = datetime.now(UTC)
    session.add(ApiToken(user_id=user.id, token_hash=digest, name=name, created_at=now,
                         expires_at=now + ttl if ttl else None))
    await session.flush()
    return token


async def user_for_token(session: AsyncSession, token: str) -> User | None:
    row = await session.execute(
        select(User, ApiToken.expires_at).join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == token_hash(token), User.active.is_(True)))
    found = row.first()
    if found is None:
        return None
    user, expires_at = found
    if expires_at is not None and expires_at < datetime.now(UTC):
        return None
    return user


async def user_for_signed(session: AsyncSession, payload: dict[str, object] | None) -> User | None:
    """The active user a verified login token or ticket names, if it was not revoked since."""
    if payload is None or not isinstance(payload.get("uid"), int):
        return None
    user = await session.get(User, payload["uid"])
    if user is None or not user.active or user.token_epoch != payload.get("ep"):
        return None
    return user
