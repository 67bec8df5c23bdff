"""Speech analytics: how fast the test engine transcribes (a multiple of real time per core,
and the cores 40 hours of calls a day would need), and how fast the API's search answers over
100,000 transcripts in PostgreSQL (full text, GIN indexes), beside a substring scan of the
same rows (what the index saves) measured in the same run."""

from __future__ import annotations

import asyncio
import resource
import time
from pathlib import Path

from sqlalchemy import text

from bench.common import Result, percentile
from callcenter.db import create_engine, session_factory
from callcenter.policy import Viewer
from callcenter.speech import service as speech
from callcenter.speech.engines import EngineSpec, pcm_16k, transcribe
from tests.speech_audio import speech_with_phrase

TRANSCRIPTS = 100_000
SEARCHES = 200
SENTENCES = ("Good morning, this is Anna from support. How can I help you today? "
             "Your order was sent on Monday and should arrive within three days. "
             "I am sorry for the delay, the courier had a problem with the address. "
             "Let me check the account. Thank you for waiting. I am sorry, but it is")
RU = ["добрый", "день", "компания", "ромашка", "слушаю", "вас", "заказ", "доставка", "курьер",
      "адрес", "оплата", "карта", "номер", "договор", "счёт", "перезвоните", "пожалуйста",
      "спасибо", "ожидание", "минуту", "проверю", "уточню", "сегодня", "завтра", "вчера",
      "тариф", "услуга", "подключение", "интернет", "телефон", "баланс", "платёж", "возврат",
      "заявка", "мастер", "выезд", "время", "неделя", "месяц", "скидка", "акция", "бонус"]


def _cpu() -> float:
    own, children = (resource.getrusage(who) for who in
                     (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def transcription(tmp: str) -> list[Result]:
    audio, _ = speech_with_phrase(Path(tmp) / "bench-speech", SENTENCES, "your fault",
                                  "Goodbye.")
    seconds = audio.stat().st_size / 16000  # 8 kHz 16-bit
    spec = EngineSpec("pocketsphinx")
    transcribe(spec, str(audio), ["your fault"])  # the model loaded, once per process
    runs, cpu = 3, _cpu()
    for _ in range(runs):
        transcribe(spec, str(audio), ["your fault"])
    engine_cpu = (_cpu() - cpu) / runs
    cpu = _cpu()
    for _ in range(runs):
        pcm_16k(audio)
    resample_cpu = (_cpu() - cpu) / runs
    speed = seconds / engine_cpu
    return [
        Result("speech: transcription (pocketsphinx)", "speed per core", speed,
               "× real time", "resampling alone (ffmpeg)", seconds / resample_cpu),
        # both tracks of a call are transcribed: twice the audio of the calls
        Result("speech: transcription (pocketsphinx)", "cores for 40 h of calls a day",
               2 * 40 / 24 / speed, "cores"),
    ]


async def _populate(url: str) -> None:
    """Its own linkedids (`speech-N`): `make bench` runs every suite on one database."""
    engine = create_engine(url)
    ru = "ARRAY[" + ",".join(f"'{w}'" for w in RU) + "]"
    async with engine.begin() as db:
        await db.execute(text(
            "INSERT INTO calls (linkedid, direction, started_at, queue, agent, outcome, "
            "end_inferred, vip, recording_opt_out, consent_unknown, source, evidence) "
            "SELECT 'speech-' || g, 'inbound', now() - g * interval '1 minute', 'support', "
            "'agent' || (g % 20), 'answered', false, false, false, false, 'ledger', 3 "
            f"FROM generate_series(1, {TRANSCRIPTS}) g"))
        await db.execute(text(
            "INSERT INTO recordings (linkedid, path, format, created_at) "
            "SELECT 'speech-' || g, '/bench/speech-' || g || '.wav', 'wav', now() "
            f"FROM generate_series(1, {TRANSCRIPTS}) g"))
        # 60 words a transcript; one in 200 has an accident ("авария") in some form
        await db.execute(text(
            "INSERT INTO transcripts (recording_id, linkedid, speaker, language, text, words, "
            "created_at) SELECT r.id, r.linkedid, CASE WHEN r.id % 2 = 0 THEN 'agent' ELSE "
            "'customer' END, 'ru', t.body, '[]', now() FROM recordings r, LATERAL ("
            f"SELECT array_to_string(ARRAY(SELECT ({ru})[1 + floor(random() * {len(RU)})::int]"
            " FROM generate_series(1, 60) WHERE r.id > 0), ' ') || CASE WHEN r.id % 200 = 0 "
            "THEN ' у нас аварии на линии' ELSE '' END AS body) t "
            "WHERE r.linkedid LIKE 'speech-%'"))
        await db.execute(text(
            "UPDATE transcripts SET words = (SELECT json_agg(json_build_array(w, i * 0.4, "
            "i * 0.4 + 0.3)) FROM unnest(string_to_array(text, ' ')) WITH ORDINALITY AS "
            "x(w, i)) WHERE linkedid LIKE 'speech-%'"))
        await db.execute(text("ANALYZE transcripts"))
        await db.execute(text("ANALYZE calls"))
    await engine.dispose()


async def _search(url: str) -> list[Result]:
    await _populate(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    queries = ["авария", "доставки курьером", "возврат платежа", "скидку", "перезвоните"]
    supervisor, agent = Viewer("supervisor"), Viewer("agent")
    timings: dict[str, list[float]] = {"supervisor": [], "agent": []}
    found = 0
    async with sessions() as session:
        for i in range(SEARCHES):
            query = queries[i % len(queries)]
            for who, viewer, name in (("supervisor", supervisor, None),
                                      ("agent", agent, f"agent{i % 20}")):
                started = time.perf_counter()
                hits = await speech.search(session, query, viewer, name, limit=50)
                timings[who].append(time.perf_counter() - started)
                found += len(hits)
        scans = []
        for query in ("авари", "курьер", "возврат"):
            started = time.perf_counter()
            await session.execute(text(
                "SELECT t.id FROM transcripts t JOIN calls c ON c.linkedid = t.linkedid "
                "WHERE lower(t.text) LIKE :q ORDER BY c.started_at DESC LIMIT 50"),
                {"q": f"%{query}%"})
            scans.append(time.perf_counter() - started)
    await engine.dispose()
    assert found, "the searches found nothing: the benchmark measured nothing"
    scan = percentile(scans, 50) * 1000
    p99 = percentile(timings["supervisor"], 99) * 1000
    agent_p99 = percentile(timings["agent"], 99) * 1000
    return [
        Result("speech: search 100,000 transcripts", "p50 (supervisor)",
               percentile(timings["supervisor"], 50) * 1000, "ms", "substring scan p50", scan),
        Result("speech: search 100,000 transcripts", "p99 (supervisor)", p99, "ms",
               "substring scan p50", scan, "p99 < 200 ms", p99 < 200),
        Result("speech: search 100,000 transcripts", "p99 (agent: own calls)", agent_p99,
               "ms", "substring scan p50", scan, "p99 < 200 ms", agent_p99 < 200),
    ]


def run(url: str, tmp: str) -> list[Result]:
    return [*transcription(tmp), *asyncio.run(_search(url))]
