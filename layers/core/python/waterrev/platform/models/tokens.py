"""The token pair IF-UP-001 and a customer channel login answer."""

from __future__ import annotations

from pydantic import Field

from waterrev.fields import DateTime, Reply

# ---- replies -------------------------------------------------------------------------------------


class TokenReply(Reply):
    """IF-UP-001: the token pair (also what a customer channel login answers)."""

    user_id: int = Field(description="用户 ID（后台用户或渠道用户）")
    access_token: str = Field(description="访问令牌，请求头 Authorization: Bearer <accessToken>")
    refresh_token: str = Field(description="刷新令牌，用于 refresh-token 换取新令牌")
    expires_time: DateTime = Field(description="访问令牌过期时间")
