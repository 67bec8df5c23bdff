"""What the dialplan asks the service: FastAGI routes, each a short conversation with a call.

Routes decide and set channel variables (CC_QUEUE, QUEUE_PRIO, CC_ACTION, ...); the dialplan
carries out. Whatever happens here, the dialplan gets CC_AGI_STATUS and goes on.

A route waits for the database at most `agi_db_timeout`, all told: the work runs in a task of
its own, and a connection that stopped answering is cleaned up after the route has moved on
(SQLAlchemy closes an invalidated asyncpg connection gracefully, which alone waits up to 2 s:
that is how a 0.5 s setting once took 2.5 s).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.agi.protocol import Session
from callcenter.agi.server import Route
from callcenter.callbacks.service import request_callback
from callcenter.contacts.lookup import Caller, caller_by_number
from callcenter.ivr.config import Action, IVRConfig, Menu
from callcenter.phone import region_of, to_e164
from callcenter.recordings.paths import mixmonitor_options, recording_path
from callcenter.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

# Language of the recording notice by the caller's country, when the contact has none saved.
COUNTRY_LANGUAGE = {
    "RU": "ru", "BY": "ru", "KZ": "ru", "KG": "ru",
    "GB": "en", "US": "en", "CA": "en", "AU": "en", "IE": "en",
    "DE": "de", "AT": "de", "CH": "de", "FR": "fr", "BE": "fr", "ES": "es", "IT": "it",
}
MAX_MENU_STEPS = 20  # a menu tree with a loop (main -> billing -> main ...) ends here
# Set on the channel when the database did not say whether the caller opted out of recording.
CONSENT_VARIABLE = "CC_RECORDING_CONSENT"
CONSENT_UNKNOWN = "unknown"


class DatabaseUnavailable(Exception):
    """The database did not answer within the route's deadline (or failed)."""


class Routes:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 ivr: IVRConfig) -> None:
        self.settings = settings
        self.sessions = sessions
        self.ivr = ivr
        # database work given up on by its route, still cleaning up its connection
        self._abandoned: set[asyncio.Task[object]] = set()

    async def close(self) -> None:
        """Waits for database work the routes gave up on: its connections are closing."""
        await asyncio.gather(*self._abandoned, return_exceptions=True)

    def table(self) -> dict[str, Route]:
        return {"announce": self.announce, "record": self.record, "lookup": self.lookup,
                "ivr": self.run_ivr, "callback-request": self.callback_request}

    # -- announce / record ------------------------------------------------------------------

    async def announce(self, agi: Session) -> None:
        """Tells the caller the call is recorded, in their language, then starts MixMonitor.

        Without an answer from the database nobody knows whether the caller opted out: the
        notice is still played, and recording_when_consent_unknown decides."""
        caller = self._caller(agi)
        try:
            contact = await self._contact(caller)
            consent_known = True
        except DatabaseUnavailable:
            contact, consent_known = None, False
        language = (agi.request.params.get("lang") or (contact and contact.language)
                    or _country_language(caller) or self.settings.default_language)
        await agi.set_variable("CHANNEL(language)", language)
        if contact is not None and contact.recording_opt_out:
            await agi.set_variable("CC_RECORDING_OPTOUT", "1")
            if self.settings.recording_opt_out == "skip":
                log.info("caller opted out of recording: not recorded",
                         extra={"contact_id": contact.id})
                return
        prompt = self.settings.announce_prompts.get(language, self.settings.announce_prompt)
        await self._play(agi, prompt, language)
        # the notice is the caller's consent: into Asterisk's ledger (CEL) beside the call
        await agi.exec("CELGenUserEvent", f"CC_NOTICE,{prompt}")
        if not consent_known:
            await agi.set_variable(CONSENT_VARIABLE, CONSENT_UNKNOWN)
            if self.settings.recording_when_consent_unknown == "skip":
                log.info("consent unknown (database unavailable): not recorded",
                         extra={"channel": agi.request.channel})
                return
        await self._record(agi, read_speaker="customer")  # the caller's own channel

    async def record(self, agi: Session) -> None:
        """Starts MixMonitor on a call an agent's phone places (its channel: the agent)."""
        await self._record(agi, read_speaker="agent")

    async def _record(self, agi: Session, *, read_speaker: str) -> None:
        """Starts MixMonitor into <recordings>/<yyyy>/<mm>/<dd>/<linkedid>.<format>, each
        direction also to its own track (recordings/paths.py): who said what is known."""
        linkedid = await agi.get_variable("CHANNEL(linkedid)") or agi.request.uniqueid
        path = recording_path(self.settings.recordings_dir, linkedid, datetime.now(UTC),
                              self.settings.recording_format)
        await agi.exec("MixMonitor", f"{path},{mixmonitor_options(path, read_speaker)}")
        await agi.set_variable("CC_RECORDING", str(path))
        log.info("recording started", extra={"linkedid": linkedid})

    async def _play(self, agi: Session, prompt: str, language: str) -> None:
        """A prompt missing in the caller's language is played in the default one."""
        response = await agi.stream_file(prompt)
        if response.value < 0 and language != self.settings.default_language:
            log.warning("prompt missing in language; playing the default",
                        extra={"prompt": prompt, "language": language})
            await agi.set_variable("CHANNEL(language)", self.settings.default_language)
            await agi.stream_file(prompt)
            await agi.set_variable("CHANNEL(language)", language)

    # -- lookup -----------------------------------------------------------------------------

    async def lookup(self, agi: Session) -> None:
        """Names the caller for the agent's phone and gives VIP contacts queue priority."""
        caller = self._caller(agi)
        try:
            contact = await self._contact(caller)
        except DatabaseUnavailable:
            return  # unknown, not new: the agent's phone shows the number alone
        if contact is None:
            await agi.set_variable("CC_CONTACT_NEW", "1")
            return
        await agi.set_variable("CALLERID(name)", contact.name[:80])
        await agi.set_variable("CC_CONTACT_ID", contact.id)
        if contact.vip:
            await agi.set_variable("CC_VIP", "1")
            await agi.set_variable("QUEUE_PRIO", self.settings.vip_priority)

    # -- ivr --------------------------------------------------------------------------------

    async def run_ivr(self, agi: Session) -> None:
        """Walks the menu tree from ?menu=NAME and leaves CC_ACTION and its target set."""
        name = agi.request.params.get("menu", "main")
        if name not in self.ivr.menus:
            raise ValueError(f"unknown IVR menu {name!r}")
        language = await agi.get_variable("CHANNEL(language)") or self.settings.default_language
        path: list[str] = []
        action: Action = Action(menu=name)
        for _ in range(MAX_MENU_STEPS):
            if action.menu is None:
                break
            menu = self.ivr.menus[action.menu]
            path.append(action.menu)
            action = await self._menu(agi, menu, language, path)
        else:
            action = Action(operator=True)
        await agi.set_variable("CC_IVR_PATH", ">".join(path))
        await self._apply(agi, action)

    async def _menu(self, agi: Session, menu: Menu, language: str, path: list[str]) -> Action:
        default = self.settings.default_language
        if not menu.is_open(self.ivr.now(), self.ivr.holiday_set):
            path.append("closed")
            if menu.out_of_hours_prompt:
                await self._play(agi, menu.prompt_for(menu.out_of_hours_prompt, language,
                                                      default), language)
            assert menu.out_of_hours is not None  # validated
            return menu.out_of_hours
        prompt = menu.prompt_for(menu.prompt, language, default)
        for _attempt in range(menu.retries):
            # the path so far, also while waiting: a hang-up here is recorded with it
            await agi.set_variable("CC_IVR_PATH", ">".join(path))
            digit = await agi.get_data(prompt, int(menu.timeout * 1000), 1)
            if digit in menu.options:
                path.append(digit)
                return menu.options[digit]
            if digit:
                path.append(f"invalid:{digit}")
                await self._play(agi, menu.prompt_for(menu.invalid_prompt, language, default),
                                 language)
            else:
                path.append("timeout")
        path.append("failed")
        return menu.on_failure

    async def _apply(self, agi: Session, action: Action) -> None:
        kind = action.kind
        if kind == "operator":
            await agi.set_variable("CC_QUEUE", self.ivr.operator_queue)
            kind = "queue"
        elif kind == "queue":
            await agi.set_variable("CC_QUEUE", action.queue)
            if action.priority is not None:
                current = await agi.get_variable("QUEUE_PRIO")
                if current is None or int(current or 0) < action.priority:
                    await agi.set_variable("QUEUE_PRIO", action.priority)
        elif kind == "voicemail":
            await agi.set_variable("CC_VOICEMAIL", action.voicemail)
        elif kind == "callback":
            await self._request_callback(agi, action.callback)
        await agi.set_variable("CC_ACTION", kind)

    # -- callbacks --------------------------------------------------------------------------

    async def callback_request(self, agi: Session) -> None:
        """The caller asks to be called back instead of waiting (?queue=NAME)."""
        queue = agi.request.params.get("queue") or await agi.get_variable("CC_QUEUE")
        await self._request_callback(agi, queue)

    async def _request_callback(self, agi: Session, queue: str | None) -> None:
        caller = self._caller(agi)
        if caller is None:
            await agi.set_variable("CC_CALLBACK_STATUS", "NO_NUMBER")
            return
        linkedid = await agi.get_variable("CHANNEL(linkedid)")

        async def create(session: AsyncSession) -> int:
            callback = await request_callback(session, number=caller, queue=queue,
                                              source="ivr", at=datetime.now(UTC),
                                              linkedid=linkedid)
            await session.commit()
            return callback.id

        # Writing a callback may take longer than a lookup, but still must not hold the call.
        try:
            callback_id = await self._db(create,
                                         timeout=max(self.settings.agi_db_timeout, 2.0))
        except DatabaseUnavailable:
            callback_id = None
        await agi.set_variable("CC_CALLBACK_STATUS", "OK" if callback_id else "FAILED")
        if callback_id:
            log.info("callback requested", extra={"callback_id": callback_id, "queue": queue})

    # -- helpers ----------------------------------------------------------------------------

    def _caller(self, agi: Session) -> str | None:
        return to_e164(agi.request.callerid, self.settings.default_region)

    async def _contact(self, caller: str | None) -> Caller | None:
        if caller is None:
            return None
        return await self._db(lambda session: caller_by_number(session, caller))

    async def _db(self, work: Callable[[AsyncSession], Awaitable[T]],
                  timeout: float | None = None) -> T:
        """A route's one unit of database work, session cleanup included, within `timeout`
        (agi_db_timeout by default). A slow or absent database must not hold the caller:
        DatabaseUnavailable at the deadline, while the work is cancelled and its session
        closed in the background."""
        task: asyncio.Task[T] = asyncio.create_task(self._in_session(work))
        try:
            await asyncio.wait({task}, timeout=timeout or self.settings.agi_db_timeout)
        finally:
            if not task.done():
                task.cancel()
                self._abandoned.add(task)
                task.add_done_callback(self._forget)
        if not task.done():
            log.warning("database did not answer FastAGI in time; going on without it")
            raise DatabaseUnavailable("timeout")
        if (error := task.exception()) is not None:
            log.warning("database unavailable to FastAGI; going on without it",
                        extra={"error": repr(error)})
            raise DatabaseUnavailable(repr(error)) from error
        return task.result()

    async def _in_session(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self.sessions() as session:
            return await work(session)

    def _forget(self, task: asyncio.Task[object]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.debug("abandoned database work ended with an error",
                      extra={"error": repr(error)})


def _country_language(caller: str | None) -> str | None:
    return COUNTRY_LANGUAGE.get(region_of(caller) or "") if caller else None
