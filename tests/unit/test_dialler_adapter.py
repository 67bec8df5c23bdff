"""The dialler's reading of AMI: results from Originate's answer, the Dial status and the
hangup, whichever order they come in (as the real Asterisk sends them under load)."""

from __future__ import annotations

from callcenter.projects.dialler import Dialler, Placed
from callcenter.queues.live import LiveState


class _Ami:
    def __init__(self, first: dict[str, str]) -> None:
        self.first = first

    async def action(self, fields: dict[str, object]) -> dict[str, str]:
        return self.first


def _dialler(first: dict[str, str] | None = None) -> tuple[Dialler, list[tuple[str, str]]]:
    dialler = Dialler(_Ami(first or {"Response": "Success"}), None, LiveState(),  # type: ignore[arg-type]
                      channel="Local/{number}@x")
    finished: list[tuple[str, str]] = []
    dialler._finish = lambda placed, cause, how="": finished.append(  # type: ignore[method-assign]
        (placed.linkedid, dialler.result_of(placed, cause)))
    return dialler, finished


def test_an_unanswered_channel_hanging_up_first_waits_for_the_originate_reason() -> None:
    dialler, finished = _dialler()
    dialler.placed["dl-1"] = Placed("dl-1", "Anna", "progressive", 0.0, channel="Local/7@x")
    dialler.on_event({"Event": "Hangup", "Uniqueid": "dl-1", "Linkedid": "dl-1", "Cause": "16"})
    assert finished == []
    # the answer to a channel that never came up carries no ids: matched by its name
    dialler.on_event({"Event": "OriginateResponse", "Channel": "Local/7@x", "Reason": "5",
                      "Uniqueid": "<unknown>"})
    assert finished == [("dl-1", "busy")]


def test_answered_customer_without_the_agent_is_abandoned_with_the_agent_answered() -> None:
    dialler, finished = _dialler()
    for linkedid, status in (("dl-1", "ANSWER"), ("dl-2", "NOANSWER")):
        dialler.placed[linkedid] = Placed(linkedid, "Anna", "progressive", 0.0)
        dialler.on_event({"Event": "OriginateResponse", "Uniqueid": linkedid, "Reason": "4"})
        dialler.on_event({"Event": "VarSet", "Linkedid": linkedid, "Variable": "DIALSTATUS",
                          "Value": status})
        dialler.on_event({"Event": "Hangup", "Uniqueid": linkedid, "Linkedid": linkedid,
                          "Cause": "16"})
    assert finished == [("dl-1", "answered"), ("dl-2", "abandoned")]


async def test_an_outcome_arriving_as_the_actions_answer_is_not_lost() -> None:
    dialler, finished = _dialler({"Event": "OriginateResponse", "Response": "Failure",
                                  "Reason": "8", "Uniqueid": "dl-9", "Channel": "Local/9@x"})
    dialler.placed["dl-9"] = Placed("dl-9", "Anna", "progressive", 0.0, channel="Local/9@x")
    await dialler._send({"Action": "Originate"}, "dl-9")
    assert finished == [("dl-9", "congestion")]


def test_preview_results_come_from_the_customers_dial_status() -> None:
    dialler, finished = _dialler()
    for linkedid, status in (("pv-1", "BUSY"), ("pv-2", "ANSWER"), ("pv-3", "CHANUNAVAIL")):
        dialler.placed[linkedid] = Placed(linkedid, "Anna", "preview", 0.0)
        dialler.on_event({"Event": "OriginateResponse", "Uniqueid": linkedid, "Reason": "4"})
        dialler.on_event({"Event": "VarSet", "Linkedid": linkedid, "Variable": "DIALSTATUS",
                          "Value": status})
        dialler.on_event({"Event": "Hangup", "Uniqueid": linkedid, "Linkedid": linkedid})
    assert finished == [("pv-1", "busy"), ("pv-2", "answered"), ("pv-3", "failed")]


def test_a_dial_status_means_the_first_channel_answered_without_originates_answer() -> None:
    dialler, finished = _dialler()
    dialler.placed["dl-5"] = Placed("dl-5", "Anna", "progressive", 0.0, channel="Local/5@x")
    dialler.on_event({"Event": "VarSet", "Linkedid": "dl-5", "Variable": "DIALSTATUS",
                      "Value": "ANSWER"})
    dialler.on_event({"Event": "Hangup", "Uniqueid": "dl-5", "Linkedid": "dl-5", "Cause": "16"})
    assert finished == [("dl-5", "answered")]
    # a late answer naming the channel as created ("-0000001;1") finds nothing left to do
    dialler.on_event({"Event": "OriginateResponse", "Channel": "Local/5@x-00000001;1",
                      "Reason": "4"})
    assert finished == [("dl-5", "answered")]
