"""Bounded web work: slots never wait, worker processes are bounded and replaced."""

from __future__ import annotations

import os
import runpy
import signal

import pytest

from callcenter.workers import Busy, Slots, WorkerLost, Workers


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def allocate(size: int) -> int:
    return len(bytearray(size))


def test_slots_refuse_beyond_the_bound_and_come_back_once_each():
    slots = Slots("conversions", 2, retry_after=5)
    first, _second = slots.take(), slots.take()
    with pytest.raises(Busy) as refused:
        slots.take()
    assert refused.value.retry_after == 5 and "conversions" in str(refused.value)
    first.release()
    first.release()  # twice: counted once
    assert slots.running == 1
    with slots.take():
        assert slots.running == 2
    assert slots.running == 1


async def test_a_dead_worker_is_replaced_and_a_greedy_one_stopped_by_its_memory_limit():
    workers = Workers(1, memory_limit=2**30)
    try:
        assert await workers.run(sum, [1, 2]) == 3
        with pytest.raises(WorkerLost):
            await workers.run(die)
        assert await workers.run(sum, [3, 4]) == 7  # a new process
        with pytest.raises(MemoryError):
            await workers.run(allocate, 3 * 2**29)
        assert await workers.run(allocate, 2**20) == 2**20  # the same process goes on
    finally:
        workers.shutdown()


def test_a_spawned_worker_importing_the_main_module_does_not_start_the_service():
    """`python -m callcenter run` spawns import workers, which import `callcenter.__main__`
    as `__mp_main__`: that must not run the command again."""
    runpy.run_module("callcenter.__main__", run_name="__mp_main__")  # returns, no SystemExit
