"""The e-mail notifier: multipart alerts over SMTP, threaded with Message-ID / In-Reply-To.

A new story's e-mail gets a fresh Message-ID, returned as the thread reference; an
update is sent as ``Re: [topic] story title`` with ``In-Reply-To`` and ``References``
naming it, so mail clients show the story as one conversation. :meth:`Email.send_digest`
sends many alerts as one e-mail grouped by story (the outbox decides when one is due).

Failures: an unreachable or disconnecting server, a timeout and 4xx replies are
transient; a refused login (535), a missing STARTTLS/AUTH, an untrusted certificate and
5xx replies are permanent.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from typing import Literal

from pydantic import Field, field_validator

from monitor import defaults
from monitor.durations import Duration
from monitor.errors import ConfigError, DeliveryError
from monitor.model import AlertKind, AlertMessage
from monitor.notify.base import Delivered, Notifier, NotifierSettings
from monitor.notify.email_render import Bodies, alert_bodies, digest_bodies, digest_heading
from monitor.notify.render import single_line, subject

log = logging.getLogger(__name__)

#: The customary port of each kind of SMTP security, used when ``port`` is not given.
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}

#: What talking to an SMTP server can raise: protocol replies, sockets, TLS (an OSError too).
_SMTP_FAILURES = (smtplib.SMTPException, OSError)


def parse_addresses(value: str) -> list[str]:
    """Bare addresses from ``a@x, Name <b@y>``; raises ``ValueError`` naming a bad one."""
    found: list[str] = []
    for display, address in getaddresses([value]):
        address = address.strip()
        local, at, domain = address.rpartition("@")
        if not at or not local or ("." not in domain and domain != "localhost"):
            raise ValueError(f"not an e-mail address: {(display or address or value)!r}")
        found.append(address)
    if not found:
        raise ValueError(f"no e-mail address in {value!r}")
    return found


class EmailSettings(NotifierSettings):
    """``notifiers.email`` in the configuration file."""

    host: str = "localhost"
    port: int | None = Field(None, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = ""
    password: str = ""
    sender: str
    #: Recipients used when a topic names ``email`` without addresses.
    to: list[str] = Field(default_factory=list)
    #: ``30s``, ``1m`` or a number of seconds.
    timeout: Duration = defaults.NOTIFY_TIMEOUT_SECONDS

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        value = single_line(value)
        parse_addresses(value)
        return value

    @field_validator("to", mode="before")
    @classmethod
    def _to(cls, value: object) -> object:
        if isinstance(value, str):
            return [value] if value.strip() else []
        return value

    @field_validator("to")
    @classmethod
    def _to_valid(cls, value: list[str]) -> list[str]:
        return [address for item in value for address in parse_addresses(item)]

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]


class Email(Notifier):
    kind = "email"
    Settings = EmailSettings
    threads = True

    def __init__(
        self,
        name: str,
        settings: NotifierSettings,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``ssl_context`` overrides the system trust store (tests use a self-signed server)."""
        if not isinstance(settings, EmailSettings):
            raise TypeError(f"Email needs EmailSettings, got {type(settings).__name__}")
        super().__init__(name, settings)
        self.config = settings
        self.ssl_context = ssl_context or ssl.create_default_context()
        sender_address = parseaddr(settings.sender)[1]
        self._sender_address = sender_address
        self._msgid_domain = sender_address.rpartition("@")[2] or "localhost"

    def missing_secret(self) -> str | None:
        if not self.config.host.strip():
            return "host"
        if self.config.username and not self.config.password:
            return "password"
        return None

    def default_destination(self) -> str:
        if not self.config.to:
            raise ConfigError(
                f"notifier {self.name!r}: no default recipients; set notifiers.email.to "
                "or list addresses on the topic"
            )
        return ",".join(self.config.to)

    def normalise_destination(self, destination: object) -> str:
        joined = super().normalise_destination(destination)
        try:
            return ",".join(parse_addresses(joined))
        except ValueError as error:
            raise ConfigError(f"notifier {self.name!r}: {error}") from None

    def check(self) -> None:
        """Connect, negotiate TLS and log in, without sending anything."""
        with self._session():
            pass

    def send(self, message: AlertMessage, destination: str, thread_ref: str | None = None) -> Delivered:
        """Send one alert; returns the Message-ID updates should reply to (see module docstring)."""
        is_update = message.kind is AlertKind.UPDATE
        is_reply = is_update and thread_ref is not None
        # Without a root to reply to, "Re:" would point at nothing; say what it is instead.
        title = message.story.title if is_reply or not is_update else f"Update: {message.story.title}"
        line = subject(message.topic, title, reply=is_reply)
        email, recipients = self._compose(line, alert_bodies(message, line), destination)
        if is_reply and thread_ref is not None:
            email["In-Reply-To"] = single_line(thread_ref)
            email["References"] = single_line(thread_ref)
        self._deliver(email, recipients)
        own_id = str(email["Message-ID"])
        return Delivered(thread_ref=thread_ref if is_reply else own_id)

    def send_digest(self, messages: Sequence[AlertMessage], destination: str) -> Delivered:
        """Send ``messages`` as one e-mail grouped by story; returns no thread reference."""
        if not messages:
            raise ValueError("a digest needs at least one alert")
        topics = ", ".join(dict.fromkeys(message.topic for message in messages))
        line = f"[{single_line(topics)}] Digest: {digest_heading(messages)}"
        self._deliver(*self._compose(line, digest_bodies(messages, line), destination))
        return Delivered(thread_ref=None)

    # --- internals -------------------------------------------------------------------

    def _compose(self, line: str, bodies: Bodies, destination: str) -> tuple[EmailMessage, list[str]]:
        try:
            recipients = parse_addresses(destination)
        except ValueError as error:
            raise DeliveryError(f"email: {error}", permanent=True) from None
        email = EmailMessage()
        email["Subject"] = single_line(line)
        email["From"] = self.config.sender
        email["To"] = ", ".join(recipients)
        email["Date"] = format_datetime(datetime.now(UTC))
        email["Message-ID"] = make_msgid(domain=self._msgid_domain)
        # RFC 3834: tells auto-responders not to answer an alert.
        email["Auto-Submitted"] = "auto-generated"
        email.set_content(bodies.text)
        email.add_alternative(bodies.html, subtype="html")
        return email, recipients

    def _session(self) -> smtplib.SMTP:
        """An open, secured and logged-in SMTP session; errors become DeliveryError."""
        config = self.config
        where = f"{config.host}:{config.effective_port}"
        try:
            smtp: smtplib.SMTP
            if config.security == "ssl":
                smtp = smtplib.SMTP_SSL(
                    config.host, config.effective_port, timeout=config.timeout, context=self.ssl_context
                )
            else:
                smtp = smtplib.SMTP(config.host, config.effective_port, timeout=config.timeout)
        except _SMTP_FAILURES as error:
            raise _smtp_error(error, where) from error
        try:
            if config.security == "starttls":
                smtp.starttls(context=self.ssl_context)
            if config.username:
                smtp.login(config.username, config.password)
        except _SMTP_FAILURES as error:
            smtp.close()
            raise _smtp_error(error, where) from error
        return smtp

    def _deliver(self, email: EmailMessage, recipients: list[str]) -> None:
        where = f"{self.config.host}:{self.config.effective_port}"
        with self._session() as smtp:
            try:
                refused = smtp.send_message(email, from_addr=self._sender_address, to_addrs=recipients)
            except _SMTP_FAILURES as error:
                raise _smtp_error(error, where) from error
        if refused:
            log.warning("email: some recipients were refused: %s", ", ".join(sorted(refused)))


def _reply(code: int, text: bytes | str) -> str:
    detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {single_line(detail)}"


def _smtp_error(error: Exception, where: str) -> DeliveryError:
    """Sort an SMTP failure into transient (retry later) and permanent (fix the config)."""
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return DeliveryError(
            f"email: login refused by {where} ({_reply(error.smtp_code, error.smtp_error)}) "
            "— check SMTP_USER / SMTP_PASSWORD",
            permanent=True,
        )
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"email: {where} does not support this: {error}", permanent=True)
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        detail = "; ".join(f"{rcpt}: {_reply(*reply)}" for rcpt, reply in error.recipients.items())
        return DeliveryError(f"email: recipients refused ({detail})", permanent=all(c >= 500 for c in codes))
    if isinstance(error, smtplib.SMTPConnectError):
        return DeliveryError(
            f"email: {where} refused the connection ({_reply(error.smtp_code, error.smtp_error)})"
        )
    if isinstance(error, smtplib.SMTPResponseException):
        reply = _reply(error.smtp_code, error.smtp_error)
        return DeliveryError(f"email: {where} answered {reply}", permanent=error.smtp_code >= 500)
    if isinstance(error, ssl.SSLCertVerificationError):
        return DeliveryError(
            f"email: TLS certificate of {where} not trusted: {error.verify_message}", permanent=True
        )
    return DeliveryError(f"email: cannot reach {where}: {error or type(error).__name__}")
