"""Every table, imported in one place for Alembic and for create-all in tests."""

from callcenter.agents.models import Agent, AgentStateChange
from callcenter.callbacks.models import Callback
from callcenter.calls.models import Call, CallLeg
from callcenter.contacts.models import Contact, ContactNumber
from callcenter.db import Base
from callcenter.queues.models import QueueEntry
from callcenter.recordings.models import Recording

__all__ = [
           "Agent",
           "AgentStateChange",
           "Base",
           "Call",
           "CallLeg",
           "Callback",
           "Contact",
           "ContactNumber",
           "QueueEntry",
           "Recording",
]
