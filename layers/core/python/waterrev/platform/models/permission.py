"""IF-UP-003 edge models: the permission check."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from waterrev.fields import Id, Model, Reply


class PermissionCheckRequest(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"permissions": ["revenue:customer:query", "revenue:customer:update"], "custId": 1}]
        }
    )

    permissions: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        default_factory=list, max_length=100, description="待校验的菜单/按钮权限标识 (system_menu.permission)"
    )
    dept_id: Id | None = Field(default=None, description="数据权限：目标营业所")
    cust_id: Id | None = Field(default=None, description="数据权限：目标客户（按其营业所判断）")


class PermissionCheckReply(Reply):
    """IF-UP-003: each permission asked for, and the data permission on a dept or a customer."""

    permissions: dict[str, bool] = Field(description="每个待校验权限标识是否拥有")
    dept_id: int | None = Field(
        default=None, description="数据权限校验的营业所（请求 deptId，或 custId 所属营业所）；未校验时不返回"
    )
    data_permitted: bool | None = Field(default=None, description="是否有该营业所的数据权限；未校验时不返回")
    all_granted: bool = Field(description="全部权限（及数据权限）均满足")
