"""IF-UP-001 / IF-UP-002 edge models: login, refresh, the user context."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from waterrev.fields import Model, Reply
from waterrev.platform.models.tokens import TokenReply

# ---- requests ------------------------------------------------------------------------------------


class LoginRequest(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{"username": "admin", "password": "admin123"}]})

    username: str = Field(min_length=1, max_length=30, description="登录账号 (system_users.username)")
    password: str = Field(min_length=1, max_length=128, description="登录密码")


class RefreshRequest(Model):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"refreshToken": "4f8a1c0e9b7d4e2a8c6f1b3d5e7a9c0b"}]}
    )

    refresh_token: str = Field(min_length=16, max_length=128, description="登录时签发的刷新令牌")


class UserInfo(Reply):
    id: int = Field(description="用户 ID (system_users.id)")
    username: str = Field(description="登录账号")
    nickname: str = Field(description="用户昵称")
    dept_id: int | None = Field(description="所属营业所 ID")


class DeptInfo(Reply):
    id: int | None = Field(description="营业所 ID (system_dept.id)")
    name: str | None = Field(description="营业所名称")


class RoleInfo(Reply):
    code: str = Field(description="角色编码")
    name: str = Field(description="角色名称")
    data_scope: Literal["ALL", "DEPT_AND_CHILD", "DEPT_ONLY", "DEPT_CUSTOM", "SELF"] = Field(
        description="数据权限范围"
    )


class MenuInfo(Reply):
    id: int = Field(description="菜单 ID")
    name: str = Field(description="菜单名称")
    permission: str = Field(description="权限标识")
    type: int = Field(description="菜单类型：1 目录，2 菜单（按钮不在此列出）")
    parent_id: int = Field(description="上级菜单 ID，0 为顶级")
    path: str | None = Field(description="路由地址")


class PermissionInfoReply(Reply):
    """IF-UP-002: the current user's context."""

    user: UserInfo = Field(description="当前用户")
    dept: DeptInfo = Field(description="所属营业所")
    roles: list[str] = Field(description="角色编码列表")
    role_list: list[RoleInfo] = Field(description="角色及其数据权限范围")
    permissions: list[str] = Field(description="拥有的菜单/按钮权限标识")
    data_scope_dept_ids: list[int] | None = Field(description="可见营业所 ID；null 表示全部营业所")
    menus: list[MenuInfo] = Field(description="可见菜单（目录与菜单）")


class LoginReply(TokenReply):
    """IF-UP-001 login: the token pair and the user context (seed: 签发访问令牌并输出用户上下文)."""

    user_context: PermissionInfoReply = Field(
        description="用户上下文：与 IF-UP-002 get-permission-info 对新令牌的应答相同"
    )
