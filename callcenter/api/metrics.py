"""Prometheus: `/metrics`, and HTTP latency per route template."""

from __future__ import annotations

import time

from fastapi import APIRouter, Response
from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callcenter.api.deps import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
async def metrics(service: ServiceDep) -> Response:
    """Prometheus text format; operational figures only, no personal data."""
    body, content_type = service.metrics.exposition()
    return Response(body, media_type=content_type)


class HttpLatency:
    """Times each request by its route template (`/contacts/{contact_id}`, never the raw
    path: a scanner's random URLs all count as "unmatched"), until the response is sent."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.histogram.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - started)
