"""The words the pages show for statuses, colours, reasons and actions, from the catalogue.

Each `Word` is a msgid in a context (the table: "status", "action", ...; the same English can
mean two things, "Approved" is 已批准 as a status and 审核通过 as an action). Shown with `{{ w }}`
(or `word(TABLE, key)` in Python) it is in the request's language. It is also still the
(English, 中文[, English note, 中文 note]) tuple the templates index (`w[0]`, `w[1]`), the
Chinese read from the catalogue, so templates written for side-by-side labels keep working.
"""
from __future__ import annotations

from typing import Any

from ui.i18n import EN, N_, current_language, gettext, pgettext, zh_of


class Word(tuple):
    context: str
    msgids: tuple[str, ...]
    given: tuple[str, ...]  # the Chinese written beside the English in an older (English, 中文) tuple

    def __new__(cls, context: str, name: str, note: str | None = None, *, given: tuple[str, ...] = ()) -> Word:
        msgids = (name,) if note is None else (name, note)
        zh = [zh_of(name, context) if i == 0 else zh_of(m) for i, m in enumerate(msgids)]
        # A word the catalogue does not know yet keeps the Chinese it came with.
        zh = [z if z != m or i >= len(given) else given[i] for i, (m, z) in enumerate(zip(msgids, zh))]
        self = super().__new__(cls, [x for pair in zip(msgids, zh) for x in pair])
        self.context, self.msgids, self.given = context, msgids, tuple(zh)
        return self

    @classmethod
    def of_pair(cls, context: str, pair: tuple[str, ...]) -> Word:
        """An older (English, 中文[, English note, 中文 note]) tuple as a Word."""
        return cls(context, pair[0], pair[2] if len(pair) > 3 else None, given=tuple(pair[1::2]))

    def _say(self, i: int, translated: str) -> str:
        if translated == self.msgids[i] and current_language() != EN:
            return self.given[i]
        return translated

    def __str__(self) -> str:
        return self._say(0, pgettext(self.context, self.msgids[0]))

    def __html__(self) -> str:
        from markupsafe import escape

        return str(escape(str(self)))

    @property
    def note(self) -> str:
        """The colour's explanation, in the request's language."""
        return self._say(1, gettext(self.msgids[1])) if len(self.msgids) > 1 else ""


def word(table: dict[str, Any], key: Any) -> str:
    """The word of `key` (an enum or its value) in the request's language; the key itself when unknown."""
    value = str(getattr(key, "value", key))
    entry = table.get(value)
    return str(entry) if entry is not None else value

STATUS_WORDS = {
    "submitted": Word("status", "Submitted"),
    "declared": Word("status", "Declared"),
    "compared": Word("status", "Compared"),
    "observing": Word("status", "In isolation observation"),
    "awaiting_audit": Word("status", "Awaiting community/unit audit"),
    "awaiting_applicant": Word("status", "Waiting for you to supply items"),
    "approved": Word("status", "Approved"),
    "rejected": Word("status", "Rejected"),
    "auto_issued": Word("status", "Issued automatically after the deadline (R12)"),
    "completed": Word("status", "Completed"),
}
COLOUR_WORDS = {
    "green": Word("colour", "Green", N_("Valid for passage across the province (with normal temperature).")),
    "yellow": Word("colour", "Yellow", N_("Isolation observation: report your health daily; green after 14 days. Checkpoints do not let a yellow code pass.")),
    "red": Word("colour", "Red", N_("Not eligible; your community will contact you.")),
}
REASON_WORDS = {
    "forged": Word("reason", "The signature does not verify: forged or altered code"),
    "malformed": Word("reason", "Not a readable pass code or card number"),
    "unknown_key": Word("reason", "Signed by a key this system does not trust"),
    "unknown_card": Word("reason", "No pass has this card number"),
    "expired": Word("reason", "The pass has expired (valid 14 days)"),
    "not_yet_valid": Word("reason", "The pass is not valid yet"),
    "revoked": Word("reason", "The pass was revoked"),
    "yellow": Word("reason", "Yellow code: in isolation observation"),
    "red": Word("reason", "Red code"),
    "fever": Word("reason", "Temperature at or above the fever threshold"),
}
STEPS = (
    ("declaration", *Word("step", "Declaration")),
    ("comparison", *Word("step", "Big-data comparison")),
    ("audit", *Word("step", "Community/unit audit")),
    ("pass", *Word("step", "Pass issued")),
)
STEP_OF_STATUS = {
    "submitted": 0, "declared": 1, "compared": 2, "observing": 2, "awaiting_audit": 2, "awaiting_applicant": 2,
    "approved": 3, "rejected": 3, "auto_issued": 3, "completed": 4,
}
ACTION_WORDS = {
    "submitted": Word("action", "Declaration submitted"),
    "declaration_amended": Word("action", "You amended the declaration (a new signed version, R15)"),
    "amendment_compared": Word("action", "The amended declaration was compared again"),
    "declared": Word("action", "Declaration recorded"),
    "compared": Word("action", "Big-data comparison done"),
    "audit_assigned": Word("action", "Sent to the community/unit for audit"),
    "awaiting_audit": Word("action", "Awaiting audit"),
    "sla_started": Word("action", "Deadline clock started"),
    "sla_paused": Word("action", "Deadline clock paused"),
    "sla_resumed": Word("action", "Deadline clock resumed"),
    "claimed": Word("action", "An issuer took the case"),
    "contact_attempt": Word("action", "The issuer contacted you to verify"),
    "supplement_requested": Word("action", "Items requested from you"),
    "supplement_supplied": Word("action", "Items supplied"),
    "decision_approve": Word("action", "Approved"),
    "decision_reject": Word("action", "Rejected"),
    "decision_auto_issue": Word("action", "No opinion in time: issued automatically (R12)"),
    "auto_issue_scheduled": Word("action", "Automatic issue scheduled (R12)"),
    "auto_issue_withheld": Word("action", "Automatic issue withheld: escalated"),
    "pass_issued": Word("action", "Pass issued"),
    "pass_revoked": Word("action", "Pass revoked"),
    "pass_superseded": Word("action", "Your earlier pass was replaced by this one (one valid pass per person)"),
    "observation_started": Word("action", "Isolation observation started"),
    "daily_report": Word("action", "Daily health report"),
    "observation_reminder": Word("action", "Reminder: a daily report is missing"),
    "observation_day_missed": Word("action", "A day without a report went to your community"),
    "observation_missed_escalated": Word("action", "Consecutive missed days reported to the community head"),
    "observation_abnormal_resolved": Word("action", "Your community recorded the outcome of an abnormal report"),
    "observation_abnormal_referred": Word("action", "Your community referred you to a fever clinic; observation held"),
    "observation_cleared": Word("action", "Observation ended with every day reported: green code (R9)"),
    "observation_needs_audit": Word("action", "Observation ended; your community audits the case"),
    "completed": Word("action", "Case completed"),
    "reassigned": Word("action", "The case was handed to another issuer (the deadline is unchanged)"),
    "nudged": Word("action", "A supervisor reminded the issuer"),
    "notification_acknowledged": Word("action", "A supervisor acknowledged a notice about the case"),
}
CHANNEL_WORDS = {
    "wechat": Word("channel", "Healthy Shandong Service Number (WeChat)"),
    "app": Word("channel", "Love Shandong app"),
    "counter": Word("channel", "Community counter"),
    "unit": Word("channel", "Submitted by the employer"),
}
ID_TYPES = {
    "resident_id": Word("id_type", "Resident ID card"),
    "passport": Word("id_type", "Passport"),
    "hmt_permit": Word("id_type", "HK/Macao/Taiwan permit"),
}
SYMPTOM_WORDS = {
    "fever": Word("symptom", "Fever"),
    "cough": Word("symptom", "Cough"),
    "sore_throat": Word("symptom", "Sore throat"),
    "fatigue": Word("symptom", "Fatigue"),
    "shortness_of_breath": Word("symptom", "Shortness of breath"),
    "diarrhea": Word("symptom", "Diarrhoea"),
    "loss_of_taste_or_smell": Word("symptom", "Loss of taste or smell"),
}
CONTACT_METHODS = {"phone": Word("contact", "Phone call"), "visit": Word("contact", "Home visit"), "unit": Word("contact", "Through the employer")}
OUTCOME_WORDS = {
    "clear": Word("outcome", "Clear"),
    "mismatch": Word("outcome", "Mismatch with records (R15)"),
    "declared_ill": Word("outcome", "Declared fever or symptoms"),
    "risk_area": Word("outcome", "Stay in a risk area"),
    "close_contact": Word("outcome", "Close contact"),
    "confirmed": Word("outcome", "Confirmed / suspected"),
    "incomplete": Word("outcome", "Incomplete (a source was unavailable)"),
}
DAY_WORDS = {
    "reported": Word("day", "Reported"),
    "late": Word("day", "Reported late"),
    "missing": Word("day", "Missing"),
    "abnormal": Word("day", "Abnormal"),
    "upcoming": Word("day", "Upcoming"),
    "not_due": Word("day", "Before the declaration: no report needed"),
}
SLA_WORDS = {
    "green": Word("sla", "On time"),
    "amber": Word("sla", "Less than 2 working hours left"),
    "red": Word("sla", "Overdue"),
    "grey": Word("sla", "No clock"),
}


# Words added elsewhere as plain (English, 中文) tuples become Words too: every table shows its words
# in the request's language, whether or not they are in the catalogue yet.
for _context, _table in (
    ("status", STATUS_WORDS), ("colour", COLOUR_WORDS), ("reason", REASON_WORDS), ("action", ACTION_WORDS), ("channel", CHANNEL_WORDS),
    ("id_type", ID_TYPES), ("symptom", SYMPTOM_WORDS), ("contact", CONTACT_METHODS), ("outcome", OUTCOME_WORDS), ("day", DAY_WORDS), ("sla", SLA_WORDS),
):
    for _key, _value in list(_table.items()):
        if isinstance(_value, tuple) and not isinstance(_value, Word):
            _table[_key] = Word.of_pair(_context, _value)
