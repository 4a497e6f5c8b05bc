"""The service's configuration: one class, read from the environment once at start-up."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ENV_PREFIX = "CHAINSIGHT_"


class Settings(BaseModel):
    """Everything the service can be told; each field is ``CHAINSIGHT_<NAME>`` in the
    environment (``database_url`` is the store's own ``CHAINSIGHT_DATABASE_URL``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clock_start: dt.datetime | None = Field(
        default=None,
        description="start the record's clock at this instant (UTC if no zone) and let it run "
                    "from there: a demonstration on a trial planned in the future")
    database_url: str | None = Field(
        default=None, description="the store; None: the store's default (see store.session)")
    forecast_max_runs: int = Field(default=2000, ge=1,
                                   description="upper bound of ?runs= on the forecast")
    forecast_default_runs: int = Field(default=500, ge=1)
    radar_forecast_runs: int = Field(
        default=200, ge=1, description="runs of the forecast the risk radar reads")
    plan_time_limit_seconds: float = Field(default=10.0, gt=0)
    list_max_limit: int = Field(default=1000, ge=1)
    stream_poll_seconds: float = Field(
        default=1.0, gt=0, description="how often a stream looks for new rows when not woken")
    stream_max_seconds: float = Field(
        default=300.0, gt=0, description="a stream closes after this long; clients reconnect")
    stream_keepalive_seconds: float = Field(default=15.0, gt=0)
    webhooks_enabled: bool = True
    webhook_poll_seconds: float = Field(default=0.5, gt=0)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_backoff_base_seconds: float = Field(
        default=2.0, gt=0, description="first retry after this, doubling after each failure")
    webhook_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_allow_hosts: tuple[str, ...] = Field(
        default=(), description="if set, webhook URLs must point at one of these hosts")
    session_cookie_name: str = "chainsight_session"
    session_hours: float = Field(default=12.0, gt=0)
    cookie_secure: bool = False
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    def record_clock(self) -> Callable[[], dt.datetime] | None:
        """The record's clock when ``clock_start`` is set: real time, shifted so that it
        reads ``clock_start`` now; None means the system clock."""
        if self.clock_start is None:
            return None
        start = self.clock_start
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
        offset = start - dt.datetime.now(dt.UTC)
        return lambda: dt.datetime.now(dt.UTC) + offset

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``CHAINSIGHT_*`` variables, then ``overrides`` on top."""
        env = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is None or raw.strip() == "":
                continue
            if field.annotation == tuple[str, ...]:
                values[name] = tuple(h.strip() for h in raw.split(",") if h.strip())
            elif field.annotation is bool:
                values[name] = raw.strip().lower() in ("1", "true", "yes", "on")
            else:
                values[name] = raw.strip()
        values.update(overrides)
        return cls.model_validate(values)
