"""Background tasks that never die silently: a task that raises is logged with its traceback,
restarted after an exponential back-off (capped), and its state is there for /health."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Literal

log = logging.getLogger(__name__)

State = Literal["running", "restarting", "stopped"]


class SupervisedTask:
    def __init__(self, name: str, factory: Callable[[], Coroutine[Any, Any, object]], *,
                 min_backoff: float, max_backoff: float,
                 sleep: Callable[[float], Awaitable[object]]) -> None:
        self.name = name
        self._factory = factory
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self.state: State = "running"
        self.restarts = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None  # epoch seconds
        self.task = asyncio.create_task(self._supervise(), name=name)

    @property
    def alive(self) -> bool:
        return self.state == "running"

    def report(self) -> dict[str, object]:
        return {"alive": self.alive, "state": self.state, "restarts": self.restarts,
                "last_error": self.last_error, "last_error_at": self.last_error_at}

    async def _supervise(self) -> None:
        backoff = self.min_backoff
        while True:
            self.state = "running"
            started = time.monotonic()
            try:
                await self._factory()
            except asyncio.CancelledError:
                self.state = "stopped"
                raise
            except Exception as exc:
                if time.monotonic() - started > self.max_backoff:
                    backoff = self.min_backoff  # it ran well for a while: a fresh failure
                self.restarts += 1
                self.last_error = repr(exc)[:300]
                self.last_error_at = time.time()
                self.state = "restarting"
                log.exception("background task failed; restarting",
                              extra={"task": self.name, "restarts": self.restarts,
                                     "retry_in": backoff})
                await self._sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
            else:
                self.state = "stopped"  # the task chose to end (e.g. AMI client stopped)
                log.info("background task ended", extra={"task": self.name})
                return


class Supervisor:
    """Starts and watches the service's background tasks; one way to start each of them."""

    def __init__(self, *, min_backoff: float = 1.0, max_backoff: float = 60.0,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self.tasks: dict[str, SupervisedTask] = {}

    def start(self, name: str,
              factory: Callable[[], Coroutine[Any, Any, object]]) -> SupervisedTask:
        """Runs `factory()` until cancelled, again after each failure. Names are unique."""
        if name in self.tasks and not self.tasks[name].task.done():
            raise ValueError(f"a task named {name!r} is already supervised")
        task = SupervisedTask(name, factory, min_backoff=self.min_backoff,
                              max_backoff=self.max_backoff, sleep=self._sleep)
        self.tasks[name] = task
        return task

    def report(self) -> dict[str, dict[str, object]]:
        return {name: task.report() for name, task in self.tasks.items()}

    async def stop(self) -> None:
        for task in self.tasks.values():
            task.task.cancel()
        await asyncio.gather(*(t.task for t in self.tasks.values()), return_exceptions=True)
        for task in self.tasks.values():
            task.state = "stopped"
