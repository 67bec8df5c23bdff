"""Liveness for operators and load balancers: AMI, AGI, the database, the record writer's
backlog and every background task; 503 when a required part is down."""

from __future__ import annotations

from fastapi import APIRouter, Response

from callcenter.api.deps import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/health", responses={503: {"description": "a part is down (same body)"}})
async def health(service: ServiceDep, response: Response) -> dict[str, object]:
    body = await service.health()
    if body["status"] != "ok":
        response.status_code = 503
    return body
