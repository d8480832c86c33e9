"""Who is calling and for which request: passed explicitly into every service."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class UserType(StrEnum):
    ADMIN = "ADMIN"  # back-office user (system_users)
    MEMBER = "MEMBER"  # customer-channel user (biz_channel_user)
    SYSTEM = "SYSTEM"  # schedules, workflows, webhooks


class DataScope(StrEnum):
    ALL = "ALL"
    DEPT_AND_CHILD = "DEPT_AND_CHILD"
    DEPT_ONLY = "DEPT_ONLY"
    DEPT_CUSTOM = "DEPT_CUSTOM"
    SELF = "SELF"


@dataclass(frozen=True)
class Principal:
    user_id: int
    user_type: UserType
    name: str
    dept_id: int | None = None
    permissions: frozenset[str] = field(default_factory=frozenset)
    # Depts whose rows this user may see; None means every dept (data scope ALL).
    dept_ids: frozenset[int] | None = frozenset()
    # Customer channel: the channel identity behind a MEMBER token.
    channel_type: str | None = None
    channel_user_id: str | None = None
    token_id: int | None = None

    def has(self, permission: str) -> bool:
        return "*:*:*" in self.permissions or permission in self.permissions

    def sees_dept(self, dept_id: int | None) -> bool:
        return self.dept_ids is None or (dept_id is not None and dept_id in self.dept_ids)


SYSTEM = Principal(user_id=0, user_type=UserType.SYSTEM, name="system", dept_ids=None)


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    principal: Principal
    source_ip: str | None = None
    user_agent: str | None = None
