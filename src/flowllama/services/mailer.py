"""Outgoing mail: SMTP when configured, otherwise an outbox folder the operator can read.

Requests never call these directly: they queue messages in ``services/mail_outbox.py``, whose
worker calls :meth:`Mailer.send`. Mail bodies may hold secrets (reset links), so they never go
to the log; outbox files are written with mode 0600.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from flowllama.db.types import new_id, utcnow
from flowllama.logging import get_logger
from flowllama.settings import MailSettings, Settings

log = get_logger(__name__)


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...


def _message(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    # Plain 7bit/8bit, never quoted-printable: QP breaks long lines with "=" and encodes "="
    # itself as "=3D", so a reset link copied from the raw message would not work.
    message.set_content(body, cte="7bit" if body.isascii() else "8bit")
    return message


class OutboxMailer:
    """Writes each message as an ``.eml`` file under ``directory``."""

    def __init__(self, directory: Path, sender: str) -> None:
        self.directory = directory
        self.sender = sender

    def send(self, to: str, subject: str, body: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{utcnow():%Y%m%dT%H%M%S}-{new_id()[:8]}.eml"
        # Written under a dot-name and renamed: whoever watches the folder for ``*.eml`` (an
        # operator, a test) never reads a file that exists but is still empty.
        partial = self.directory / f".{name}.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(_message(self.sender, to, subject, body)))
        os.replace(partial, self.directory / name)
        log.info("mail.queued_to_outbox", file=name)


class SmtpMailer:
    """Sends through an SMTP server, with STARTTLS unless disabled."""

    def __init__(self, config: MailSettings) -> None:
        assert config.smtp_host
        self.config = config

    def send(self, to: str, subject: str, body: str) -> None:
        cfg = self.config
        assert cfg.smtp_host
        with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=15) as smtp:
            if cfg.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if cfg.smtp_username and cfg.smtp_password:
                smtp.login(cfg.smtp_username, cfg.smtp_password.get_secret_value())
            smtp.send_message(_message(cfg.from_address, to, subject, body))
        log.info("mail.sent", via="smtp")


def build_mailer(settings: Settings) -> Mailer:
    if settings.mail.smtp_host:
        return SmtpMailer(settings.mail)
    return OutboxMailer(settings.data_dir / "outbox", settings.mail.from_address)
