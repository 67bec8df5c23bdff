"""Error answers as the OpenAPI document promises them.

Every refusal is `{"detail": "..."}` (the `Problem` schema), except a 422, which always has
FastAPI's `HTTPValidationError` shape: a list of `{loc, msg, type}` naming the field. The
service's own 422s (a number that is not a phone number, a name Asterisk cannot take) use
the same shape as the ones pydantic raises, so a client has one error format to read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

from callcenter.limits import InvalidInput


class Problem(BaseModel):
    """Why a request was refused (every status but 422)."""

    detail: str


DESCRIPTIONS = {
    304: "the client's copy (If-None-Match) is current",
    400: "the request body cannot be parsed",
    401: "missing, invalid or expired bearer token",
    403: "the token's role may not do this",
    404: "no such object (or not one this user may see)",
    409: "conflicts with the current state",
    410: "the object's file is gone",
    413: "the upload is too large",
    416: "range not satisfiable",
    429: "too many attempts; see Retry-After",
    503: "Asterisk (or the database) is not reachable now",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the refusals it can answer, each with the Problem body."""
    return {code: {"model": Problem, "description": DESCRIPTIONS[code]} for code in codes}


def invalid(loc: Sequence[str | int], message: str) -> RequestValidationError:
    """A 422 for a value that passed the schema but not the service (raise it)."""
    return RequestValidationError([{"loc": tuple(loc), "msg": message, "type": "value_error"}])


def _unprocessable(errors: Sequence[Any]) -> Response:
    """The 422 body: where, what and why, without echoing the input back (it may be a
    password or personal data, or text that is not even valid UTF-8, such as a lone
    surrogate from a JSON escape)."""
    detail = [{"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
              for error in errors]
    return Response(json.dumps({"detail": detail}), status_code=422,
                    media_type="application/json")


async def _request_invalid(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return _unprocessable(exc.errors())


async def _invalid_input(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidInput)
    return _unprocessable([{"loc": ("body", exc.field), "msg": exc.message,
                            "type": "value_error"}])


def _required_role(dependant: Dependant) -> str | None:
    for sub in dependant.dependencies:
        role = getattr(sub.call, "required_role", None) or _required_role(sub)
        if role:
            return role
    return None


def install(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Maps domain input errors to 422 and documents the refusals every route of a kind can
    answer (call it before the routers are included).

    The 401/403 a route can answer follow from the role it declares, the 400 from its having
    a body, so the document and the code cannot disagree."""
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(InvalidInput, _invalid_input)
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for route in (route for router in routers for route in router.routes):
        if not isinstance(route, APIRoute):
            continue
        role = _required_role(route.dependant)
        codes: tuple[int, ...] = ()
        if role is not None:
            codes = (401,) if role == "agent" else (401, 403)
        if route.body_field is not None:  # bytes that are not UTF-8 never reach validation
            codes += (400,)
        route.responses = {**{code: {"description": DESCRIPTIONS[code], "content": problem}
                               for code in codes}, **route.responses}
