"""Personal data: masked by default, unmasked reads logged (who, when, why), retention."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from cases.codes.claims import mask_name
from cases.errors import Invalid
from cases.events import record_event
from cases.models import Applicant, Application, CaseStatus, Declaration
from cases.services.applications import latest_declaration
from cases.validation import mask_id

PII_FIELDS = ("name", "id_number", "phone", "address")


def read_personal_data(*, session: Session, application: Application, user_id: str, reason: str, at: datetime) -> dict:
    """The unmasked contact data an issuer needs to verify (R19); every read is an event."""
    if len((reason or "").strip()) < 10:
        raise Invalid("say why you need the unmasked data (at least 10 characters)", field="reason")
    content = latest_declaration(session, application.id).content
    if content.get("purged"):
        raise Invalid("this case's personal data was purged under the retention policy", field="case_id")
    record_event(session, application_id=application.id, actor=user_id, action="personal_data_read", at=at, reason=reason, data={"fields": list(PII_FIELDS)})
    return {k: content.get(k) for k in PII_FIELDS}


def purge_closed(*, session: Session, now: datetime, older_than: timedelta) -> int:
    """Pseudonymise closed cases decided before `now - older_than`: the declaration keeps what
    statistics need (kind, channel, community, dates) and its original hash as proof; names,
    numbers, phones and addresses go. Responsibility records and events are kept."""
    cutoff = now - older_than
    cases = session.exec(
        select(Application).where(Application.status == CaseStatus.completed, Application.decided_at != None, Application.decided_at < cutoff)  # noqa: E711
    ).all()
    purged = 0
    for application in cases:
        declarations = session.exec(select(Declaration).where(Declaration.application_id == application.id)).all()
        if all(d.content.get("purged") for d in declarations):
            continue
        for d in declarations:
            c = d.content
            d.content = {
                "purged": True,
                "purged_at": now.isoformat(),
                "kind": c.get("kind"),
                "channel": c.get("channel"),
                "community_code": c.get("community_code"),
                "unit_code": c.get("unit_code"),
                "arrival_date": c.get("arrival_date"),
                "id_masked": mask_id(c["id_number"]) if c.get("id_number") else None,
            }
            session.add(d)
        applicant = session.get(Applicant, application.applicant_id)
        applicant.name = mask_name(applicant.name) if applicant.name and "*" not in applicant.name else applicant.name
        session.add(applicant)
        record_event(session, application_id=application.id, actor="system", action="personal_data_purged", at=now, reason=f"retention: closed before {cutoff.date().isoformat()}")
        purged += 1
    return purged
