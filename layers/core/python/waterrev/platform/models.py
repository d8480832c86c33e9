"""IF-UP-* request models."""

from __future__ import annotations

from pydantic import Field

from waterrev.fields import Model


class LoginRequest(Model):
    username: str = Field(min_length=1, max_length=30)
    password: str = Field(min_length=1, max_length=128)


class RefreshRequest(Model):
    refresh_token: str = Field(min_length=16, max_length=128)


class PermissionCheckRequest(Model):
    permissions: list[str] = Field(default_factory=list, max_length=100)
    dept_id: int | None = Field(default=None, gt=0, description="数据权限：目标营业所")
    cust_id: int | None = Field(default=None, gt=0, description="数据权限：目标客户（按其营业所判断）")
