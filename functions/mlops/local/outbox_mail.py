"""Alerts as `.eml` files, so the local outbox opens in a mail client as the e-mail SNS sends.

One file per alert under `.mlops/outbox/`, named by time and subject; RFC 5322 text written by
the standard library's `email` package (From, To, Subject, Date, Message-ID, a text/plain
UTF-8 body, 8bit). Nothing is sent anywhere.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

SENDER = "serverless-mlops alerts <alerts@mlops.localhost>"
RECIPIENT = "you@mlops.localhost"


def alert_email(envelope: dict[str, Any]) -> EmailMessage:
    """The e-mail for one SNS envelope (as the outbox queue receives it)."""
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = RECIPIENT
    message["Subject"] = str(envelope.get("Subject") or "(no subject)")
    sent = envelope.get("Timestamp")
    when = datetime.fromisoformat(str(sent).replace("Z", "+00:00")) if sent else datetime.now(UTC)
    message["Date"] = format_datetime(when)
    message["Message-ID"] = make_msgid(domain="mlops.localhost")
    # 8bit, not quoted-printable: the file stays readable as text (links unbroken), and every
    # line of an alert is far below the 998-character limit.
    message.set_content(str(envelope.get("Message") or ""), cte="8bit")
    return message


def write_eml(folder: Path, envelope: dict[str, Any]) -> Path:
    """Write one alert as `<folder>/<yyyymmddThhmmss>-<subject slug>.eml`; returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    message = alert_email(envelope)
    slug = re.sub(r"[^a-z0-9]+", "-", message["Subject"].lower()).strip("-")[:60]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"{stamp}-{slug}.eml"
    path.write_bytes(bytes(message))
    return path
