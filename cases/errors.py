"""Domain errors; the API maps each to a 4xx with a clear message."""
from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule

    def to_dict(self) -> dict:
        detail: dict = {"code": self.code, "msg": self.message}
        if self.field:
            detail["loc"] = ["body", *self.field.split(".")]
        if self.rule:
            detail["rule"] = self.rule
        return detail


class Invalid(DomainError):
    status_code = 422
    code = "invalid"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class DecisionConflict(Conflict):
    """Another decision on the same task won the race: `decision` says which (action, by, at),
    so the loser can be told what now stands instead of a bare refusal."""

    code = "decision_conflict"

    def __init__(self, message: str, *, decision: dict):
        super().__init__(message)
        self.decision = decision

    def to_dict(self) -> dict:
        return {**super().to_dict(), "decision": self.decision}
