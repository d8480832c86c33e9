"""Typed settings read from the environment (WATERREV_*), built once per execution environment."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field


class Settings(BaseModel):
    env: str = "local"  # local | test | dev | prod
    database_url: str | None = None  # full SQLAlchemy URL (local, tests)
    db_secret_arn: str | None = None  # cloud: Secrets Manager secret with username/password
    db_host: str | None = None  # cloud: RDS Proxy endpoint
    db_name: str = "waterrev"
    db_pool_size: int = 1  # one connection per Lambda execution environment
    display_time_zone: str = "Asia/Shanghai"  # times in replies; stored as timestamptz
    access_token_ttl_s: int = Field(default=1800, gt=0)
    refresh_token_ttl_s: int = Field(default=7 * 24 * 3600, gt=0)
    login_max_failures: int = Field(default=5, gt=0)
    login_lock_s: int = Field(default=900, gt=0)
    verify_code_ttl_s: int = Field(default=300, gt=0)
    verify_code_max_attempts: int = Field(default=5, gt=0)
    # Shared secret the channel front ends (WeChat/Alipay mini-program back ends) sign channel
    # logins with. Never in code: from the environment locally, from Secrets Manager in the cloud.
    channel_login_secret: str | None = None
    channel_login_secret_arn: str | None = None
    channel_login_window_s: int = 300
    # Webhook keys of outside platforms: JSON {"IOT": {"key-1": "secret"}}; from Secrets Manager in
    # the cloud (injected at deploy), from the environment locally.
    webhook_keys: str | None = None
    # The bill-run state machine (cloud); unset locally, where moto's interpreter runs the workflow.
    bill_run_state_machine_arn: str | None = None


_PREFIX = "WATERREV_"


def _from_env() -> Settings:
    values = {
        name: os.environ[_PREFIX + name.upper()]
        for name in Settings.model_fields
        if _PREFIX + name.upper() in os.environ
    }
    return Settings.model_validate(values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return _from_env()


def reset_settings() -> None:
    """Forget cached settings (tests and the local runner change the environment)."""
    get_settings.cache_clear()
