"""Complaints from the public and the hotline (R20): intake, deadline, response."""
