"""Prefect workers of healthpass. The `healthpass` worker type is registered with Prefect by the
`prefect.collections` entry point (pyproject.toml), so `prefect worker start --pool healthpass
--type healthpass` runs it. Importing this package stays light: Prefect's server and CLI import
it to discover the worker type."""
from workers.inprocess import HealthpassWorker

__all__ = ["HealthpassWorker"]
