"""The public directory (R20): per county, where to apply and where to complain."""
