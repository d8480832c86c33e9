"""IF-UP-001..004 edge models: requests and the replies inside the envelope.

The seed lists these interfaces (接口清单, and IF-UP-001's path) without field tables; the names follow
the conventions of the rest of the API (camelCase, times as `YYYY-MM-DD HH:MM:SS`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from waterrev.fields import DateStr, DateTime, Id, Model, Reply

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


# ---- replies -------------------------------------------------------------------------------------


class TokenReply(Reply):
    """IF-UP-001: the token pair (also what a customer channel login answers)."""

    user_id: int = Field(description="用户 ID（后台用户或渠道用户）")
    access_token: str = Field(description="访问令牌，请求头 Authorization: Bearer <accessToken>")
    refresh_token: str = Field(description="刷新令牌，用于 refresh-token 换取新令牌")
    expires_time: DateTime = Field(description="访问令牌过期时间")


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


class PermissionCheckReply(Reply):
    """IF-UP-003: each permission asked for, and the data permission on a dept or a customer."""

    permissions: dict[str, bool] = Field(description="每个待校验权限标识是否拥有")
    dept_id: int | None = Field(
        default=None, description="数据权限校验的营业所（请求 deptId，或 custId 所属营业所）；未校验时不返回"
    )
    data_permitted: bool | None = Field(default=None, description="是否有该营业所的数据权限；未校验时不返回")
    all_granted: bool = Field(description="全部权限（及数据权限）均满足")


class DictItem(Reply):
    """IF-UP-004: one dictionary entry (system_dict_data)."""

    dict_type: str = Field(description="字典类型")
    label: str = Field(description="字典标签")
    value: str = Field(description="字典键值")
    sort: int = Field(description="排序")
    color_type: str | None = Field(description="颜色类型")


class ParameterReply(Reply):
    """IF-UP-004: the parameter value in force for the caller's dept (biz_parameter_settings)."""

    config_id: int = Field(description="参数记录 ID")
    config_type: Literal["PRICE", "RULE", "PAGE", "NOTICE"] = Field(description="参数类型")
    config_code: str = Field(description="参数编码")
    config_value: str = Field(description="参数值")
    config_version: str = Field(description="参数版本")
    effect_scope: str = Field(
        pattern=r"^(GLOBAL|DEPT:\d+)$",
        description="生效范围：GLOBAL（全局）或 DEPT:<营业所 ID>（与 IF-REV-012 相同）",
    )
    effect_status: Literal["ACTIVE"] = Field(description="生效状态（只返回生效中的版本）")
    effective_date: DateStr | None = Field(description="生效日期")


class LoginReply(TokenReply):
    """IF-UP-001 login: the token pair and the user context (seed: 签发访问令牌并输出用户上下文)."""

    user_context: PermissionInfoReply = Field(
        description="用户上下文：与 IF-UP-002 get-permission-info 对新令牌的应答相同"
    )
