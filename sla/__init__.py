"""Pure SLA rules: working calendar, clocks and policies, escalation ladder, attribution.

No database, no Prefect, no HTTP, no clock reading: callers pass every instant.
"""

from sla.attribution import Holding, ownership, responsible_holder
from sla.calendar import CalendarNotCovered, WorkingCalendar, WorkingHours
from sla.ladder import FractionRung, LadderPolicy, Level, OverdueRung, Step, build_ladder
from sla.policy import (
    Channel,
    Clock,
    SlaPolicy,
    auto_issue_at,
    auto_issue_by,
    compute_due,
    fraction_elapsed,
    pause,
    remaining,
    resume,
    sla_duration,
    start_clock,
)

__all__ = [
    "CalendarNotCovered",
    "WorkingCalendar",
    "WorkingHours",
    "Channel",
    "Clock",
    "SlaPolicy",
    "auto_issue_at",
    "auto_issue_by",
    "compute_due",
    "fraction_elapsed",
    "pause",
    "remaining",
    "resume",
    "sla_duration",
    "start_clock",
    "FractionRung",
    "LadderPolicy",
    "Level",
    "OverdueRung",
    "Step",
    "build_ladder",
    "Holding",
    "ownership",
    "responsible_holder",
]
