"""Every table, imported in one place for Alembic and for create-all in tests."""

from callcenter.agents.models import Agent, AgentStateChange
from callcenter.audit.models import AuditEntry
from callcenter.callbacks.models import Callback
from callcenter.calls.models import Call, CallLeg
from callcenter.contacts.models import CardField, Contact, ContactNumber
from callcenter.db import Base
from callcenter.dispositions.models import CallWrapup, Disposition, WrapupPolicy
from callcenter.outbox.models import (
    OutboxEvent,
    OutboxMark,
    WebhookDelivery,
    WebhookSubscription,
)
from callcenter.queues.models import QueueEntry
from callcenter.recordings.models import Recording
from callcenter.users.models import ApiToken, User

__all__ = ["Agent", "AgentStateChange", "ApiToken", "AuditEntry", "Base", "Call", "CallLeg",
           "CallWrapup", "Callback", "CardField", "Contact", "ContactNumber", "Disposition",
           "OutboxEvent", "OutboxMark", "QueueEntry", "Recording", "User", "WebhookDelivery",
           "WebhookSubscription", "WrapupPolicy"]
