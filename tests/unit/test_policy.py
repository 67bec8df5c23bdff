"""The data policy: the kind decides what an agent sees; text is redacted the same everywhere."""

from __future__ import annotations

import pytest

from callcenter.policy import (
    FieldRule,
    Kind,
    Viewer,
    check_value,
    redact_log,
    redact_text,
    show,
)

AGENT = Viewer("agent", own_number="+79161234567")
SUPERVISOR = Viewer("supervisor")


@pytest.mark.parametrize(("kind", "visible", "value", "agent_sees"), [
    (Kind.NAME, True, "Иван Петров", "Иван Петров"),
    (Kind.NAME, False, "Иван Петров", None),
    (Kind.FREE_TEXT, True, "prefers mornings", "prefers mornings"),
    (Kind.FREE_TEXT, False, "prefers mornings", None),
    (Kind.DATE, True, "1985-03-12", "1985-03-12"),
    (Kind.EMAIL, True, "ivan@example.com", None),
    (Kind.ADDRESS, True, "Москва, Тверская 1", None),
    (Kind.IDENTITY_DOCUMENT, True, "4509 123456", None),
    (Kind.PHONE, True, "+74951234567", "********4567"),
    (Kind.PHONE, True, "+7 495 123-45-67", "********4567"),
    (Kind.PHONE, True, "+79161234567", "+79161234567"),  # the caller's own
    (None, True, "anything", None),  # undeclared
    # visible text that slipped past the write check is still masked
    (Kind.FREE_TEXT, True, "mail ivan@example.com, +7 916 765-43-21",
     "mail ***@***, *******4321"),
])
def test_the_kind_decides_what_an_agent_sees(kind, visible, value, agent_sees):
    rule = FieldRule(kind, visible)
    assert show(value, rule, AGENT) == agent_sees
    assert show(value, rule, SUPERVISOR) == value


@pytest.mark.parametrize(("text", "redacted"), [
    ("GET /ws/agent?token=cc_secret HTTP/1.1", "GET /ws/agent?token=*** HTTP/1.1"),
    ("Authorization: Bearer s.eyJ1aWQiOjF9.mac", "Authorization: Bearer ***"),
    ("q=ivan%40example.com", "q=***@***"),
    ("паспорт 4509 123456, СНИЛС 112-233-445 95, ИНН 7707083893",
     "паспорт ******3456, СНИЛС *******4595, ИНН ******3893"),
    ("passport 4509-123456, tel. 8916-12-34567", "passport ******3456, tel. *******4567"),
    ("born 1985-03-12 (12.03.1985), seen 2026-11-24T08:44:02 from 192.168.1.10",
     "born 1985-03-12 (12.03.1985), seen 2026-11-24T08:44:02 from 192.168.1.10"),
])
def test_text_is_redacted_the_same_in_data_and_logs(text, redacted):
    assert redact_text(text) == redacted
    assert redact_log(text) == redacted


@pytest.mark.parametrize(("line", "redacted"), [
    ("PJSIP/79161234567-00000001 hung up", "PJSIP/*******4567-00000001 hung up"),
    ("PJSIP/1001-00000001", "PJSIP/1001-00000001"),  # an extension is not personal
    ("Local/2001@cc-test-agent-0000a1b2;1", "Local/2001@cc-test-agent-0000a1b2;1"),
    ("linkedid=1732441234.56 call_id=c2c-0123456789abcdef",
     "linkedid=1732441234.56 call_id=c2c-0123456789abcdef"),
])
def test_log_lines_keep_asterisk_ids_readable(line, redacted):
    assert redact_log(line) == redacted


def test_ids_that_only_logs_keep_are_masked_in_data():
    """In a field agents see, an Asterisk-id shape is no way to smuggle a number through."""
    assert redact_text("9161234567.1") == "******4567.1"
    assert redact_text("1732441234.56") == "******1234.56"


def test_free_text_and_agent_visible_text_refuse_numbers_and_emails():
    free = FieldRule(Kind.FREE_TEXT)
    assert check_value("remark", "звонить после обеда", free) is None
    assert "e-mail" in check_value("remark", "olga@mail.ru", free)  # type: ignore[operator]
    assert check_value("remark", "паспорт 4509 123456", free).startswith("remark: ")  # type: ignore[union-attr]
    # an identity document in its own kind, or hidden text of another kind: stored as given
    assert check_value("Паспорт", "4509 123456", FieldRule(Kind.IDENTITY_DOCUMENT)) is None
    assert check_value("alias", "olga@mail.ru", FieldRule(Kind.NAME)) is None
    assert check_value("alias", "olga@mail.ru", FieldRule(Kind.NAME, True)) is not None
