"""One process, three faces: FastAGI server, AMI listener and (around them) the HTTP API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.agi.routes import Routes
from callcenter.agi.server import FastAGIServer
from callcenter.ami.listener import AMIListener
from callcenter.cache import TTLCache
from callcenter.calls.ledger import LedgerFollower
from callcenter.calls.pops import EVENTS as POP_EVENTS
from callcenter.calls.pops import WAITING_EVENTS, ScreenPopHub
from callcenter.calls.store import RecordWriter, refusal_reason
from callcenter.calls.tracker import CallTracker
from callcenter.contacts.screenpop import DatabaseUnavailable, PopReader
from callcenter.db import create_engine, ping, session_factory
from callcenter.ivr.config import load_ivr
from callcenter.ledger.derive import LedgerDeriver
from callcenter.metrics import Metrics
from callcenter.outbox.deliver import Deliverer
from callcenter.outbox.live import EVENTS as LIVE_CALL_EVENTS
from callcenter.outbox.live import LiveCallEvents
from callcenter.projects.dialler import EVENTS as DIALLER_EVENTS
from callcenter.projects.dialler import Dialler
from callcenter.queues.board import EVENTS as BOARD_EVENTS
from callcenter.queues.board import TodayBoard
from callcenter.queues.feed import EVENTS as FEED_EVENTS
from callcenter.queues.feed import QueueFeed
from callcenter.queues.live import LiveState
from callcenter.recordings.retention import purge_expired
from callcenter.recordings.sweep import SweepReport, sweep_orphans
from callcenter.runtime import LoopThread, settle
from callcenter.settings import Settings
from callcenter.speech.runner import Speech
from callcenter.supervisor import SupervisedTask, Supervisor
from callcenter.users.security import Keys
from callcenter.users.throttle import LoginThrottle
from callcenter.users.tickets import TicketBook
from callcenter.workers import Slots, Workers

log = logging.getLogger(__name__)
T = TypeVar("T")


class Service:
    def __init__(self, settings: Settings) -> None:
        settings.recordings_dir = settings.recordings_dir.resolve()
        self.settings = settings
        # Two pools: the web's (requests, imports, exports, logins) and telephony's (FastAGI
        # answers, AMI records, the ledger, screen pops). A crowd of web requests can hold
        # every connection of its own pool; a caller's lookup never queues behind them.
        self.engine = create_engine(settings.database_url)
        self.sessions = session_factory(self.engine)
        self.telephony_engine = create_engine(settings.database_url)
        self.telephony_sessions = session_factory(self.telephony_engine)
        self.tracker = CallTracker(settings.inbound_contexts, settings.default_region)
        # Final records come from Asterisk's ledger (CEL + queue_log) where it can be read:
        # its files, or the tables a remote PBX writes into our database. AMI's are then
        # provisional. Without it AMI's are all there is: best-effort.
        self.ledger: LedgerFollower | None = None
        if settings.ledger_source == "tables" or (
                settings.cel_path is not None and settings.queue_log_path is not None):
            self.ledger = LedgerFollower(
                source=settings.ledger_source,
                cel_path=settings.cel_path, queue_log_path=settings.queue_log_path,
                sessions=self.telephony_sessions,
                deriver=lambda: LedgerDeriver(settings.inbound_contexts,
                                              default_region=settings.default_region,
                                              settle_seconds=settings.ledger_settle_seconds),
                keep_unanswered_recordings=settings.keep_unanswered_recordings,
                delete_opted_out=settings.recording_opt_out == "skip",
                from_start=settings.ledger_from_start,
                # a final record the database refuses joins the writer's dead letters
                set_aside=lambda record, exc: self.writer.dead_letters.add_record(
                    record, refusal_reason(exc)))
        self.writer = RecordWriter(self.telephony_engine, self.telephony_sessions,
                                   dead_letter=settings.spool_dir / "unwritten-records.jsonl",
                                   keep_unanswered_recordings=settings.keep_unanswered_recordings,
                                   delete_opted_out=settings.recording_opt_out == "skip",
                                   final=self.ledger is None)
        self.live = LiveState()
        self.metrics = Metrics()
        self.ami_lag = self.metrics.lag(
            "callcenter_ami_event_lag_seconds",
            "How late AMI events are handled: the service's clock minus the event's Timestamp")
        self.ami = AMIListener(settings, self.tracker, self.writer, self.live,
                               self.telephony_sessions,
                               observe_lag=self.ami_lag.observe)
        self.pops = ScreenPopHub(self.telephony_sessions, settings.default_region)
        # GET /screenpop on PostgreSQL: one statement on the driver's own small pool
        self.pop_reader = PopReader(settings.database_url, settings.default_region) \
            if self.engine.dialect.name == "postgresql" else None
        self.pops.reader = self.pop_reader  # ring pops too
        self.ami.subscribe(self.pops.on_event, POP_EVENTS)
        self.ami.subscribe(lambda event: self.pops.waiting_changed(event, self.live),
                           WAITING_EVENTS)
        # call.ringing / call.answered: through the writer, in order with the call's record
        self.live_call_events = LiveCallEvents(self.writer.submit, settings.default_region)
        self.ami.subscribe(self.live_call_events.on_event, LIVE_CALL_EVENTS)
        # webhooks: on the web side (its pool, its HTTP client), never on telephony's path
        self.deliverer = Deliverer(self.sessions, settings)
        self.queue_feed = QueueFeed(self.live, lambda: self.ami.connected)
        self.ami.subscribe(self.queue_feed.on_event, FEED_EVENTS)
        # outbound projects: progressive pacing and every dialled attempt's result
        self.dialler = Dialler(self.ami.client, self.sessions, self.live,
                               channel=settings.dialler_channel,
                               agent_ring_seconds=settings.dialler_agent_ring_seconds,
                               tick_seconds=settings.dialler_tick_seconds)
        self.ami.subscribe(self.dialler.on_event, DIALLER_EVENTS)
        self.today = TodayBoard(self.sessions, settings.time_zone, self.queue_feed.publish,
                                watched=lambda: self.queue_feed.clients > 0)
        self.today.pause_reasons_seed = settings.pause_reasons
        self.queue_feed.board = self.today
        self.ami.subscribe(self.today.on_event, BOARD_EVENTS)
        ivr = load_ivr(settings.ivr_file)  # a bad menu file stops start-up with its reason
        # FastAGI answers callers on a loop of its own (its thread, its pool): a caller's
        # exchange never waits in line behind the web's work on the main loop.
        self.agi_loop = LoopThread("fastagi") if settings.agi_own_loop else None
        self.agi_engine = create_engine(settings.database_url) if self.agi_loop \
            else self.telephony_engine
        self.routes = Routes(settings, session_factory(self.agi_engine), ivr)
        self.agi = FastAGIServer(settings.agi_host, settings.agi_port, self.routes.table(),
                                 allowed_peers=settings.agi_allowed_peers,
                                 on_session=self.metrics.observe_agi)
        self.supervisor = Supervisor()
        self.last_sweep: SweepReport | None = None
        self.keys = _keys(settings)
        self.login_throttle = LoginThrottle(settings.login_limits_per_user,
                                            settings.login_limits_per_address)
        self.ws_tickets = TicketBook(self.keys.ws_ticket, settings.ws_ticket_seconds)
        # heavy web work: off the loop and bounded
        self.workers = Workers(settings.import_processes)
        self.imports = Slots("imports", settings.max_imports, retry_after=10)
        self.conversions = Slots("conversions", settings.max_conversions, retry_after=5)
        # transcripts and QA rules, in worker processes of their own (web pool, not telephony's)
        self.speech = Speech(settings, self.sessions)
        self._read_metrics()
        # who a bearer token belongs to: looked up at most every 10 s per token
        self.principals: TTLCache[object] = TTLCache(10)

    def _read_metrics(self) -> None:
        """What /metrics shows besides HTTP and FastAGI latency: read when scraped."""
        m = self.metrics
        m.gauge("callcenter_ami_connected", "1 while logged in to Asterisk's AMI",
                lambda: self.ami.connected)
        m.counter("callcenter_ami_events", "AMI events received", lambda: self.ami.events_seen)
        m.gauge("callcenter_writer_queue_depth", "Records waiting to be written (memory and "
                "spill file)", lambda: self.writer.pending)
        m.gauge("callcenter_writer_lag_seconds", "How long the oldest unwritten record has "
                "waited", self.writer.lag)
        m.counter("callcenter_writer_records", "Records written (or set aside)",
                  lambda: self.writer.written)
        m.gauge("callcenter_writer_database_up", "0 while the writer cannot reach the database",
                lambda: self.writer.database_up)
        m.gauge("callcenter_agi_sessions_active", "FastAGI sessions in progress",
                lambda: self.agi.active)
        m.counter("callcenter_agi_rejected", "FastAGI connections refused (bad request, "
                  "unknown route)", lambda: self.agi.rejected)
        m.counter("callcenter_agi_refused_peers", "FastAGI connections from outside "
                  "agi_allowed_peers", lambda: self.agi.refused_peers)
        m.gauge("callcenter_websocket_clients", "Agent WebSockets open",
                lambda: self.pops.clients)
        m.gauge("callcenter_supervisor_websocket_clients", "Supervisor (wallboard) WebSockets "
                "open", lambda: self.queue_feed.clients)
        m.counter("callcenter_screen_pops_sent", "Screen pops delivered to a browser",
                  lambda: self.pops.pops_sent)
        m.counter("callcenter_screen_pops_dropped", "Messages lost to a browser that fell "
                  "behind (it is disconnected)", lambda: self.pops.dropped)
        m.counter("callcenter_webhooks_delivered", "Webhook deliveries a receiver accepted",
                  lambda: self.deliverer.delivered)
        m.counter("callcenter_webhooks_failed_attempts", "Webhook attempts that failed (to be "
                  "retried, or dead-lettered)", lambda: self.deliverer.failed)
        m.counter("callcenter_webhooks_dead_lettered", "Webhook deliveries given up after the "
                  "retry window", lambda: self.deliverer.dead)
        pools = {"web": self.engine.pool, "telephony": self.telephony_engine.pool,
                 "fastagi": self.agi_engine.pool}
        m.gauges("callcenter_db_pool_in_use", "Database connections checked out, per pool",
                 "pool", lambda: {name: getattr(pool, "checkedout", lambda: 0)()
                                  for name, pool in pools.items()})
        m.gauges("callcenter_db_pool_size", "Database connections each pool keeps", "pool",
                 lambda: {name: getattr(pool, "size", lambda: 0)()
                          for name, pool in pools.items()})
        m.gauge("callcenter_conversions_running", "ffmpeg conversions running",
                lambda: self.conversions.running)
        m.gauge("callcenter_imports_running", "Contact imports in progress",
                lambda: self.imports.running)
        if self.ledger is not None:
            ledger = self.ledger
            m.gauge("callcenter_ledger_lag_seconds", "How far the final records are behind "
                    "Asterisk's CEL and queue_log (0: caught up)", lambda: ledger.lag_seconds)
            m.gauge("callcenter_ledger_open_calls", "Calls in the ledger not over yet",
                    lambda: len(ledger.deriver.calls))
            m.counter("callcenter_ledger_records", "Final records written from the ledger",
                      lambda: ledger.records_written)

    async def start(self) -> None:
        self.settings.recordings_dir.mkdir(parents=True, exist_ok=True)
        if self.agi_loop is not None:
            self.agi_loop.start()
        await self._on_agi_loop(self.agi.start())
        self.supervise("record-writer", self.writer.run)
        self.supervise("ami", self.ami.client.run)
        self.supervise("retention", self._retention)
        if self.ledger is not None:
            self.supervise("ledger", self.ledger.run)
        self.supervise("recordings-sweep", self._sweep_recordings)
        self.supervise("dialler", self.dialler.run)
        self.supervise("today-figures", self.today.run)
        if self.speech.configured:
            self.supervise("speech", self.speech.run)
        self.supervise("webhooks", self.deliverer.run)
        await self._open_pool(self.telephony_engine)
        if self.pop_reader is not None:
            try:
                async with asyncio.timeout(5):
                    await self.pop_reader.open()
            except (TimeoutError, DatabaseUnavailable) as exc:
                log.warning("screen-pop pool not opened ahead", extra={"error": repr(exc)})
        if self.agi_engine is not self.telephony_engine:
            await self._on_agi_loop(self._open_pool(self.agi_engine))
        settle()  # download buffers go back to the system; start-up objects out of full GCs
        log.info("callcenter started")

    async def _on_agi_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """`coro` run where FastAGI lives: its own loop once started, else this one."""
        if self.agi_loop is not None and self.agi_loop.loop is not None:
            return await self.agi_loop.run(coro)
        return await coro

    @staticmethod
    async def _open_pool(engine: AsyncEngine, connections: int = 5) -> None:
        """A telephony pool's connections opened now, not when calls first overlap under
        load (each a PostgreSQL backend started, while callers wait). Best effort: without a
        database the service starts anyway."""
        if engine.dialect.name != "postgresql":
            return
        opened = []
        try:
            async with asyncio.timeout(5):
                for _ in range(connections):
                    opened.append(await engine.connect())
        except (OSError, SQLAlchemyError, TimeoutError) as exc:
            log.warning("telephony pool not opened ahead", extra={"error": repr(exc)})
        for connection in opened:
            await connection.close()  # back to the pool, open

    def supervise(self, name: str,
                  factory: Callable[[], Coroutine[Any, Any, object]]) -> SupervisedTask:
        """The one way to start a background task: restarted when it fails, seen in /health."""
        return self.supervisor.start(name, factory)

    async def stop(self) -> None:
        await self.ami.client.stop()
        await self._on_agi_loop(self.agi.stop())
        await self._on_agi_loop(self.routes.close())
        if self.agi_engine is not self.telephony_engine:
            await self._on_agi_loop(self.agi_engine.dispose())
        if self.agi_loop is not None:
            self.agi_loop.stop()
        with contextlib.suppress(TimeoutError):
            await self.writer.drain(timeout=5)
        await self.supervisor.stop()
        if self.writer.pending:
            await self.writer.save_pending()  # nothing is lost: the next start writes them
        await self.writer.close()
        self.workers.shutdown()
        self.speech.shutdown()
        if self.pop_reader is not None:
            await self.pop_reader.close()
        await self.engine.dispose()
        await self.telephony_engine.dispose()
        log.info("callcenter stopped")

    async def _sweep_recordings(self, every: float = 600, grace: float = 600) -> None:
        """Every recording file linked or deleted by policy, also those the records missed
        (a file still being written, a crash between the file and its record)."""
        while True:
            await asyncio.sleep(every)
            async with self.sessions() as session:
                self.last_sweep = await sweep_orphans(
                    session, self.settings.recordings_dir,
                    older_than=datetime.now(UTC) - timedelta(seconds=grace), days=2,
                    final_source="ledger" if self.ledger is not None else None,
                    keep_unanswered=self.settings.keep_unanswered_recordings)

    async def _retention(self, every: float = 3600) -> None:
        """Deletes expired recordings hourly; a failed run is logged and tried next hour."""
        while True:
            await asyncio.sleep(every)
            try:
                async with self.sessions() as session:
                    await purge_expired(session, now=datetime.now(UTC),
                                        default_days=self.settings.retention_days,
                                        days_by_queue=self.settings.retention_days_by_queue)
            except Exception as exc:
                log.error("retention run failed", extra={"error": repr(exc)})

    async def health(self) -> dict[str, object]:
        """The body of /health. Each part is a bool, or a dict; a part that is False, a dict
        part whose "up" is False, or a task not alive makes the service "degraded" (HTTP 503).
        "ledger" says how far behind Asterisk's ledger the final records are."""
        parts: dict[str, object] = {
            "database": await ping(self.engine),
            "ami": self.ami.connected,
            "agi": self.agi.serving,
            "writer": self.writer.health(),
            "tasks": self.supervisor.report(),
            "ledger": self.ledger.health() if self.ledger is not None else
            {"enabled": False, "records": "best-effort: AMI only (no CEL/queue_log configured)"},
            # recording files of no known call, found by the last sweep: for a person to look at
            "webhooks": self.deliverer.health(),
            "recordings": {"unplaced_files": len(self.last_sweep.unknown)
                           if self.last_sweep is not None else None},
            # off by settings, or off because its model is missing or broken (error says)
            "speech": self.speech.health(),
        }
        down = _down(parts)
        return {"status": "degraded" if down else "ok", "down": down, **parts}


def _down(parts: dict[str, object]) -> list[str]:
    """The names of the parts that are down, e.g. ["ami", "tasks.retention"]."""
    down = [name for name, part in parts.items()
            if part is False or (isinstance(part, dict) and part.get("up") is False)]
    tasks: dict[str, dict[str, object]] = parts["tasks"]  # type: ignore[assignment]
    return down + [f"tasks.{name}" for name, task in tasks.items() if not task["alive"]]


def _keys(settings: Settings) -> Keys:
    old = [key.get_secret_value().encode() for key in settings.old_secret_keys]
    if old and settings.forget_key is None:
        log.warning("secret_key was rotated but forget_key is not set: numbers forgotten from "
                    "now on hash differently from those forgotten before (see README)")
    forget = settings.forget_key.get_secret_value().encode() if settings.forget_key else None
    return Keys(_secret_key(settings), old, forget)


def _secret_key(settings: Settings) -> bytes:
    """The configured secret, or one generated once and kept (0600) beside the spool."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = settings.spool_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()
