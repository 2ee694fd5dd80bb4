"""The e-mail notifier against a real SMTP server on loopback (tests/smtpserver.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from notify_samples import HEADER_HOSTILE, new_story, update
from pydantic import ValidationError
from smtpserver import Certificate, SMTPServer, self_signed_cert

from monitor.errors import ConfigError, DeliveryError
from monitor.notify.email import Email, EmailSettings

# Logging in without TLS is what security "none" means; aiosmtpd warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

DESK = "news-desk@example.com"
SENDER = "News Monitor <monitor@example.com>"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    made = self_signed_cert(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    return made


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


def make_email(server: SMTPServer, certificate: Certificate | None = None, **settings: Any) -> Email:
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": server.security,
        "sender": SENDER,
        "to": [DESK],
        "timeout": 5,
    }
    values.update(settings)
    context = certificate.client_context() if certificate else None
    return Email("email", EmailSettings(**values), ssl_context=context)


def subject_of(message: EmailMessage) -> str:
    """The Subject as a mail client shows it: Python keeps the space of a fold after "Subject:"."""
    assert len(message.get_all("Subject", [])) == 1
    return str(message["Subject"]).strip()


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


# --- what is sent -------------------------------------------------------------------------


def test_new_story_is_a_multipart_mail_whose_message_id_is_the_thread(smtp: SMTPServer) -> None:
    delivered = make_email(smtp).send(new_story(), DESK)

    [received] = smtp.received
    message = received.message
    assert received.rcpt_tos == [DESK]
    assert received.mail_from == "monitor@example.com"
    assert subject_of(message) == "[russia-ukraine-talks] Russia and Ukraine resume talks in Istanbul"
    assert message["From"] == SENDER
    assert message["To"] == DESK
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@example.com>")
    assert delivered.thread_ref == message["Message-ID"]
    assert message.get_content_type() == "multipart/alternative"
    text, html = body(message, "plain"), body(message, "html")
    assert "Delegations from Russia and Ukraine met in Istanbul" in text
    assert "Reuters · 2024-05-01 14:03 UTC · https://example.com/world/talks · russia-ukraine-talks" in text
    assert "story #7 · first seen 2024-05-01 14:03 UTC · 1 article · 1 source" in text
    assert "https://example.com/world/talks?id=1&lang=en" in text
    assert '<a href="https://example.com/world/talks?id=1&amp;lang=en">' in html
    assert "<h2" in html and "Russia and Ukraine resume talks in Istanbul</h2>" in html


def test_update_replies_to_the_root_message_id(smtp: SMTPServer) -> None:
    mailer = make_email(smtp)
    root = mailer.send(new_story(), DESK).thread_ref
    delivered = mailer.send(update(), DESK, root)

    first, reply = smtp.messages
    assert delivered.thread_ref == root == first["Message-ID"]
    assert subject_of(reply) == "Re: [russia-ukraine-talks] Russia and Ukraine resume talks in Istanbul"
    assert reply["In-Reply-To"] == root
    assert reply["References"] == root
    assert reply["Message-ID"] != root
    text = body(reply, "plain")
    assert "What's new:\n- A prisoner exchange was agreed.\n- Talks continue on Thursday." in text
    assert "Prisoner swap agreed as talks continue" in text


def test_update_without_root_is_standalone(smtp: SMTPServer) -> None:
    delivered = make_email(smtp).send(update(), DESK, None)
    [message] = smtp.messages
    assert subject_of(message) == "[russia-ukraine-talks] Update: Russia and Ukraine resume talks in Istanbul"
    assert message["In-Reply-To"] is None
    assert delivered.thread_ref == message["Message-ID"]


def test_several_recipients(smtp: SMTPServer) -> None:
    mailer = make_email(smtp)
    destination = mailer.normalise_destination(["a@example.com", "Desk <b@example.org>"])
    assert destination == "a@example.com,b@example.org"
    mailer.send(new_story(), destination)
    assert smtp.received[0].rcpt_tos == ["a@example.com", "b@example.org"]


def test_crlf_in_a_title_cannot_inject_headers(smtp: SMTPServer) -> None:
    mailer = make_email(smtp)
    root = mailer.send(new_story(HEADER_HOSTILE, title=HEADER_HOSTILE), DESK).thread_ref
    mailer.send(update(HEADER_HOSTILE, title=HEADER_HOSTILE), DESK, root)

    assert len(smtp.received) == 2
    for received in smtp.received:
        assert received.rcpt_tos == [DESK]
        assert received.message["Bcc"] is None
        subject = subject_of(received.message)
        assert "\r" not in subject and "\n" not in subject
        assert subject.endswith("Talks resume Bcc: evil@example.com")
        assert b"\r\nBcc:" not in received.raw


def test_html_escapes_article_text_and_drops_unsafe_links(smtp: SMTPServer) -> None:
    hostile = '<script>alert(1)</script><img src=x onerror="steal()">'
    make_email(smtp).send(new_story(hostile, lead=hostile, url="javascript:steal()"), DESK)
    html = body(smtp.messages[0], "html")
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:" not in html
    assert "javascript:" not in body(smtp.messages[0], "plain")


def test_digest_groups_alerts_by_story(smtp: SMTPServer) -> None:
    grain_alert = new_story("Grain deal extended")
    other = replace(grain_alert, story=replace(grain_alert.story, id=8))
    alerts = [new_story(), other, update()]

    delivered = make_email(smtp).send_digest(alerts, DESK)

    assert delivered.thread_ref is None
    [message] = smtp.messages
    assert subject_of(message) == "[russia-ukraine-talks] Digest: 2 stories, 1 update"
    text = body(message, "plain")
    talks, grain = text.index("== Russia and Ukraine"), text.index("== Grain deal extended ==")
    assert talks < grain
    # The update sits under its own story, before the next story starts.
    assert talks < text.index("Update: Prisoner swap agreed") < grain
    html = body(message, "html")
    assert html.count("<h3") == 2


def test_an_empty_digest_is_a_programming_error(smtp: SMTPServer) -> None:
    with pytest.raises(ValueError, match="at least one"):
        make_email(smtp).send_digest([], DESK)


# --- security modes and login ---------------------------------------------------------------


def test_login_when_a_username_is_set(tmp_path: Path) -> None:
    with SMTPServer(auth=("alice", "s3cret")) as server:
        make_email(server, username="alice", password="s3cret").send(new_story(), DESK)
        assert server.logins == ["alice"]
        assert len(server.messages) == 1


def test_a_refused_login_is_permanent() -> None:
    with SMTPServer(auth=("alice", "s3cret")) as server:
        with pytest.raises(DeliveryError) as caught:
            make_email(server, username="alice", password="wrong").send(new_story(), DESK)
        assert caught.value.permanent
        assert "535" in str(caught.value) and "SMTP_PASSWORD" in str(caught.value)
        assert "wrong" not in str(caught.value)
        assert server.messages == []


def test_no_login_is_attempted_without_a_username() -> None:
    with SMTPServer(auth=("alice", "s3cret")) as server:
        # The server insists on AUTH, so the send is refused: proof that we did not log in.
        with pytest.raises(DeliveryError, match="530") as caught:
            make_email(server).send(new_story(), DESK)
        assert caught.value.permanent
        assert server.logins == []


def test_starttls(certificate: Certificate) -> None:
    with SMTPServer(security="starttls", certificate=certificate, auth=("alice", "s3cret")) as server:
        make_email(server, certificate, username="alice", password="s3cret").send(new_story(), DESK)
        assert len(server.messages) == 1


def test_implicit_tls(certificate: Certificate) -> None:
    with SMTPServer(security="ssl", certificate=certificate) as server:
        make_email(server, certificate).check()
        make_email(server, certificate).send(new_story(), DESK)
        assert len(server.messages) == 1


def test_an_untrusted_certificate_is_permanent(certificate: Certificate) -> None:
    with SMTPServer(security="starttls", certificate=certificate) as server:
        with pytest.raises(DeliveryError) as caught:
            make_email(server).send(new_story(), DESK)  # the system trust store, not our test CA
        assert caught.value.permanent
        assert "certificate" in str(caught.value)


def test_starttls_against_a_plain_server_is_permanent(smtp: SMTPServer) -> None:
    with pytest.raises(DeliveryError, match=r"(?i)starttls") as caught:
        make_email(smtp, security="starttls").send(new_story(), DESK)
    assert caught.value.permanent


# --- transient and permanent failures --------------------------------------------------------


def test_smtp_down_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = EmailSettings(host="127.0.0.1", port=port, security="none", sender=SENDER, timeout=2)
    with pytest.raises(DeliveryError) as caught:
        Email("email", settings).send(new_story(), DESK)
    assert not caught.value.permanent
    assert str(caught.value).startswith(f"email: cannot reach 127.0.0.1:{port}")


def test_a_4xx_reply_is_transient_and_a_5xx_permanent(smtp: SMTPServer) -> None:
    mailer = make_email(smtp)
    smtp.fail_next_data("451 4.3.0 Mailbox busy")
    with pytest.raises(DeliveryError, match="451") as transient:
        mailer.send(new_story(), DESK)
    assert not transient.value.permanent
    smtp.fail_next_data("554 5.6.0 Message rejected")
    with pytest.raises(DeliveryError, match="554") as permanent:
        mailer.send(new_story(), DESK)
    assert permanent.value.permanent
    mailer.send(new_story(), DESK)
    assert len(smtp.messages) == 1


def test_all_recipients_refused_is_permanent(smtp: SMTPServer) -> None:
    smtp.refused_recipients.add("gone@example.com")
    with pytest.raises(DeliveryError, match=r"gone@example\.com") as caught:
        make_email(smtp).send(new_story(), "gone@example.com")
    assert caught.value.permanent


def test_one_refused_recipient_does_not_stop_the_others(
    smtp: SMTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    smtp.refused_recipients.add("gone@example.com")
    make_email(smtp).send(new_story(), f"gone@example.com,{DESK}")
    assert smtp.received[0].rcpt_tos == [DESK]
    assert "gone@example.com" in caplog.text


# --- settings -------------------------------------------------------------------------------


def test_settings_from_the_documented_yaml() -> None:
    settings = EmailSettings.model_validate(
        {
            "host": "localhost",
            "port": 587,
            "security": "starttls",
            "username": "",
            "password": "",
            "sender": SENDER,
            "to": [DESK],
            "timeout": "30s",
        }
    )
    assert settings.timeout == 30.0
    assert EmailSettings(sender=SENDER, timeout="2m").timeout == 120.0
    assert settings.effective_port == 587
    assert EmailSettings(sender=SENDER, security="ssl").effective_port == 465
    assert EmailSettings(sender=SENDER, to="one@example.com").to == ["one@example.com"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sender": "not an address"}, "not an e-mail address"),
        ({"sender": SENDER, "to": ["desk"]}, "not an e-mail address"),
        ({"sender": SENDER, "security": "tls"}, "starttls"),
        ({"sender": SENDER, "timeout": "soon"}, "duration"),
        ({"sender": SENDER, "timeout": "0s"}, "positive"),
        ({"sender": SENDER, "port": 70000}, "65535"),
        ({"sender": SENDER, "digest": "hourly"}, "Extra inputs"),
    ],
)
def test_bad_settings_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        EmailSettings.model_validate(values)


def test_secrets_and_destinations() -> None:
    assert Email("email", EmailSettings(sender=SENDER, username="u")).missing_secret() == "password"
    assert Email("email", EmailSettings(sender=SENDER, host="")).missing_secret() == "host"
    assert Email("email", EmailSettings(sender=SENDER)).missing_secret() is None
    with pytest.raises(ConfigError, match="no default recipients"):
        Email("email", EmailSettings(sender=SENDER)).default_destination()
    mailer = Email("email", EmailSettings(sender=SENDER, to=["a@example.com", "b@example.com"]))
    assert mailer.default_destination() == "a@example.com,b@example.com"
    with pytest.raises(ConfigError, match="not an e-mail address"):
        mailer.normalise_destination(["a@example.com", "nobody"])
