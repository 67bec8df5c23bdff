"""The browser console's pages: small HTML shells the server hands out by role.

Each page is a Preact+htm module that reads the public HTTP API and WebSockets with the
session cookie. Which page a user may open is decided here, on the server: an agent asking
for the wallboard gets a 403 page, and its data would be refused by the API anyway.
"""

from __future__ import annotations

import base64
import hashlib
import html
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from callcenter.api.auth import LEVEL, Principal, resolve_token, session_token
from callcenter.api.deps import ServiceDep

STATIC = Path(__file__).parent / "static"
LANGUAGES = ("en", "ru")
LANGUAGE_COOKIE = "cc_lang"
# The browser loads nothing from anywhere else (no CDN); scripts only our own modules.
CSP = ("default-src 'self'; script-src 'self' 'sha256-{importmap}'; style-src 'self'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'")

router = APIRouter(include_in_schema=False)
static = StaticFiles(directory=STATIC)

_IMPORT_MAP = ('{"imports": {"preact": "/static/vendor/preact/preact.module.js", '
               '"preact/hooks": "/static/vendor/preact/hooks.module.js", '
               '"htm": "/static/vendor/htm/htm.module.js"}}')


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(_IMPORT_MAP.encode()).digest()).decode()
    return CSP.format(importmap=digest)


_HEADERS = {"Content-Security-Policy": _csp(), "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}


def language(request: Request) -> str:
    """The user's choice (cookie), else the browser's first language we have, else English."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"


def shell(request: Request, page: str, *, time_zone: str, principal: Principal | None,
          status_code: int = 200, pop_number: str = "") -> HTMLResponse:
    """The page: its data attributes tell the module who is signed in and the site's zone."""
    attrs = {"page": page, "time-zone": time_zone, "pop-number": pop_number,
             "username": principal.username if principal else "",
             "role": principal.role if principal else "",
             "agent": (principal.agent_name or "") if principal else "",
             "has-phone": "1" if principal and principal.interface else ""}
    data = " ".join(f'data-{k}="{html.escape(v)}"' for k, v in attrs.items())
    body = f"""<!doctype html>
<html lang="{language(request)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>callcenter</title>
<link rel="stylesheet" href="/static/console.css">
<script type="importmap">{_IMPORT_MAP}</script>
<script type="module" src="/static/{page}.js"></script>
</head>
<body {data}>
<noscript>This console needs JavaScript. / Для работы консоли нужен JavaScript.</noscript>
<div id="app"></div>
</body>
</html>
"""
    return HTMLResponse(body, status_code=status_code, headers=_HEADERS)


async def signed_in(request: Request, service: ServiceDep) -> Principal | None:
    token = session_token(request)
    if token is None:
        return None
    async with service.sessions() as db:
        return await resolve_token(token, service, db)


def _to_signin(request: Request) -> Response:
    return RedirectResponse(f"/signin?next={quote(request.url.path)}", status_code=303)


@router.get("/")
async def home(request: Request, service: ServiceDep) -> Response:
    """Each role to its own screen."""
    principal = await signed_in(request, service)
    if principal is None:
        return _to_signin(request)
    target = "/supervisor" if LEVEL[principal.role] >= LEVEL["supervisor"] else "/desktop"
    return RedirectResponse(target, status_code=303)


@router.get("/signin")
async def signin(request: Request, service: ServiceDep) -> Response:
    return shell(request, "signin", time_zone=service.settings.time_zone, principal=None)


@router.get("/desktop")
async def desktop(request: Request, service: ServiceDep) -> Response:
    principal = await signed_in(request, service)
    if principal is None:
        return _to_signin(request)
    return shell(request, "desktop", time_zone=service.settings.time_zone,
                 principal=principal)


@router.get("/pop")
async def pop(request: Request, service: ServiceDep, number: str = "") -> Response:
    """The softphone screen-pop URL, `/pop?number={caller}`: the desktop with the card for
    that number, as GET /screenpop gives it to this user (agents: only numbers they are or
    recently were on a call with)."""
    principal = await signed_in(request, service)
    if principal is None:
        return RedirectResponse(f"/signin?next={quote(request.url.path + '?' + request.url.query)}",
                                status_code=303)
    return shell(request, "desktop", time_zone=service.settings.time_zone,
                 principal=principal, pop_number=number[:40])


@router.get("/supervisor")
async def supervisor(request: Request, service: ServiceDep) -> Response:
    """The live supervisor console: supervisors and admins only."""
    principal = await signed_in(request, service)
    if principal is None:
        return _to_signin(request)
    if LEVEL[principal.role] < LEVEL["supervisor"]:
        return shell(request, "forbidden", time_zone=service.settings.time_zone,
                     principal=principal, status_code=403)
    return shell(request, "supervisor", time_zone=service.settings.time_zone,
                 principal=principal)


@router.get("/wallboard")
async def wallboard(request: Request, service: ServiceDep) -> Response:
    """TV mode, read-only. A wall display opens `/wallboard#token=<display token>` (the token
    stays in the fragment: never sent in a page request, never in a server log); the page
    holds no data itself, the feed needs the token. Without one, a signed-in supervisor
    sees it; anyone else is sent to sign in, and an agent gets a 403 page."""
    principal = await signed_in(request, service)
    if principal is not None and LEVEL[principal.role] < LEVEL["supervisor"]:
        return shell(request, "forbidden", time_zone=service.settings.time_zone,
                     principal=principal, status_code=403)
    return shell(request, "wallboard", time_zone=service.settings.time_zone,
                 principal=principal)


async def _for_role(request: Request, service: ServiceDep, page: str, minimum: str) -> Response:
    """The page for `minimum` and above; below it a 403 page (the API refuses its data too)."""
    principal = await signed_in(request, service)
    if principal is None:
        return _to_signin(request)
    if LEVEL[principal.role] < LEVEL[minimum]:
        return shell(request, "forbidden", time_zone=service.settings.time_zone,
                     principal=principal, status_code=403)
    return shell(request, page, time_zone=service.settings.time_zone, principal=principal)


@router.get("/call-search")
async def calls_page(request: Request, service: ServiceDep) -> Response:
    """Call search with the recordings' player (supervisors and admins)."""
    return await _for_role(request, service, "calls", "supervisor")


@router.get("/reports")
async def reports_page(request: Request, service: ServiceDep) -> Response:
    return await _for_role(request, service, "reports", "supervisor")


@router.get("/project-progress")
async def projects_page(request: Request, service: ServiceDep) -> Response:
    """Outbound projects' progress and funnel (supervisors and admins). Not /projects:
    that path is the API's list."""
    return await _for_role(request, service, "projects", "supervisor")


@router.get("/audit-log")
async def audit_page(request: Request, service: ServiceDep) -> Response:
    return await _for_role(request, service, "audit", "supervisor")


@router.get("/speech")
async def speech_page(request: Request, service: ServiceDep) -> Response:
    """Transcript search for everyone (the API gives agents their own calls only); the QA
    flags, reviews and report on it are read from supervisor-only endpoints."""
    return await _for_role(request, service, "speech", "agent")


ADMIN_SECTIONS = ("users", "interfaces", "pause-reasons", "card-fields", "webhooks",
                  "dispositions")


@router.get("/administration/{section}")
async def admin_page(request: Request, service: ServiceDep, section: str) -> Response:
    """One module (admin.js) for the admin sections; it reads the section from the path."""
    if section not in ADMIN_SECTIONS:
        return RedirectResponse("/administration/users", status_code=303)
    return await _for_role(request, service, "admin", "admin")
