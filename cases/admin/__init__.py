"""Administration: accounts, the working calendar's upkeep, signing keys — and their event log."""
