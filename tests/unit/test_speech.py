"""Speech analytics' pure parts and engines: engine selection, a missing model turning the
feature off (one clear error, no crash), phrase matching across Russian word forms, spoken
numbers masked for agents, and the test engine hearing espeak-ng speech at the right second."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter.policy import Viewer, redact_spoken
from callcenter.settings import Settings
from callcenter.speech.engines import (
    EngineError,
    EngineSpec,
    PocketSphinx,
    TrackWords,
    load_engine,
    transcribe,
)
from callcenter.speech.models import QARule
from callcenter.speech.runner import Speech, engine_spec
from callcenter.speech.service import evaluate, shown_words
from callcenter.speech.text import Word, find_phrase
from tests.speech_audio import speech_with_phrase


def said(text: str, start: float = 0.0) -> list[Word]:
    return [Word(w, start + i, start + i + 0.9) for i, w in enumerate(text.split())]


# -- engine selection ----------------------------------------------------------------------

def test_engine_chosen_by_settings():
    assert engine_spec(Settings(speech_engine="off")) is None
    spec = engine_spec(Settings(speech_engine="vosk", speech_model_dir=Path("/srv/models/ru"),
                                speech_language="ru", speech_keywords=["авария"]))
    assert (spec.kind, spec.model_dir, spec.language, spec.keywords) == (
        "vosk", Path("/srv/models/ru"), "ru", ("авария",))
    assert isinstance(load_engine(EngineSpec("pocketsphinx")), PocketSphinx)
    with pytest.raises(EngineError, match="unknown speech engine 'kaldi-9000'"):
        load_engine(EngineSpec("kaldi-9000"))


@pytest.mark.parametrize("kind", ["vosk", "faster-whisper", "pocketsphinx"])
def test_missing_model_directory_is_named(kind, tmp_path):
    with pytest.raises(EngineError, match=re.escape(str(tmp_path / "nowhere"))):
        load_engine(EngineSpec(kind, model_dir=tmp_path / "nowhere"))


@pytest.mark.parametrize("kind", ["vosk", "faster-whisper"])
def test_production_engine_without_its_package_or_model_says_what_to_do(kind, tmp_path):
    (tmp_path / "model").mkdir()  # a directory with no model in it
    with pytest.raises(EngineError, match=r"pip install|no .* model at"):
        load_engine(EngineSpec(kind, model_dir=tmp_path / "model"))


async def test_missing_model_turns_the_feature_off_with_one_clear_error(tmp_path, caplog):
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db",
                        speech_engine="vosk", speech_model_dir=tmp_path / "vosk-model-ru")
    speech = Speech(settings, sessions=None)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR):
        assert await speech.start() is False
    assert "vosk-model-ru" in speech.error and "does not exist" in speech.error
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "speech analytics is off" in errors[0].getMessage()
    assert speech.health()["enabled"] is False and speech.health()["error"] == speech.error
    speech.shutdown()


# -- phrase matching -----------------------------------------------------------------------

@pytest.mark.parametrize(("phrase", "heard", "said_as"), [
    ("девушка", "послушайте девушка", "девушка"),
    ("девушка", "я не с вами девушкой говорю", "девушкой"),
    ("девушка", "у девушки вопрос", "девушки"),
    ("сбой", "это был сбоем в сети", "сбоем"),
    ("сбой", "у нас сбои", "сбои"),
    ("авария", "из-за аварии на линии", "аварии"),
    ("это ваша вина", "ну это ваша вина", "это ваша вина"),
    ("я не знаю", "Я не знаю.", "Я не знаю."),
    ("я не знаю", "я НЕ ЗНАЮ", "я НЕ ЗНАЮ"),
    ("всё в порядке", "все в порядке", "все в порядке"),  # ё as е
])
def test_phrase_found_in_its_word_forms(phrase, heard, said_as):
    [match] = find_phrase(phrase, said(heard), "ru")
    assert match.said == said_as


@pytest.mark.parametrize(("phrase", "heard"), [
    ("я не знаю", "я знаю"),  # not the phrase: a word is missing
    ("это ваша вина", "это не ваша вина"),  # the words, not one after another
    ("авария", "аварийный выход"),  # another word with the same root
    ("девушка", "дедушка"),
])
def test_phrase_not_found_in_other_words(phrase, heard):
    assert find_phrase(phrase, said(heard), "ru") == []


def test_match_gives_the_second_the_phrase_starts():
    words = said("добрый день компания ромашка простите но это ваша вина", start=10.0)
    [match] = find_phrase("ваша вина", words, "ru")
    assert (match.start, match.end) == (17.0, 18.9)


def _rule(kind: str, phrase: str, **kw) -> QARule:
    return QARule(kind=kind, phrase=phrase, language=kw.pop("language", "ru"),
                  speaker=kw.pop("speaker", "agent"), within_seconds=kw.pop("within", None),
                  active=True, created_at=datetime.now(UTC))


def test_rules_evaluated_per_speaker_and_language():
    tracks = [TrackWords("agent", "ru", said("алло добрый день это сбой", 6.0), 12.0),
              TrackWords("customer", "ru", said("девушка у меня авария"), 12.0)]
    assert [(f.speaker, f.at) for f in evaluate(_rule("forbidden", "сбой"), tracks)] == [
        ("agent", 10.0)]
    assert evaluate(_rule("forbidden", "девушка"), tracks) == []  # said by the customer
    assert len(evaluate(_rule("forbidden", "девушка", speaker="any"), tracks)) == 1
    assert evaluate(_rule("required", "добрый день"), tracks) == []
    [late] = evaluate(_rule("required", "добрый день", within=5), tracks)
    assert (late.speaker, late.at) == ("agent", None)
    assert evaluate(_rule("forbidden", "fault", language="en"), tracks) == []


# -- masking -------------------------------------------------------------------------------

def test_numbers_read_out_are_masked_for_agents_only():
    words = said("мой номер восемь девятьсот шестнадцать сто двадцать три сорок пять "
                 "перезвоните через две минуты")
    agent = [w.text for w in shown_words(words, Viewer("agent"))]
    assert agent == ["мой", "номер", *["***"] * 8, "перезвоните", "через", "две", "минуты"]
    assert [w.text for w in shown_words(words, Viewer("supervisor"))] == [w.text for w in words]
    assert redact_spoken(["card", "four", "five", "one", "two", "thanks"]) == [
        "card", "***", "***", "***", "***", "thanks"]
    assert redact_spoken(["call", "89161234567", "now"]) == ["call", "*******4567", "now"]
    assert redact_spoken(["in", "two", "minutes"]) == ["in", "two", "minutes"]


# -- the test engine on synthesised speech -------------------------------------------------

def test_pocketsphinx_hears_the_phrase_at_the_second_it_was_said(tmp_path):
    audio, phrase_at = speech_with_phrase(
        tmp_path, "Good morning, this is Anna from support. I am sorry, but it is",
        "your fault", "Goodbye.")
    [track] = transcribe(EngineSpec("pocketsphinx"), str(audio), ["your fault"])
    assert track.speaker == "mixed" and track.language == "en"
    [match] = find_phrase("your fault", track.words, "en")
    assert abs(match.start - phrase_at) <= 1.0
    # the tracks of a recording, when MixMonitor made them, are transcribed one by one
    tracks = tmp_path / "tracks"
    tracks.mkdir()
    (tracks / "speech.agent.wav").write_bytes(audio.read_bytes())
    [agent] = transcribe(EngineSpec("pocketsphinx"), str(audio), ["your fault"])
    assert agent.speaker == "agent"
