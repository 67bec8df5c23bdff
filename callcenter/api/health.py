"""Liveness for operators and load balancers: which of AMI, AGI and the database are up."""

from __future__ import annotations

from fastapi import APIRouter, Response

from callcenter.api.deps import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(service: ServiceDep, response: Response) -> dict[str, object]:
    parts = await service.health()
    ok = all(value for value in parts.values() if isinstance(value, bool))
    if not ok:
        response.status_code = 503
    return {"status": "ok" if ok else "degraded", **parts}
