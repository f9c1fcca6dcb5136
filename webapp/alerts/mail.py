"""The e-mail channel: alert e-mail over SMTP (stdlib ``smtplib`` in a worker thread),
one message per alert.

The webhook dispatcher owns the queue, the retries and the counters: an e-mail
route is one more lane of it (:class:`~webapp.alerts.webhooks.WebhookDispatcher`),
whose channel (:class:`EmailChannel`) sends with :meth:`Mailer.send` instead of an
HTTP POST. A connection failure, a timeout or a 4xx SMTP answer is worth another
attempt; a 5xx is not.
The password never appears in a repr, a status or an error.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

from webapp.alerts import messages
from webapp.alerts.channel import Outcome
from webapp.alerts.lanes import Item
from webapp.alerts.messages import Summary

Security = Literal["starttls", "tls", "none"]


@dataclass(frozen=True, slots=True)
class Sent:
    """How one attempt went: sent, or the error and whether to try again."""

    ok: bool
    retry: bool = False
    error: str = ""


@dataclass(frozen=True, slots=True, repr=False)
class Mailer:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    security: Security = "starttls"
    username: str = ""
    password: str = ""
    timeout: float = 10.0

    def __repr__(self) -> str:
        return f"Mailer({self.host}:{self.port}, to {len(self.recipients)} recipient(s))"

    @property
    def address(self) -> str:
        """Where mail goes, as the admin page and the logs show it (no credentials)."""
        return f"smtp://{self.host}:{self.port}"

    async def send(self, message: EmailMessage) -> Sent:
        """Send in a worker thread (smtplib blocks); ``timeout`` bounds each socket wait."""
        try:
            await asyncio.to_thread(self._send, message)
        except smtplib.SMTPResponseException as exc:
            return Sent(False, retry=400 <= exc.smtp_code < 500, error=f"SMTP {exc.smtp_code}")
        except smtplib.SMTPRecipientsRefused:
            return Sent(False, error="every recipient was refused")
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timeout, TLS
            return Sent(False, retry=True, error=type(exc).__name__)
        return Sent(True)

    def _send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp = (
            smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            if self.security == "tls"
            else smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        )
        with smtp:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message, self.sender, list(self.recipients))


def email(summary: Summary, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    message = EmailMessage()
    where = f"[{summary.org_name or summary.org}] " if summary.org else ""
    message["Subject"] = f"[Burki Live] {where}{summary.title}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    lines = [summary.title, "", summary.text] if summary.text else [summary.title]
    if summary.org:
        lines += ["", f"Organisation: {summary.where}"]
    if summary.link:
        lines += ["", f"Open it: {summary.link}"]
    message.set_content("\n".join(lines) + "\n")
    return message


@dataclass(frozen=True, slots=True)
class EmailChannel:
    """Mails each item to the mailer's recipients; SMTP's answer decides a retry."""

    mailer: Mailer
    public_url: str  # the message's link points here

    async def attempt(self, item: Item) -> Outcome:
        summary = messages.of(item, self.public_url)
        sent = await self.mailer.send(email(summary, self.mailer.sender, self.mailer.recipients))
        return Outcome(sent.ok, sent.retry, sent.error)
