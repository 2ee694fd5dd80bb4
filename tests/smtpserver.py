"""A real SMTP server on 127.0.0.1 for tests, built on aiosmtpd, that keeps what it receives.

Plain by default; ``security="starttls"`` or ``"ssl"`` with a throw-away self-signed
certificate (made with the ``openssl`` command, see :func:`self_signed_cert`), and
``auth=(user, password)`` to require a login. Received mail is parsed into
:class:`email.message.EmailMessage` objects with the envelope beside them.
"""

from __future__ import annotations

import email
import shutil
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only this certificate (hostname 127.0.0.1 or localhost)."""
        return ssl.create_default_context(cafile=str(self.cert))


def self_signed_cert(directory: Path) -> Certificate | None:
    """A certificate for ``localhost`` / ``127.0.0.1``, or ``None`` when ``openssl`` is missing."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return Certificate(cert=cert, key=key)


def free_port() -> int:
    # aiosmtpd's controller must know its port before it starts, so it cannot bind port 0.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class SMTPServer:
    """``start()`` / ``stop()`` or a context manager; ``host``/``port`` once started."""

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        security: Literal["none", "starttls", "ssl"] = "none",
        certificate: Certificate | None = None,
        auth: tuple[str, str] | None = None,
    ) -> None:
        if security != "none" and certificate is None:
            raise ValueError(f"security {security!r} needs a certificate")
        self.security = security
        self.certificate = certificate
        self.auth = auth
        self.port = 0
        self.received: list[Received] = []
        self.refused_recipients: set[str] = set()
        self.logins: list[str] = []
        self._data_failures: list[str] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [item.message for item in self.received]

    def fail_next_data(self, reply: str = "451 4.3.0 Try again later") -> None:
        """Answer the next DATA with ``reply`` instead of accepting the message."""
        with self._lock:
            self._data_failures.append(reply)

    def start(self) -> SMTPServer:
        kwargs: dict[str, Any] = {}
        if self.auth is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
            # Logging in over plain text is what security "none" means; allow it here.
            kwargs["auth_require_tls"] = False
        if self.security == "starttls" and self.certificate is not None:
            kwargs.update(tls_context=self.certificate.server_context(), require_starttls=True)
        if self.security == "ssl" and self.certificate is not None:
            kwargs["ssl_context"] = self.certificate.server_context()
        self.port = free_port()
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SMTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert self.auth is not None
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        ok = (login, password) == self.auth
        if ok:
            with self._lock:
                self.logins.append(login)
        # handled=False makes aiosmtpd answer 535 itself.
        return AuthResult(success=ok, handled=False)

    def _take_data_failure(self) -> str | None:
        with self._lock:
            return self._data_failures.pop(0) if self._data_failures else None

    def _store(self, item: Received) -> None:
        with self._lock:
            self.received.append(item)


class _Handler:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.server.refused_recipients:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        failure = self.server._take_data_failure()
        if failure is not None:
            return failure
        raw = bytes(envelope.original_content or envelope.content)
        message = email.message_from_bytes(raw, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.server._store(Received(str(envelope.mail_from), list(envelope.rcpt_tos), message, raw))
        return "250 Message accepted for delivery"
