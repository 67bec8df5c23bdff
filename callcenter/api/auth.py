"""Who is calling the API, and whether their role may: every endpoint says which role it needs.

Bearer tokens are either API tokens (random, stored hashed, from `callcenter user add` or
POST /users/{id}/tokens) or short-lived login tokens (signed, from POST /auth/login). Logins
are throttled per username and per address (429 with Retry-After).

The browser console signs in with POST /auth/session instead: the same login token, kept in
an httpOnly, SameSite=Strict cookie that scripts cannot read. A cookie is sent by the browser
whoever made the page, so every state-changing request authenticated by it must also carry
the session's CSRF token in the X-CSRF-Token header (double submit: the token is in a cookie
scripts of our own origin can read, and signed for this very session).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.api.deps import DbDep, ServiceDep
from callcenter.api.errors import errors
from callcenter.limits import PLAIN_TEXT, column_length
from callcenter.service import Service
from callcenter.users.models import User
from callcenter.users.security import token_hash
from callcenter.users.service import (
    WrongCredentials,
    authenticate,
    user_for_signed,
    user_for_token,
)
from callcenter.users.throttle import Throttled

LEVEL = {"agent": 1, "supervisor": 2, "admin": 3}
LOGIN_PREFIX = "s."  # login tokens; API tokens start "cc_"
SESSION_COOKIE = "cc_session"  # httpOnly: the login token
CSRF_COOKIE = "cc_csrf"  # readable by our scripts, echoed in CSRF_HEADER
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: str
    agent_name: str | None
    interface: str | None
    outbound_callerid: str | None

    @property
    def is_agent(self) -> bool:
        return self.role == "agent"

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(user.id, user.username, user.role, user.agent_name, user.interface,
                   user.outbound_callerid)


async def resolve_token(token: str, service: Service,
                        db: AsyncSession | None = None) -> Principal | None:
    """Who a token belongs to: from the service's cache (10 s), else the database (`db`, or
    a session of its own: a request whose token is cached opens none)."""
    cached = service.principals.get(token)
    if isinstance(cached, Principal):
        return cached
    if db is None:
        async with service.sessions() as session:
            principal = await _lookup_token(token, service, session)
    else:
        principal = await _lookup_token(token, service, db)
    if principal is not None:
        service.principals.put(token, principal)
    return principal


async def _lookup_token(token: str, service: Service, db: AsyncSession) -> Principal | None:
    if token.startswith(LOGIN_PREFIX):
        payload = service.keys.login.verify(token.removeprefix(LOGIN_PREFIX),
                                            max_age=service.settings.login_token_minutes * 60)
        user = await user_for_signed(db, payload)
    else:
        user = await user_for_token(db, token)
    if user is None or not user.active:
        return None
    return Principal.of(user)


def csrf_token(service: Service, session_token: str) -> str:
    """The CSRF token of one session: signed, and naming a hash of the session's token."""
    return service.keys.csrf.sign({"s": token_hash(session_token)[:32]})


def csrf_valid(service: Service, session_token: str, presented: str | None) -> bool:
    payload = service.keys.csrf.verify(presented or "",
                                       max_age=service.settings.login_token_minutes * 60)
    return payload is not None and payload.get("s") == token_hash(session_token)[:32]


def session_token(request: Request) -> str | None:
    """The console's login token from its cookie (never an API token: those are not for
    browsers)."""
    token = request.cookies.get(SESSION_COOKIE)
    return token if token and token.startswith(LOGIN_PREFIX) else None


async def current_principal(
    request: Request, service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is not None:
        token = credentials.credentials
    elif (token := session_token(request)) is not None:
        if request.method not in SAFE_METHODS and not csrf_valid(
                service, token, request.headers.get(CSRF_HEADER)):
            raise HTTPException(403, f"a session cookie needs the {CSRF_HEADER} header "
                                     f"(from the {CSRF_COOKIE} cookie)")
    else:
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    principal = await resolve_token(token, service)
    if principal is None:
        raise HTTPException(401, "invalid or expired token",
                            headers={"WWW-Authenticate": "Bearer"})
    return principal


def role(minimum: str) -> Callable[..., Awaitable[Principal]]:
    """The dependency an endpoint declares: at least this role (agent < supervisor < admin)."""

    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if LEVEL[principal.role] < LEVEL[minimum]:
            raise HTTPException(403, f"needs the {minimum} role")
        return principal

    check.required_role = minimum  # type: ignore[attr-defined]
    return check


Agent = Annotated[Principal, Depends(role("agent"))]
Supervisor = Annotated[Principal, Depends(role("supervisor"))]
Admin = Annotated[Principal, Depends(role("admin"))]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


router = APIRouter(prefix="/auth", tags=["auth"])


class Login(BaseModel):
    username: Annotated[str, StringConstraints(max_length=column_length(User.username),
                                               pattern=PLAIN_TEXT)]
    password: Annotated[str, StringConstraints(max_length=1000, pattern=PLAIN_TEXT)]


class LoginToken(BaseModel):
    token: str
    expires_in: int
    role: str


@router.post("/login", response_model=LoginToken, responses=errors(401, 429))
async def login(body: Login, request: Request, service: ServiceDep, db: DbDep) -> LoginToken:
    """A short-lived token for a user with a password (scripts; the console uses
    POST /auth/session)."""
    return await _sign_in(body, request, service, db)


async def _sign_in(body: Login, request: Request, service: Service,
                   db: AsyncSession) -> LoginToken:
    try:
        user = await authenticate(db, service.login_throttle, username=body.username,
                                  password=body.password, address=client_ip(request))
    except Throttled as exc:
        raise HTTPException(429, str(exc),
                            headers={"Retry-After": str(exc.retry_after)}) from None
    except WrongCredentials:
        raise HTTPException(401, "wrong username or password") from None
    ttl = service.settings.login_token_minutes * 60
    token = LOGIN_PREFIX + service.keys.login.sign({"uid": user.id, "ep": user.token_epoch})
    return LoginToken(token=token, expires_in=ttl, role=user.role)


class Session(BaseModel):
    username: str
    role: str
    csrf_token: str = Field(description=f"send it back in the {CSRF_HEADER} header of every "
                                        "request that changes something")
    expires_in: int


@router.post("/session", response_model=Session, responses=errors(401, 429))
async def sign_in(body: Login, request: Request, response: Response, service: ServiceDep,
                  db: DbDep) -> Session:
    """Signs the browser in: the login token goes into an httpOnly, SameSite=Strict cookie
    (Secure when served over https), and the CSRF token into a cookie scripts can read."""
    login = await _sign_in(body, request, service, db)
    csrf = csrf_token(service, login.token)
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, login.token, max_age=login.expires_in, path="/",
                        httponly=True, samesite="strict", secure=secure)
    response.set_cookie(CSRF_COOKIE, csrf, max_age=login.expires_in, path="/",
                        httponly=False, samesite="strict", secure=secure)
    return Session(username=body.username, role=login.role, csrf_token=csrf,
                   expires_in=login.expires_in)


@router.delete("/session", status_code=204, responses=errors(403))
async def sign_out(request: Request, response: Response, service: ServiceDep) -> None:
    """Signs the browser out (its cookies are cleared). Without a valid CSRF token nothing
    happens, so another site cannot sign a user out."""
    token = session_token(request)
    if token is not None and not csrf_valid(service, token, request.headers.get(CSRF_HEADER)):
        raise HTTPException(403, f"signing out needs the {CSRF_HEADER} header")
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", samesite="strict")


class WsTicket(BaseModel):
    ticket: str
    expires_in: int


@router.post("/ws-ticket", response_model=WsTicket)
async def ws_ticket(principal: Agent, service: ServiceDep, db: DbDep) -> WsTicket:
    """A single-use ticket for `/ws/agent?ticket=…`, valid a few seconds: the long-lived token
    never goes into a URL (where access logs and proxies keep it)."""
    user = await db.get(User, principal.user_id)
    if user is None:
        raise HTTPException(401, "invalid or expired token")
    return WsTicket(ticket=service.ws_tickets.issue(user),
                    expires_in=service.ws_tickets.seconds)


class Me(BaseModel):
    username: str
    role: str
    agent_name: str | None
    interface: str | None


@router.get("/me", response_model=Me)
async def me(principal: Agent) -> Me:
    return Me(username=principal.username, role=principal.role,
              agent_name=principal.agent_name, interface=principal.interface)
