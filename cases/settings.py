"""Settings from the environment (prefix HEALTHPASS_), pydantic-settings style."""
from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEALTHPASS_", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str | None = None  # default: SQLite file in data_dir
    host: str = "127.0.0.1"
    port: int = 8000
    prefect_api_url: str | None = None  # an already running Prefect server; else we start one
    prefect_port: int = 4200
    dispatcher_concurrency: int = 4  # flow runs a worker executes at once (SQLite Prefect server: keep small)
    dispatcher_poll_seconds: float = 0.5  # how often a worker drains the outbox when it was empty
    worker_poll_seconds: float = 1.0  # how often a worker asks the pool for runs (Prefect's default is 10 s)
    worker_heartbeat_seconds: int = 10  # a worker silent for 3 of these has its runs requeued
    # `serve` runs the Prefect server and the worker at this nice level: on shared cores the
    # API's answers come first and orchestration takes the CPU they leave (BENCHMARKS.md, POST).
    background_nice: int = 10

    pass_validity_days: int = 14  # R2
    fever_threshold: float = 37.3  # R4
    # The signed revocation list's next_update = issued_at + this: how long an offline
    # checkpoint may use a list before it must fetch a fresh one (the longest a revocation
    # can go unseen there). The list is signed on request, so fetching costs one query.
    revocation_list_minutes: int = Field(default=15, ge=1, le=24 * 60)
    working_hours: str = "08:30-12:00,13:30-17:30"  # R11
    supervisor_window_working_hours: float = 2.0  # R12
    observation_days: int = 14  # R9
    complaint_response_working_days: float = Field(default=3, gt=0, le=60)  # R20: answer a complaint within
    access_token_minutes: int = 60
    secret_key: str | None = Field(default=None, repr=False)  # token signing; generated into data_dir if unset
    demo: bool = False
    demo_history: bool = True  # `healthpass seed` plays three weeks of demo cases (cases/demo_history.py)
    retention_days: int = 180  # closed cases' personal data is pseudonymised after this
    # Per client and minute on the public endpoints; 0 switches a limit off (benchmarks).
    rate_limit_declarations: int = 30
    rate_limit_verify: int = 600
    rate_limit_complaints: int = 10
    rate_limit_recovery: int = 10  # lost-link code requests and code checks (cases/recovery)
    rate_limit_exempt: str = "127.0.0.1,::1"  # the local demo and simulator; set "" behind a proxy
    max_body_bytes: int = 1_000_000
    # R22: thresholds that notify the provincial leading group office (once per rule, area and
    # period). A limit of 0 switches its rule off. Rates need threshold_min_cases in the window.
    threshold_breach_rate_7d: float = Field(default=0.2, ge=0)  # share of the cases submitted in the last 7 days
    threshold_upheld_findings_30d: float = Field(default=3, ge=0)  # upheld audit findings in the last 30 days
    threshold_complaints_per_1000_30d: float = Field(default=10.0, ge=0)  # complaints per 1,000 cases, last 30 days
    threshold_min_cases: int = Field(default=20, ge=0)
    threshold_levels: str = "city,county"  # areas evaluated: city, county, community
    threshold_check_minutes: int = Field(default=60, ge=1)  # the SLA sweep evaluates at most this often
    # Redis, when set (redis://host:6379/0): revocations reach every API process by pub/sub and the
    # rate limits above are counted there, shared by every worker. Unset: revocations go by
    # PostgreSQL LISTEN/NOTIFY (or a stamp file beside a SQLite store) and limits per process.
    redis_url: str | None = None
    redis_prefix: str = "healthpass"  # Redis channel and keys start with this (several deployments on one Redis)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'healthpass.db').resolve()}"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def prefect_home(self) -> Path:
        return self.data_dir / "prefect"

    @property
    def effective_prefect_api_url(self) -> str:
        return self.prefect_api_url or f"http://127.0.0.1:{self.prefect_port}/api"

    def secret(self, name: str) -> bytes:
        """A secret kept in data_dir (0600), created on first use; never in the database."""
        if name == "token" and self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secrets" / f"{name}.key"
        if not path.exists():
            # Several threads or processes may ask first at once: each writes its own file, and
            # the first link to the name wins (link fails if it exists), so everyone reads the
            # one secret that stands; a replace would let a late writer swap a key already used.
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_name(f".{name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        return path.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    return Settings()
