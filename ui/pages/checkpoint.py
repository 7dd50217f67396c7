"""Checkpoint operators: verify a pass code or card number with the measured temperature.

A scanned QR is verified for anyone (its signature says everything, as offline with the JWKS).
A typed card number only for a signed-in checkpoint operator: the number alone proves nothing
about holding the card, and would tell anyone who knew it the colour and the masked name."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from cases.scope import may_verify_card_number
from cases.messages import message_of
from ui.i18n import _, localize
from ui.pages.common import _number
from ui.pages.session import FormDep, Page, PageDep
from ui.pages.words import COLOUR_WORDS, REASON_WORDS

router = APIRouter(include_in_schema=False)


def _render_checkpoint(p: Page, *, values: dict[str, str] | None = None, errors: dict[str, str] | None = None, decision=None, status: int = 200) -> HTMLResponse:
    return p.render("checkpoint.html", status=status, v=values or {"mode": "qr"}, errors=errors or {}, d=decision, reason_words=REASON_WORDS, colour_words=COLOUR_WORDS, fever=p.settings.fever_threshold, may_type_number=_may_type_number(p))


def _may_type_number(p: Page) -> bool:
    return may_verify_card_number(p.user)


@router.get("/checkpoint", response_class=HTMLResponse)
def checkpoint_form(p: PageDep) -> HTMLResponse:
    return _render_checkpoint(p)


@router.post("/checkpoint", response_class=HTMLResponse)
def checkpoint_verify(p: PageDep, form: FormDep) -> HTMLResponse:
    from cases.services import checkpoint

    p.check_csrf(form)
    values = {k: str(form.get(k) or "").strip() for k in ("qr", "card_number", "temperature")}
    errors: dict[str, str] = {}
    if bool(values["qr"]) == bool(values["card_number"]):
        errors["code"] = _("Give either the scanned QR text or the card number, not both.")
    if len(values["qr"]) > 4096 or len(values["card_number"]) > 64:
        errors["code"] = _("Too long to be a pass code.")
    if values["card_number"] and not _may_type_number(p):
        # Refused before the number is even checked: the answer says nothing about the card.
        errors["code"] = _("Only a signed-in checkpoint operator may verify a card number; scan the QR instead.")
        return _render_checkpoint(p, values={"qr": values["qr"], "temperature": values["temperature"]}, errors=errors, status=401 if p.user is None else 403)
    if values["card_number"] and "code" not in errors:
        from cases.codes import InvalidCardNumber, check_card_number

        try:
            # Full-width input (a Chinese input method) is folded to ASCII; a typing mistake is
            # caught by the check character and answered "check the number", not "unknown card".
            values["card_number"] = check_card_number(values["card_number"])
        except InvalidCardNumber as exc:
            reason = localize(message_of(exc))
            errors["code"] = _("{message}.").format(message=reason[:1].upper() + reason[1:])
    temperature = _number(values["temperature"])
    if not isinstance(temperature, float) or not 30.0 <= temperature <= 45.0:
        errors["temperature"] = _("Enter the measured temperature in °C (30–45), e.g. 36.5.")
    if errors:
        return _render_checkpoint(p, values=values, errors=errors, status=422)
    # Nothing about who passed is stored (privacy): the answer is computed and forgotten.
    decision = checkpoint.verify(session=p.session, settings=p.settings, now=p.now, temperature=temperature, qr=values["qr"] or None, card_number=values["card_number"] or None)
    return _render_checkpoint(p, values={"temperature": values["temperature"]}, decision=decision)
