"""Check and store the files of a supplement answer; read them back for staff and applicant.

The type is read from the content (magic bytes), never from the client's header or the
file name: a file that is not a PDF, JPEG or PNG is refused whatever it calls itself."""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from cases.attachments.models import Attachment
from cases.errors import Invalid

MAX_BYTES = 5 * 1024 * 1024  # per file
MAX_FILES = 5  # per answer
MAGIC = (  # (prefix, content type, what to call it)
    (b"%PDF-", "application/pdf", "PDF"),
    (b"\xff\xd8\xff", "image/jpeg", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "PNG"),
)
ALLOWED = "PDF, JPEG or PNG"


@dataclass
class Upload:
    """One file as the face received it: the form field it came in, the item it answers."""

    field: str
    item: str
    filename: str
    data: bytes


def sniff(data: bytes) -> str | None:
    for prefix, content_type, _ in MAGIC:
        if data.startswith(prefix):
            return content_type
    return None


def clean_filename(name: str) -> str:
    """The last path part, printable, at most 100 characters (shown and sent back in
    Content-Disposition, never used as a path)."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in unicodedata.normalize("NFC", base) if ch.isprintable() and ch not in '"<>')
    return (base.strip() or "file")[:100]


def check(uploads: list[Upload]) -> None:
    """Limits and types; the error names the form field and the reason."""
    if len(uploads) > MAX_FILES:
        raise Invalid(f"at most {MAX_FILES} files per answer ({len(uploads)} sent)", field=uploads[MAX_FILES].field)
    for u in uploads:
        if not u.data:
            raise Invalid(f"{clean_filename(u.filename)} is empty", field=u.field)
        if len(u.data) > MAX_BYTES:
            raise Invalid(f"{clean_filename(u.filename)} is {len(u.data) / 1048576:.1f} MB; at most {MAX_BYTES // 1048576} MB per file", field=u.field)
        if sniff(u.data) is None:
            raise Invalid(f"{clean_filename(u.filename)} is not a {ALLOWED} file (read from its content)", field=u.field)


def store(*, session: Session, application_id: str, uploads: list[Upload], at: datetime) -> list[Attachment]:
    check(uploads)
    rows = [
        Attachment(application_id=application_id, item=u.item[:200], filename=clean_filename(u.filename), content_type=sniff(u.data) or "", size=len(u.data), sha256=hashlib.sha256(u.data).hexdigest(), data=u.data, uploaded_at=at)
        for u in uploads
    ]
    session.add_all(rows)
    session.flush()
    return rows


def of_case(session: Session, application_id: str) -> list[Attachment]:
    return list(session.exec(select(Attachment).where(Attachment.application_id == application_id).order_by(Attachment.uploaded_at, Attachment.id)))


def get(session: Session, application_id: str, attachment_id: str) -> Attachment | None:
    return session.exec(select(Attachment).where(Attachment.id == attachment_id, Attachment.application_id == application_id)).first()
