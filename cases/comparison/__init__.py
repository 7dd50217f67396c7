"""Big-data comparison (step 2 of R14), pure logic.

* ``base``       -- the ``ComparisonSource`` protocol, ``Record``, ``SourceUnavailable``,
                    and ``InMemorySource`` (a reference implementation).
* ``engine``     -- ``compare()`` -> ``ComparisonResult`` (outcome, hits, source status).
* ``rules``      -- colour rules as versioned data (``RULESETS``, ``ruleset_for``, ``decide``).
* ``csv_import`` -- ``parse_source_csv()`` for the five source feeds; raw ID numbers and
                    phones become keyed hashes on import.
"""

from cases.comparison.base import (
    RECORD_KINDS,
    ComparisonSource,
    InMemorySource,
    Record,
    SourceUnavailable,
)
from cases.comparison.engine import (
    OUTCOMES,
    ComparisonResult,
    DeclarationFacts,
    DeclaredStay,
    Hit,
    SourceStatus,
    compare,
)
from cases.comparison.rules import RULESETS, Decision, Ruleset, decide, ruleset_for

__all__ = [
    "RECORD_KINDS",
    "ComparisonSource",
    "InMemorySource",
    "Record",
    "SourceUnavailable",
    "OUTCOMES",
    "ComparisonResult",
    "DeclarationFacts",
    "DeclaredStay",
    "Hit",
    "SourceStatus",
    "compare",
    "RULESETS",
    "Decision",
    "Ruleset",
    "decide",
    "ruleset_for",
]
