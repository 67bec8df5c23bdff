"""Creating users and tokens, and finding who a bearer token belongs to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.users.models import ROLES, ApiToken, User
from callcenter.users.security import hash_password, new_api_token, token_hash


async def create_user(session: AsyncSession, *, username: str, role: str,
                      password: str | None = None, agent_name: str | None = None,
                      interface: str | None = None,
                      outbound_callerid: str | None = None) -> User:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == "agent" and not (agent_name and interface):
        raise ValueError("an agent needs an agent name and an Asterisk interface")
    user = User(username=username, role=role,
                password_hash=hash_password(password) if password else None,
                agent_name=agent_name, interface=interface,
                outbound_callerid=outbound_callerid, active=True)
    session.add(user)
    await session.flush()
    return user


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
