"""Every table, imported in one place for Alembic and for create-all in tests."""

from callcenter.agents.models import Agent, AgentStateChange
from callcenter.agents.pause_reasons import PauseReason
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
from callcenter.projects.models import (
    DncNumber,
    Project,
    ProjectAgent,
    ProjectAttempt,
    ProjectEntry,
)
from callcenter.queues.models import DisplayToken, QueueEntry, QueueSettings
from callcenter.recordings.models import Recording
from callcenter.scripts.models import QueueScript, Script, ScriptAnswer, ScriptRun, ScriptVersion
from callcenter.speech.models import QAFlag, QAReview, QARule, SpeechJob, Transcript
from callcenter.users.models import ApiToken, User

__all__ = ["Agent", "AgentStateChange", "ApiToken", "AuditEntry", "Base", "Call", "CallLeg",
           "CallWrapup", "Callback", "CardField", "Contact", "ContactNumber", "DisplayToken",
           "Disposition", "DncNumber", "OutboxEvent", "OutboxMark", "PauseReason", "Project",
           "ProjectAgent", "ProjectAttempt", "ProjectEntry", "QAFlag", "QAReview", "QARule",
           "QueueEntry", "QueueScript", "QueueSettings", "Recording", "Script", "ScriptAnswer",
           "ScriptRun", "ScriptVersion", "SpeechJob", "Transcript", "User", "WebhookDelivery",
           "WebhookSubscription", "WrapupPolicy"]
