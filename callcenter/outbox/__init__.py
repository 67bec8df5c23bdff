"""CRM integration: a durable outbox of events, signed webhooks, and a resumable event stream.

Events are rows written in the same transaction as the change they describe (`emit`); a
deliverer sends them to subscribers in order per ordering key (a call's Linkedid), and
`GET /events` serves them to pull-style clients. See README, "CRM integration".
"""

from callcenter.outbox.emit import emit, emit_many

__all__ = ["emit", "emit_many"]
