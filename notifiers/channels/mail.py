"""Builds the MIME e-mail of a message (UTF-8 subject, text and HTML alternatives, dedupe headers).

A long dedupe key is folded like any header (RFC 5322); receivers unfold it and strip the leading space.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from notifiers.base import Outgoing

DEDUPE_HEADER = "X-Shixian-Dedupe-Key"


def build_email(message: Outgoing, sender: str, moment: datetime) -> EmailMessage:
    """The e-mail for `message`; its Message-ID derives from the dedupe key, so a resend has the same one."""
    mail = EmailMessage()
    mail["Subject"] = message.rendered.subject
    mail["From"] = sender
    mail["To"] = message.address
    mail["Date"] = format_datetime(moment)
    domain = sender.rpartition("@")[2].strip("> ") or "shixian.local"
    mail["Message-ID"] = f"<{message.dedupe_digest}@{domain}>"
    mail[DEDUPE_HEADER] = message.dedupe_key
    mail["X-Shixian-Kind"] = message.kind
    mail.set_content(message.rendered.text, charset="utf-8")
    mail.add_alternative(message.rendered.html, subtype="html", charset="utf-8")
    return mail
