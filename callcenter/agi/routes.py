"""What the dialplan asks the service: FastAGI routes, each a short conversation with a call."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.agi.protocol import Session
from callcenter.agi.server import Route
from callcenter.contacts.lookup import find_by_number
from callcenter.phone import region_of, to_e164
from callcenter.recordings.paths import recording_path
from callcenter.settings import Settings

log = logging.getLogger(__name__)

# Language of the recording notice by the caller's country, when the contact has none saved.
COUNTRY_LANGUAGE = {
    "RU": "ru", "BY": "ru", "KZ": "ru", "KG": "ru",
    "GB": "en", "US": "en", "CA": "en", "AU": "en", "IE": "en",
    "DE": "de", "AT": "de", "CH": "de", "FR": "fr", "BE": "fr", "ES": "es", "IT": "it",
}
DB_LOOKUP_TIMEOUT = 0.5


class Routes:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessions = sessions

    def table(self) -> dict[str, Route]:
        return {"announce": self.announce, "record": self.record}

    async def announce(self, agi: Session) -> None:
        """Tells the caller the call is recorded, in their language, then starts MixMonitor."""
        request = agi.request
        caller = to_e164(request.callerid, self.settings.default_region)
        language = request.params.get("lang") or await self._language_for(caller)
        await agi.set_variable("CHANNEL(language)", language)
        response = await agi.stream_file(self.settings.announce_prompt)
        if response.value < 0 and language != self.settings.default_language:
            log.warning("recording notice missing in language; playing the default",
                        extra={"language": language})
            await agi.set_variable("CHANNEL(language)", self.settings.default_language)
            await agi.stream_file(self.settings.announce_prompt)
        await self.record(agi)

    async def record(self, agi: Session) -> None:
        """Starts MixMonitor into <recordings>/<yyyy>/<mm>/<dd>/<linkedid>.<format>."""
        linkedid = await agi.get_variable("CHANNEL(linkedid)") or agi.request.uniqueid
        path = recording_path(self.settings.recordings_dir, linkedid, datetime.now(UTC),
                              self.settings.recording_format)
        await agi.exec("MixMonitor", str(path))
        await agi.set_variable("CC_RECORDING", str(path))
        log.info("recording started", extra={"linkedid": linkedid})

    async def _language_for(self, caller: str | None) -> str:
        """The contact's saved language, else the caller's country's, else the default."""
        if caller:
            try:
                async with asyncio.timeout(DB_LOOKUP_TIMEOUT), self.sessions() as session:
                    contact = await find_by_number(session, caller)
                if contact is not None and contact.language:
                    return contact.language
            except Exception as exc:  # a slow or absent database must not hold the caller
                log.warning("contact lookup failed; language from the number",
                            extra={"error": repr(exc)})
            language = COUNTRY_LANGUAGE.get(region_of(caller) or "")
            if language:
                return language
        return self.settings.default_language
