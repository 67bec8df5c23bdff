"""All settings in one typed place: environment (CALLCENTER_*) over an optional config file."""

from __future__ import annotations

import os
from ipaddress import ip_network
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from limits import parse_many
from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_ENV = "CALLCENTER_CONFIG"


class Settings(BaseSettings):
    """Defaults give a working first run: SQLite file, AMI/AGI/HTTP on loopback."""

    model_config = SettingsConfigDict(env_prefix="CALLCENTER_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./callcenter.db"

    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "callcenter"
    ami_secret: SecretStr = SecretStr("callcenter")
    ami_ping_interval: float = 10.0
    ami_action_timeout: float = 10.0

    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    # Peers allowed to open FastAGI sessions (the PBX): others are closed without a word and
    # logged. A FastAGI session reveals callers' names and VIP flags and creates callbacks.
    agi_allowed_peers: list[IPvAnyNetwork] = Field(
        default_factory=lambda: [ip_network("127.0.0.1/32"), ip_network("::1/128")])

    http_host: str = "127.0.0.1"
    http_port: int = 8000

    recordings_dir: Path = Path("recordings")
    # The ledger final call records are derived from: Asterisk's queue_log and its CEL file
    # (asterisk_conf/cel_custom.conf), readable here (the PBX host, or a shared
    # /var/log/asterisk). Both unset: records come from AMI alone, best-effort.
    queue_log_path: Path | None = None
    cel_path: Path | None = None
    # "tables": a PBX on another host writes its ledger into this (PostgreSQL) database
    # instead, through cel_pgsql and queue_log realtime (asterisk_conf/remote/, README
    # "Remote PBX"); the paths above are then not used.
    ledger_source: Literal["files", "tables"] = "files"
    # A first run (no position stored) reads the files from their start instead of their end.
    ledger_from_start: bool = False
    # A finished call whose queue_log ending has not been written yet waits this long for it.
    ledger_settle_seconds: float = 5.0
    # Records the database refused (bad data) are kept here, never dropped.
    spool_dir: Path = Path("spool")
    recording_format: str = "wav"
    default_language: str = "en"
    # Played before recording starts; a language without it falls back to default_language.
    announce_prompt: str = "conf-now-recording"
    # Per-language recordings of the notice, e.g. {"ru": "custom/zapis-razgovora"}.
    announce_prompts: dict[str, str] = Field(default_factory=dict)
    # Country assumed for numbers written without an international prefix.
    default_region: str = "RU"
    # The site's time zone (IANA name): the console shows every time in it.
    time_zone: str = "Europe/Moscow"
    # Outbound projects: how the progressive dialler reaches a customer ({number}: E.164
    # digits without the plus), and how often it looks for free agents besides AMI's events.
    dialler_channel: str = "PJSIP/{number}@trunk"
    dialler_tick_seconds: float = 1.0
    # how long the reserved agent's phone rings once the customer has answered
    dialler_agent_ring_seconds: int = 15
    # Listen / whisper / barge: the dialplan context (extensions listen, whisper, barge) that
    # runs ChanSpy on ${CC_SPY_TARGET} once the supervisor's phone answers.
    spy_context: str = "callcenter-spy"
    # Dialplan contexts where calls from outside enter: a call touching one is inbound.
    inbound_contexts: list[str] = Field(default_factory=lambda: ["callcenter-inbound"])

    # IVR menus (TOML); None: the sample shipped in callcenter/ivr/menus.toml
    ivr_file: Path | None = None
    # Queue priority (QUEUE_PRIO) given to VIP contacts; higher is answered first.
    vip_priority: int = 10
    # A contact who opted out of recording: "skip" (no recording) or "flag" (record, flagged).
    recording_opt_out: Literal["skip", "flag"] = "skip"
    # Longest a FastAGI route waits for the database before going on without it: one deadline
    # per route, a stuck connection's cleanup included.
    agi_db_timeout: float = 0.5
    # FastAGI on an event loop (and database pool) of its own, in its own thread, rather than
    # on the loop that serves the web: see README, "Telephony under web load".
    agi_own_loop: bool = True
    # The database did not answer in time, so nobody knows whether the caller opted out:
    # "record" (the notice is played, the call recorded with CC_RECORDING_CONSENT=unknown, and
    # the recording deleted later if the caller had opted out) or "skip" (not recorded).
    recording_when_consent_unknown: Literal["record", "skip"] = "record"

    # The secret each purpose's signing key is derived from (login tokens, recording URLs,
    # WebSocket tickets); unset: generated once into spool_dir/secret_key.
    secret_key: SecretStr | None = None
    # Secrets replaced by secret_key, newest first: what they signed still verifies.
    old_secret_keys: list[SecretStr] = Field(default_factory=list)
    # Keys the forget-me hash of erased numbers; unset: secret_key itself (as before). Set it
    # to the current secret before the first rotation, so the hash stays stable.
    forget_key: SecretStr | None = None
    login_token_minutes: int = 480
    recording_url_seconds: int = 300
    # POST /auth/ws-ticket: how long a single-use WebSocket ticket is valid.
    ws_ticket_seconds: int = Field(30, ge=1, le=300)
    # How often an open agent WebSocket checks its user is still active and not revoked.
    ws_recheck_seconds: float = Field(5.0, gt=0, le=10)
    # Login attempts (limits notation; the longer windows are the back-off).
    login_limits_per_user: str = "5/minute;10/hour;20/day"
    login_limits_per_address: str = "30/minute;200/hour;1000/day"

    # The reasons an agent picks from to pause (shown as they are written here); an agent's own
    # pause must give one of them. Empty: any reason, or none.
    pause_reasons: list[str] = Field(
        default_factory=lambda: ["break", "lunch", "training", "meeting", "after-call work"])

    # Click-to-call: countries agents may dial (empty: any) and ranges they may not.
    dial_allowed_regions: list[str] = Field(default_factory=lambda: ["RU"])
    dial_denied_prefixes: list[str] = Field(default_factory=lambda: ["+7809", "+7803"])
    # Recordings of calls never answered are deleted unless this is set.
    keep_unanswered_recordings: bool = False
    # Retention in days, by default and per queue (e.g. {"sales": 30}); 0: keep forever.
    retention_days: int = 365
    retention_days_by_queue: dict[str, int] = Field(default_factory=dict)

    # Agents read the card of a number only while on a call with it or this long after.
    agent_card_window_hours: float = Field(24.0, gt=0)
    # Heavy web work, bounded (beyond the bound: 503 + Retry-After): contact imports at once
    # (parsed in `import_processes` worker processes) and ffmpeg conversions at once.
    max_imports: int = Field(2, ge=1)
    import_processes: int = Field(1, ge=1)
    max_conversions: int = Field(4, ge=1)

    # Speech analytics (README "Speech analytics"): an offline engine transcribing recordings
    # in `speech_processes` worker processes. "off", "pocketsphinx" (tests: en-US model in
    # the wheel), "vosk" or "faster-whisper" (production: a model in speech_model_dir).
    speech_engine: Literal["off", "pocketsphinx", "vosk", "faster-whisper"] = "off"
    speech_model_dir: Path | None = None
    speech_language: Literal["ru", "en"] = "ru"
    speech_processes: int = Field(1, ge=1, le=64)
    speech_memory_mb: int = Field(4096, ge=256)  # per worker: a Vosk big model needs ~4 GB
    # Phrases also spotted on purpose by engines that can (pocketsphinx), besides QA rules'.
    speech_keywords: list[str] = Field(default_factory=list)
    speech_kws_threshold: float = Field(1e-30, gt=0, lt=1)
    # New recordings are looked for this often; older than speech_recent_hours at start-up
    # are left to `callcenter transcripts backfill`.
    speech_poll_seconds: float = Field(5.0, gt=0)
    speech_recent_hours: float = Field(24.0, gt=0)

    # CRM integration (README "CRM integration"): webhook targets on loopback, link-local or
    # private addresses are refused unless this is set (or a subscription's allow_private).
    webhook_allow_private_targets: bool = False
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=60)
    # a receiver's answer is read up to this many bytes, never more
    webhook_max_response_bytes: int = Field(4096, ge=0, le=1_000_000)
    webhook_concurrency: int = Field(8, ge=1, le=100)
    # retries: base * 2^(n-1) seconds (+-20 %), at most retry_max apart, for retry_hours
    webhook_retry_base_seconds: float = Field(10.0, gt=0)
    webhook_retry_max_seconds: float = Field(3600.0, gt=0)
    webhook_retry_hours: float = Field(24.0, gt=0)
    # events are kept this long (stream cursors within it resume; webhooks still being
    # retried keep theirs)
    outbox_retention_days: float = Field(7.0, gt=0)
    # GET /events?wait=: the longest a long poll is held open
    events_max_wait_seconds: float = Field(25.0, ge=0, le=60)

    log_level: str = "INFO"

    @model_validator(mode="after")
    def _ledger_tables_need_postgresql(self) -> Settings:
        if self.ledger_source == "tables" and not self.database_url.startswith("postgresql"):
            raise ValueError("ledger_source = \"tables\" needs a PostgreSQL database_url: "
                             "Asterisk writes its ledger tables there")
        return self

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as "
                             f"Europe/Moscow)") from None
        return value

    @field_validator("login_limits_per_user", "login_limits_per_address")
    @classmethod
    def _limits(cls, value: str) -> str:
        parse_many(value)  # ValueError: the setting is named in the error
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)
