"""Pause totals of an agent's day from per-queue pause records."""

from datetime import UTC, datetime, timedelta

from callcenter.agents.today import pause_totals, start_of_day

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_pause_in_two_queues_counts_once_under_its_reason() -> None:
    changes = [("pause", "sales", "lunch", at(0)), ("pause", "support", "lunch", at(0)),
               ("unpause", "sales", None, at(30)), ("unpause", "support", None, at(30)),
               ("pause", "sales", "training", at(40)), ("unpause", "sales", None, at(50))]
    assert pause_totals(changes, T0, at(60)) == {"lunch": 1800.0, "training": 600.0}


def test_an_open_pause_runs_to_now_and_one_from_yesterday_from_midnight() -> None:
    changes = [("pause", "sales", "break", at(-30)), ("unpause", "sales", None, at(10)),
               ("pause", "sales", None, at(20))]
    assert pause_totals(changes, T0, at(25)) == {"break": 600.0, "": 300.0}


def test_logging_out_ends_a_pause_and_the_day_starts_at_local_midnight() -> None:
    changes = [("pause", "sales", "break", at(0)), ("logout", "sales", None, at(5)),
               ("unpause", "sales", None, at(9))]
    assert pause_totals(changes, T0, at(60)) == {"break": 300.0}
    # 02:30 in Moscow is 23:30 UTC the day before
    midnight = start_of_day(datetime(2026, 12, 3, 23, 30, tzinfo=UTC), "Europe/Moscow")
    assert midnight.isoformat() == "2026-12-04T00:00:00+03:00"
