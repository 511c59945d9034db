"""A new user's first hour, as the README tells it: the quick start's `make run` recipe in an empty
directory (the embedded default: SQLite, a Maildir, the loopback SMTP receiver), five customers
writing in five languages to the receiver, each confirming from the address on file, staff
approving from the CLI, and every customer getting their data in their own language.
"""

from __future__ import annotations

import email
import json
import mailbox
import os
import re
import shlex
import signal
import smtplib
import subprocess
import sys
import time
import urllib.request
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from tests.agent_harness import SECRET
from tests.servers.postgres import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LETTERS = {
    "en": "Please send me a copy of all the personal data you hold about me.",
    "de": "Bitte senden Sie mir eine Kopie aller personenbezogenen Daten, die Sie über mich "
    "gespeichert haben.",
    "fr": "Merci de m'envoyer une copie de toutes les données personnelles que vous détenez "
    "sur moi.",
    "es": "Por favor, envíenme una copia de todos los datos personales que tienen sobre mí.",
    "nl": "Stuur mij alstublieft een kopie van alle persoonsgegevens die u over mij bewaart.",
}


def _make_run_recipe() -> list[list[str]]:
    """The commands of the Makefile's `run` target, with $(BIN) as this venv's bin directory."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = lines.index(next(x for x in lines if x.startswith("run:")))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(shlex.split(line.strip().replace("$(BIN)", str(BIN))))
    return recipe


def _send(port: int, msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(msg)


def _outbox(cwd: Path) -> list[email.message.Message]:
    box = cwd / "var" / "outbox"
    if not (box / "new").is_dir():
        return []
    return [email.message_from_bytes(m.as_bytes()) for m in mailbox.Maildir(box, create=False)]


def _mail_to(cwd: Path, address: str, template: str) -> email.message.Message | None:
    found = [m for m in _outbox(cwd) if address in str(m["To"]) and m["X-DSR-Template"] == template]
    return found[0] if found else None


def _wait(cond: object, limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {limit} s")


def test_quick_start_five_languages_approved_from_the_cli(tmp_path: Path) -> None:
    http, receiver = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}
    env |= {
        "DSR_SECRET_KEY": SECRET,
        "DSR_HTTP_PORT": str(http),
        "DSR_SMTP_RECEIVER_PORT": str(receiver),
    }
    customers = tmp_path / "customers.jsonl"
    people = {lang: f"kunde.{lang}@example.org" for lang in LETTERS}
    customers.write_text(
        "".join(
            json.dumps(
                {
                    "username": f"user_{lang}",
                    "email": address,
                    "name": f"Person {lang.upper()}",
                    "company": "",
                    "phone": "+49 30 1234567",
                    "street": "Hauptstr. 1",
                    "postal_code": "10115",
                    "city": "Berlin",
                    "country": "DE",
                    "newsletter": False,
                }
            )
            + "\n"
            for lang, address in people.items()
        )
    )
    *setup, run = _make_run_recipe()
    assert run == [str(BIN / "dsr"), "run"], run
    for command in setup:
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, (command, done.stderr)
    imported = subprocess.run(
        [str(BIN / "dsr"), "store", "import", str(customers)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
    with (tmp_path / "run.log").open("wb") as log:
        desk = subprocess.Popen(run, cwd=tmp_path, env=env, stdout=log, stderr=log)
    try:
        _wait(lambda: _healthy(http), 60, "dsr run serving /healthz")
        for lang, text in LETTERS.items():
            msg = EmailMessage()
            msg["From"], msg["To"] = people[lang], "privacy@example.com"
            msg["Subject"], msg["Message-ID"] = "GDPR", make_msgid(domain="example.org")
            msg.set_content(text)
            _send(receiver, msg)
        for lang, address in people.items():
            _wait(lambda a=address: _mail_to(tmp_path, a, "challenge"), 60, f"challenge {lang}")
            challenge = _mail_to(tmp_path, address, "challenge")
            assert challenge is not None and challenge["Content-Language"] == lang
            code = re.search(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}\b", _text(challenge))
            reply = EmailMessage()
            reply["From"], reply["To"] = address, "privacy@example.com"
            reply["Subject"] = "Re: " + " ".join(str(challenge["Subject"]).split())
            reply["Message-ID"] = make_msgid(domain="example.org")
            reply["In-Reply-To"] = reply["References"] = str(challenge["Message-ID"])
            reply.set_content(f"Yes, that was me. {code.group(0) if code else ''}")
            _send(receiver, reply)

        def awaiting() -> list[str]:
            listed = subprocess.run(
                [str(BIN / "dsr"), "cases", "list", "--json"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
            )
            rows = [json.loads(line) for line in listed.stdout.splitlines() if line]
            return [r["ref"] for r in rows if r["state"] == "awaiting_approval"]

        _wait(lambda: len(awaiting()) == len(LETTERS), 90, "five cases awaiting approval")
        for ref in awaiting():
            approved = subprocess.run(
                [str(BIN / "dsr"), "cases", "approve", ref, "--actor", "anna"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
            )
            assert approved.returncode == 0, approved.stdout + approved.stderr
        for lang, address in people.items():
            _wait(lambda a=address: _mail_to(tmp_path, a, "access_package"), 90, f"data for {lang}")
            package = _mail_to(tmp_path, address, "access_package")
            assert package is not None and package["Content-Language"] == lang, lang
            names = {p.get_filename() for p in package.walk() if p.get_filename()}
            assert any(n and n.endswith(".json") for n in names), names
    finally:
        desk.send_signal(signal.SIGTERM)
        code = desk.wait(timeout=30)
    assert code == 0, (tmp_path / "run.log").read_text()[-3000:]


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _text(msg: email.message.Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8", "replace")
    return ""
