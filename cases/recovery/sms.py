"""Text messages to applicants' phones. `SmsSender` is the interface (`send(phone, text)`); no
SMS gateway exists in this project, so the only implementation is the development one, which
writes each message to the log (`healthpass.sms`) and appends it as one JSON line to
`<data dir>/sms/outbox.jsonl`, where `make run` users (and the tests) read the code.

Which one is used: `HEALTHPASS_SMS_BACKEND` (default and only value so far: `log`). A gateway
adds a class here and a value there.

Read the last message in development: `python -m cases.recovery.sms` (or `--phone 138…`,
`--all`), or `tail -1 var/sms/outbox.jsonl`."""
from __future__ import annotations

import argparse
import json
import logging
import os
import threading
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol

from pydantic_settings import BaseSettings, SettingsConfigDict

from cases.settings import get_settings

log = logging.getLogger("healthpass.sms")


class SmsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEALTHPASS_", extra="ignore")

    sms_backend: Literal["log"] = "log"


class SmsSender(Protocol):
    def send(self, phone: str, text: str) -> None: ...


class LogSms:
    """Development SMS: the message goes to the log and to a JSON-lines outbox file (0600: it
    holds live one-time codes), never to a phone."""

    _lock = threading.Lock()

    def __init__(self, outbox: Path):
        self.outbox = outbox

    def send(self, phone: str, text: str) -> None:
        log.info("SMS to %s: %s", phone, text)
        line = json.dumps({"at": datetime.now(timezone.utc).isoformat(), "phone": phone, "text": text}, ensure_ascii=False)
        self.outbox.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock:
            fd = os.open(self.outbox, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as f:
                f.write(line + "\n")


def outbox_path() -> Path:
    return get_settings().data_dir / "sms" / "outbox.jsonl"


@lru_cache
def _backend() -> str:
    return SmsSettings().sms_backend


def get_sender() -> SmsSender:
    """The configured sender (read per call: the data dir may change between tests)."""
    backend = _backend()
    if backend == "log":
        return LogSms(outbox_path())
    raise ValueError(f"HEALTHPASS_SMS_BACKEND={backend!r} is not known; use 'log'")


def sent_messages(phone: str | None = None) -> list[dict]:
    """The development outbox, oldest first (only for the log backend)."""
    path = outbox_path()
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if phone is None or r["phone"] == phone]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cases.recovery.sms", description="Show the last text message(s) of the development SMS outbox.")
    parser.add_argument("--phone", help="only messages to this phone (11 digits)")
    parser.add_argument("--all", action="store_true", help="every message, oldest first")
    args = parser.parse_args(argv)
    rows = sent_messages(args.phone)
    if not rows:
        print(f"no message in {outbox_path()}")
        return 1
    for row in rows if args.all else rows[-1:]:
        print(f"{row['at']}  to {row['phone']}: {row['text']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
