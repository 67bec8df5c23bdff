"""Thresholds and today's figures, pure: colours, the service level's arithmetic, midnight in
the site's zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter.queues.targets import InvalidThresholds, Targets, grade
from callcenter.queues.today import queue_day, start_of_day


def test_a_figure_at_or_past_a_threshold_takes_its_colour():
    assert [grade(v, 3, 6) for v in (None, 0, 2, 3, 5, 6, 60)] == [
        "green", "green", "green", "amber", "amber", "red", "red"]
    # the service level: lower is worse
    assert [grade(v, 80, 60, lower_is_worse=True) for v in (None, 100, 80, 79.9, 60, 59.9)] == [
        "green", "green", "green", "amber", "amber", "red"]


def test_amber_comes_before_red():
    Targets().check()
    with pytest.raises(InvalidThresholds) as wrong:
        Targets(longest_wait_amber=200, longest_wait_red=100).check()
    assert wrong.value.field == "longest_wait_amber"
    with pytest.raises(InvalidThresholds) as wrong:
        Targets(service_level_amber=50, service_level_red=70).check()
    assert wrong.value.field == "service_level_amber"


def test_the_service_level_counts_every_offered_call():
    day = queue_day(offered=8, answered=6, abandoned=2, within=5, wait_sum=60, waits=6, aht=95.44)
    assert (day.service_level, day.abandoned_percent, day.asa, day.aht) == (62.5, 25.0, 10.0,
                                                                            95.4)
    empty = queue_day(0, 0, 0, 0, 0, 0, None)
    assert (empty.service_level, empty.abandoned_percent, empty.asa) == (None, None, None)


def test_today_starts_at_midnight_in_the_sites_zone():
    # 22:30 UTC on 20 Nov is 01:30 on 21 Nov in Moscow: today began at 21:00 UTC on 20 Nov
    assert start_of_day(datetime(2026, 11, 20, 22, 30, tzinfo=UTC), "Europe/Moscow") == \
        datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
    assert start_of_day(datetime(2026, 11, 20, 20, 30, tzinfo=UTC), "Europe/Moscow") == \
        datetime(2026, 11, 19, 21, 0, tzinfo=UTC)
