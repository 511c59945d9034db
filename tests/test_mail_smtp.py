"""Tests for mail.smtp against a real aiosmtpd server: delivery, refusals, TLS, retries."""

from __future__ import annotations

import socket
from email.message import EmailMessage

import pytest

from mail.errors import MailSendError
from mail.retry import retry_delay, should_retry
from mail.smtp import SmtpSender
from tests.servers.smtp import SmtpServer, start_smtp


def message(mid: str = "<DSR-1.1.aa@shop.example>") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "privacy@shop.example"
    msg["To"] = "alice@customer.example"
    msg["Subject"] = "[DSR-1] Über Ihre Anfrage"
    msg["Message-ID"] = mid
    msg["In-Reply-To"] = "<orig@customer.example>"
    msg["References"] = " ".join(f"<r{i}@customer.example>" for i in range(8))
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content("Hello")
    return msg


async def test_delivers_with_headers_intact(smtp_server: SmtpServer) -> None:
    sender = SmtpSender(smtp_server.host, smtp_server.port, tls="none", timeout=5)
    await sender.send(message())
    [got] = smtp_server.handler.received
    assert got.rcpt_tos == ("alice@customer.example",)
    parsed = got.parsed()
    assert parsed["Message-ID"] == "<DSR-1.1.aa@shop.example>"
    assert parsed["Subject"] == "[DSR-1] Über Ihre Anfrage"
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert str(parsed["References"]).split() == [f"<r{i}@customer.example>" for i in range(8)]


async def test_starttls_with_auth(smtp_tls_server: SmtpServer) -> None:
    srv = smtp_tls_server
    sender = SmtpSender(
        srv.host,
        srv.port,
        username="bot",
        password="smtppass",
        tls="starttls",
        timeout=5,
        tls_context=srv.client_tls_context(),
    )
    await sender.send(message())
    assert len(srv.handler.received) == 1


async def test_wrong_password_is_permanent(smtp_tls_server: SmtpServer) -> None:
    srv = smtp_tls_server
    sender = SmtpSender(
        srv.host,
        srv.port,
        username="bot",
        password="wrong",
        tls="starttls",
        timeout=5,
        tls_context=srv.client_tls_context(),
    )
    with pytest.raises(MailSendError) as err:
        await sender.send(message())
    assert (err.value.transient, err.value.code) == (False, 535)


async def test_untrusted_certificate_is_permanent(smtp_tls_server: SmtpServer) -> None:
    srv = smtp_tls_server
    sender = SmtpSender(srv.host, srv.port, username="bot", password="smtppass", timeout=5)
    with pytest.raises(MailSendError, match="DSR_SMTP_TLS") as err:
        await sender.send(message())
    assert err.value.transient is False


async def test_permanent_refusal_is_not_transient() -> None:
    srv = await start_smtp(refuse_first=1, refusal="550 5.7.1 Rejected by policy")
    try:
        sender = SmtpSender(srv.host, srv.port, tls="none", timeout=5)
        with pytest.raises(MailSendError) as err:
            await sender.send(message())
        assert (err.value.transient, err.value.code) == (False, 550)
        assert not should_retry(1, transient=err.value.transient)
    finally:
        await srv.close()


async def test_no_server_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connection refused
        sender = SmtpSender("127.0.0.1", port, tls="none", timeout=2)
        with pytest.raises(MailSendError) as err:
            await sender.send(message())
    assert err.value.transient is True
    assert isinstance(err.value, OSError)


async def test_4xx_for_a_while_then_accepted_with_one_message_id() -> None:
    """The outbox loop in miniature: retry transient failures with the policy's delays."""
    srv = await start_smtp(refuse_first=3)
    try:
        sender = SmtpSender(srv.host, srv.port, tls="none", timeout=5)
        msg = message("<DSR-9.77.stable@shop.example>")
        attempt, waited = 0, []
        while True:
            attempt += 1
            try:
                await sender.send(msg)
                break
            except MailSendError as exc:
                assert exc.transient and exc.code == 451
                assert should_retry(attempt, transient=True)
                waited.append(retry_delay(attempt).total_seconds())
        assert attempt == 4 and srv.handler.refused == 3
        assert waited == [60.0, 120.0, 240.0]
        [got] = srv.handler.received
        assert got.parsed()["Message-ID"] == "<DSR-9.77.stable@shop.example>"
    finally:
        await srv.close()


def test_credentials_in_clear_over_the_network_are_refused() -> None:
    with pytest.raises(ValueError, match="DSR_SMTP_TLS"):
        SmtpSender("smtp.example.com", 25, username="u", password="p", tls="none")
    with pytest.raises(ValueError, match="none, starttls, tls"):
        SmtpSender("localhost", 25, tls="ssl")  # type: ignore[arg-type]
