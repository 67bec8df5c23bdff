"""The dialler's pure core: results, retries, calling hours in the callee's zone, pacing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter.projects import core

RULES = core.Rules(retry={"busy": 10, "no_answer": 60, "congestion": 10, "failed": None},
                   max_attempts=3, hours=core.Hours(9 * 60, 21 * 60))
NOON_MSK = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
MSK = ("Europe/Moscow",)


def test_originate_reasons_and_causes_classify_the_result() -> None:
    assert core.classify(4) == "answered"
    assert core.classify(5) == "busy"
    assert core.classify(3) == "no_answer"
    assert core.classify(8) == "congestion"
    assert core.classify(0) == "failed"
    assert core.classify(0, cause=1) == "invalid"
    assert core.classify(1, cause=17) == "busy"
    assert core.classify(None) == "failed"


def test_retry_delays_follow_the_result() -> None:
    busy = core.after_attempt(RULES, result="busy", attempts=1, now=NOON_MSK, zones=MSK)
    assert (busy.state, busy.next_at) == ("queued", NOON_MSK + timedelta(minutes=10))
    silent = core.after_attempt(RULES, result="no_answer", attempts=1, now=NOON_MSK, zones=MSK)
    assert silent.next_at == NOON_MSK + timedelta(hours=1)
    failed = core.after_attempt(RULES, result="failed", attempts=1, now=NOON_MSK, zones=MSK)
    assert failed.state == "done"
    assert core.after_attempt(RULES, result="invalid", attempts=1, now=NOON_MSK,
                              zones=MSK).state == "done"


def test_never_beyond_max_attempts_even_with_a_callback() -> None:
    step = core.after_attempt(RULES, result="busy", attempts=3, now=NOON_MSK, zones=MSK,
                              callback_at=NOON_MSK + timedelta(hours=2))
    assert (step.state, step.why) == ("done", "max_attempts")


def test_the_agents_callback_time_wins_over_rules_and_disposition() -> None:
    later = NOON_MSK + timedelta(hours=3)
    closes = core.DispositionRule("not_interested", closes_number=True)
    step = core.after_attempt(RULES, result="answered", attempts=1, now=NOON_MSK, zones=MSK,
                              disposition=closes, callback_at=later)
    assert (step.state, step.next_at) == ("queued", later)


def test_dispositions_close_retry_or_succeed() -> None:
    retry = core.DispositionRule("call_later", retry_after_minutes=30)
    step = core.after_attempt(RULES, result="answered", attempts=1, now=NOON_MSK, zones=MSK,
                              disposition=retry)
    assert step.next_at == NOON_MSK + timedelta(minutes=30)
    sale = core.DispositionRule("sale", is_success=True)
    assert core.after_attempt(RULES, result="answered", attempts=1, now=NOON_MSK, zones=MSK,
                              disposition=sale).state == "done"


def test_a_retry_falling_after_hours_moves_to_the_next_morning_in_the_callees_zone() -> None:
    evening = datetime(2026, 12, 4, 17, 55, tzinfo=UTC)  # 20:55 Moscow
    step = core.after_attempt(RULES, result="busy", attempts=1, now=evening, zones=MSK)
    assert step.next_at == datetime(2026, 12, 5, 6, 0, tzinfo=UTC)  # 09:00 Moscow


def test_hours_hold_in_every_zone_of_a_number() -> None:
    hours = core.Hours(9 * 60, 21 * 60)
    zones = ("Europe/Moscow", "Asia/Vladivostok")  # 7 hours apart: 09-14 Moscow overlap
    at = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)  # 06:00 Moscow, 13:00 Vladivostok
    assert not hours.contains(at, zones)
    allowed = hours.next_allowed(at, zones)
    assert allowed == datetime(2026, 12, 4, 6, 0, tzinfo=UTC)
    assert hours.contains(allowed, zones)
    assert not hours.contains(datetime(2026, 12, 4, 11, 0, tzinfo=UTC), zones)
    assert core.Hours(9 * 60, 10 * 60).next_allowed(at, ("Europe/Moscow", "Asia/Tokyo")) \
        is None


def test_time_zones_come_from_the_number() -> None:
    assert core.timezones_for("+74951234567") == ("Europe/Moscow",)
    assert core.timezones_for("+4930123456") == ("Europe/Berlin",)
    assert "Asia/Vladivostok" in core.timezones_for("+79161234567")  # a mobile: all of Russia
    assert core.timezones_for("+999") == ("UTC",)


def test_may_dial_refuses_dnc_exhausted_and_out_of_hours() -> None:
    hours = core.Hours(9 * 60, 21 * 60)
    kw = {"zones": MSK, "hours": hours, "max_attempts": 3}
    assert core.may_dial(now=NOON_MSK, attempts=0, on_dnc=False, **kw) is None
    assert core.may_dial(now=NOON_MSK, attempts=0, on_dnc=True, **kw) == "dnc"
    assert core.may_dial(now=NOON_MSK, attempts=3, on_dnc=False, **kw) == "max_attempts"
    night = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
    assert core.may_dial(now=night, attempts=0, on_dnc=False, **kw) == "out_of_hours"


def test_pacing_gives_one_call_per_free_agent_at_most() -> None:
    projects_of = {"anna": [(1, 10), (5, 20)], "boris": [(1, 10)], "vera": []}
    assert core.plan(["anna", "boris", "vera", "anna"], projects_of) == [
        ("anna", 20), ("boris", 10)]
    assert core.plan(["anna", "boris"], projects_of, busy_projects=frozenset({20})) == [
        ("anna", 10), ("boris", 10)]
