"""Applicants and units submit applications; applicants read their case (R6, R7, R14, R15, R17)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Form, Header, Query, Request, Response, UploadFile, status
from pydantic import BaseModel, Field

from api.deps import ApplicantToken, NowDep, OptionalUser, SessionDep, SettingsDep
from api.errors import invalid_response
from cases.declaration_schema import ApplicationCreate, MultilineText, Text
from cases.models import Role
from cases.services import applications as service
from cases.scope import scope_for
from cases.services.access import load_case_for_reader
from cases.services import privacy
from cases.services.views import CaseView, PassSummary, case_view, pass_summary  # noqa: F401 (read models live in cases/)

router = APIRouter(prefix="/api/v1/applications", tags=["applicants"])


async def submitted_json(request: Request) -> Any:
    """The exact statement the applicant submitted (R15). FastAPI has parsed the body already
    (Request caches it); reading it here, in an async dependency, lets the routes that write
    to the store be plain `def` routes, run in the threadpool instead of on the event loop."""
    try:
        return await request.json()
    except ValueError:  # no body, or not JSON: the payload's own validation names the problem
        return None


SubmittedJson = Annotated[Any, Depends(submitted_json)]


class ApplicationCreated(BaseModel):
    id: str
    reference: str
    status: str
    created: bool
    access_token: str | None
    pass_: PassSummary | None = Field(default=None, alias="pass")
    message: str

    model_config = {"populate_by_name": True}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApplicationCreated,
    summary="Declare and apply for a Shandong Health Pass Card",
    description="The case is committed before any orchestration: the answer never waits on Prefect. "
    "Arrivals get a yellow pass at once (R7). Repeating a request with the same `Idempotency-Key` "
    "returns the same case (200). Applying again while the person has an open case returns that case (200) "
    "only to a caller who shows it is theirs (the case's access token in `X-Access-Token`, or staff whose area "
    "covers it); anyone else gets 409 with a message that names no case.",
    responses={
        200: {"description": "An existing case (a replay with the same Idempotency-Key, or the caller's own open case)"},
        409: {"description": "The person already has an open case; nothing about it is revealed"},
        422: invalid_response("Invalid field, named in `detail[].loc`"),
    },
)
def submit(
    response: Response,
    payload: Annotated[ApplicationCreate, Body()],
    content: SubmittedJson,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    user: OptionalUser,
    token: ApplicantToken,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> ApplicationCreated:
    submitted_by = "applicant"
    if user is not None and user.role in (Role.unit, Role.issuer):
        submitted_by = user.id  # a unit for its employee (R17) or a counter issuer (R10)
    result = service.submit_application(
        session=session, payload=payload, content=content, settings=settings, at=now, idempotency_key=idempotency_key,
        submitted_by=submitted_by, access_token=token, reader=scope_for(session, user) if user is not None else None,
    )
    session.commit()
    app = result.application
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return ApplicationCreated(
        id=app.id,
        reference=app.reference,
        status=app.status,
        created=result.created,
        access_token=result.access_token,
        pass_=pass_summary(session, app.id),
        message="Application received." if result.created else "An application for this person is already open; this is it.",
    )


@router.get("/{case_id}", summary="The case: status, comparison, SLA, timeline and pass", response_model=CaseView, response_model_by_alias=True)
def read(
    case_id: str,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    user: OptionalUser,
    token: ApplicantToken,
) -> dict[str, Any]:
    app = load_case_for_reader(session, case_id, user=user, token=token, settings=settings)
    return case_view(session, app, settings, now)


@router.get("/{case_id}/personal-data", summary="Unmasked name, ID number, phone and address (issuers of the case, auditors); every read is logged")
def personal_data(
    case_id: str,
    reason: Annotated[str, Query(min_length=10, max_length=300, description="why you need it, e.g. 'phone the applicant to verify the address (R19)'")],
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    user: OptionalUser,
) -> dict[str, Any]:
    app = load_case_for_reader(session, case_id, user=user, token=None, settings=settings)
    if user.role not in (Role.issuer, Role.auditor):
        from cases.errors import Forbidden

        raise Forbidden("only the case's issuers and the provincial office read unmasked personal data")
    data = privacy.read_personal_data(session=session, application=app, user_id=user.id, reason=reason, at=now)
    session.commit()
    return data


class SupplementIn(BaseModel):
    items: dict[Annotated[Text, Field(max_length=200)], Annotated[MultilineText, Field(min_length=1, max_length=2000)]] = Field(max_length=50, description="each requested item by name, with what you supply")

    model_config = {"json_schema_extra": {"examples": [{"items": {"arrival ticket": "G1234 Beijing South → Jinan West, 2026-03-01 14:05"}}]}}


@router.post("/{case_id}/supplement", summary="Supply the items the issuer asked for; the SLA clock resumes")
def supplement(
    case_id: str,
    body: SupplementIn,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    token: ApplicantToken,
) -> dict[str, Any]:
    from cases.services.audit import supply

    app = load_case_for_reader(session, case_id, user=None, token=token, settings=settings)
    supply(session=session, application=app, items=body.items, at=now, settings=settings)
    session.commit()
    return {"id": app.id, "status": app.status, "due_at": app.sla_due_at}


@router.post(
    "/{case_id}/supplement/files",
    summary="Supply the requested items with files (multipart): PDF, JPEG or PNG by content, at most 5 MB each and 5 per answer; the SLA clock resumes",
    responses={422: invalid_response("A bad file, named in `detail[].loc` (file[<n>]) with the reason")},
)
def supplement_with_files(
    case_id: str,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    token: ApplicantToken,
    items: Annotated[str, Form(max_length=120000, description='the answers as a JSON object, e.g. {"arrival ticket": "G1234, see the scan"}')],
    file: Annotated[list[UploadFile], File(description="the files, in the order of `file_item`")] = [],  # noqa: B006 (FastAPI copies defaults)
    file_item: Annotated[list[str], Form(description="for each file, the requested item it answers")] = [],  # noqa: B006
) -> dict[str, Any]:
    import json

    from cases.attachments.service import MAX_BYTES, Upload
    from cases.errors import Invalid
    from cases.services.audit import supply

    app = load_case_for_reader(session, case_id, user=None, token=token, settings=settings)
    try:
        answers = SupplementIn.model_validate({"items": json.loads(items)}).items
    except (ValueError, TypeError) as exc:
        raise Invalid(f"items must be a JSON object of item -> answer ({str(exc)[:200]})", field="items") from None
    if len(file_item) != len(file):
        raise Invalid("give one file_item (the item it answers) per file", field="file_item")
    uploads = [Upload(field=f"file[{i}]", item=item, filename=f.filename or "file", data=f.file.read(MAX_BYTES + 1)) for i, (f, item) in enumerate(zip(file, file_item))]
    unknown = [u.item for u in uploads if u.item not in answers]
    if unknown:
        raise Invalid(f"file_item names an item without an answer: {unknown[0]}", field="file_item")
    supply(session=session, application=app, items=answers, at=now, settings=settings, uploads=uploads)
    session.commit()
    return {"id": app.id, "status": app.status, "due_at": app.sla_due_at, "files": len(uploads)}


@router.get(
    "/{case_id}/attachments/{attachment_id}",
    summary="A file of a supplement answer, as a download (the applicant with the case's token; staff whose area covers the case)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}}}},
)
def attachment(case_id: str, attachment_id: str, session: SessionDep, settings: SettingsDep, user: OptionalUser, token: ApplicantToken) -> Response:
    from urllib.parse import quote

    from cases.attachments import service as attachments
    from cases.errors import NotFound

    app = load_case_for_reader(session, case_id, user=user, token=token, settings=settings)
    row = attachments.get(session, app.id, attachment_id)
    if row is None:
        raise NotFound("attachment not found")
    ascii_name = row.filename.encode("ascii", "replace").decode().replace("?", "_")
    return Response(content=row.data, media_type=row.content_type, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(row.filename)}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    })


@router.put("/{case_id}/declaration", summary="Amend the declaration: a new signed version; earlier versions are kept (R15)")
def amend(
    case_id: str,
    payload: Annotated[ApplicationCreate, Body()],
    content: SubmittedJson,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    token: ApplicantToken,
) -> dict[str, Any]:
    app = load_case_for_reader(session, case_id, user=None, token=token, settings=settings)
    declaration = service.amend_declaration(session=session, application=app, payload=payload, content=content, settings=settings, at=now)
    session.commit()
    return {"id": app.id, "declaration_version": declaration.version, "content_hash": declaration.content_hash}
