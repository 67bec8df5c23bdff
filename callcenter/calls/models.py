"""A call is everything Asterisk groups under one Linkedid: caller, queue, agent, outcome."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime


class Call(Base):
    __tablename__ = "calls"
    # a number's latest calls (screen pop), and an agent's (their transcript search), straight
    # from an index, however many calls there are
    __table_args__ = (Index("ix_calls_caller_started_at", "caller", "started_at"),
                      Index("ix_calls_called_started_at", "called", "started_at"),
                      Index("ix_calls_agent_started_at", "agent", "started_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(16))  # inbound | outbound | internal
    caller: Mapped[str | None] = mapped_column(String(32))  # E.164
    caller_raw: Mapped[str | None] = mapped_column(String(80))
    caller_name: Mapped[str | None] = mapped_column(String(120))
    called: Mapped[str | None] = mapped_column(String(32))  # E.164
    called_raw: Mapped[str | None] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    queue: Mapped[str | None] = mapped_column(String(80), index=True)
    queue_entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent: Mapped[str | None] = mapped_column(String(80), index=True)
    agent_interface: Mapped[str | None] = mapped_column(String(120))
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    # answered | abandoned | timeout | no_agent | busy | failed | transferred
    # | voicemail | callback_requested | closed (IVR out of hours)
    outcome: Mapped[str] = mapped_column(String(24), index=True)
    abandon_position: Mapped[int | None] = mapped_column(Integer)
    hangup_by: Mapped[str | None] = mapped_column(String(16))  # customer | agent | system
    transfer_target: Mapped[str | None] = mapped_column(String(80))
    # True when the end was not seen but deduced (e.g. after an AMI disconnect).
    end_inferred: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_id: Mapped[int | None] = mapped_column(Integer, index=True)
    vip: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # where the caller went in the IVR, e.g. "main>3>billing>1"
    ivr_path: Mapped[str | None] = mapped_column(String(200))
    recording_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # the database did not answer in time to say whether the caller opted out: recorded, and
    # the recording deleted when the final record finds the caller had opted out
    consent_unknown: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # "ledger": derived from Asterisk's CEL and queue_log (final); "ami": followed live
    # (provisional while a ledger is configured)
    source: Mapped[str] = mapped_column(String(16), default="ami", server_default="ami")
    # how good the evidence is (see calls.store.EVIDENCE): a record is only ever replaced
    # by a better one
    evidence: Mapped[int] = mapped_column(Integer, default=2, server_default="2")


class CallLeg(Base):
    """One Asterisk channel of a call: kept for disputes about who rang, answered, hung up."""

    __tablename__ = "call_legs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hangup_cause: Mapped[int | None] = mapped_column(Integer)


class LedgerPosition(Base):
    """Where reading a ledger source stopped: committed with the records derived from it."""

    __tablename__ = "ledger_positions"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)  # "cel", "queue_log"
    device: Mapped[int] = mapped_column(BigInteger)
    inode: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
