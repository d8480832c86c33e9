"""Password hashing, opaque bearer tokens (stored as SHA-256), and principal loading."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache
from typing import TYPE_CHECKING

from waterrev.context import DataScope, Principal, UserType
from waterrev.db import UnitOfWork

if TYPE_CHECKING:
    from argon2 import PasswordHasher


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    # Moderate cost: a login stays under ~50 ms on a small Lambda, still far beyond brute force.
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A hash to verify against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH: list[str] = []


def dummy_verify(password: str) -> None:
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password(secrets.token_hex(8)))
    verify_password(_DUMMY_HASH[0], password)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hmac_sha256(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def load_principal(uow: UnitOfWork, token: str) -> Principal | None:
    """The principal behind a live access token, or None if unknown, revoked or expired."""
    row = uow.one(
        "SELECT id, user_id, user_type FROM system_oauth2_access_token"
        " WHERE access_token = :h AND NOT revoked AND expires_time > now()",
        {"h": token_hash(token)},
    )
    if row is None:
        return None
    if row["user_type"] == UserType.MEMBER:
        member = uow.one(
            "SELECT id, channel_type, channel_user_id FROM biz_channel_user WHERE id = :id",
            {"id": row["user_id"]},
        )
        if member is None:
            return None
        return Principal(
            user_id=member["id"],
            user_type=UserType.MEMBER,
            name=f"{member['channel_type']}:{member['channel_user_id']}",
            channel_type=member["channel_type"],
            channel_user_id=member["channel_user_id"],
            dept_ids=frozenset(),
            token_id=row["id"],
        )
    return load_admin(uow, row["user_id"], token_id=row["id"])


def load_admin(uow: UnitOfWork, user_id: int, token_id: int | None = None) -> Principal | None:
    user = uow.one("SELECT id, username, dept_id, status FROM system_users WHERE id = :id", {"id": user_id})
    if user is None or user["status"] != 0:
        return None
    roles = uow.all(
        "SELECT r.id, r.data_scope, r.data_scope_dept_ids FROM system_role r"
        " JOIN system_user_role ur ON ur.role_id = r.id WHERE ur.user_id = :u AND r.status = 0",
        {"u": user_id},
    )
    permissions = {
        r["permission"]
        for r in uow.all(
            "SELECT DISTINCT m.permission FROM system_menu m"
            " JOIN system_role_menu rm ON rm.menu_id = m.id"
            " JOIN system_user_role ur ON ur.role_id = rm.role_id"
            " JOIN system_role r ON r.id = ur.role_id"
            " WHERE ur.user_id = :u AND m.status = 0 AND r.status = 0 AND m.permission <> ''",
            {"u": user_id},
        )
    }
    return Principal(
        user_id=user["id"],
        user_type=UserType.ADMIN,
        name=user["username"],
        dept_id=user["dept_id"],
        permissions=frozenset(permissions),
        dept_ids=_visible_depts(uow, user["dept_id"], roles),
        token_id=token_id,
    )


def _visible_depts(uow: UnitOfWork, dept_id: int | None, roles: list[dict]) -> frozenset[int] | None:
    """Union of the roles' data scopes; None means all depts."""
    visible: set[int] = set()
    for role in roles:
        scope = DataScope(role["data_scope"])
        if scope is DataScope.ALL:
            return None
        if scope is DataScope.DEPT_CUSTOM:
            visible.update(role["data_scope_dept_ids"] or [])
        elif dept_id is not None and scope is DataScope.DEPT_ONLY:
            visible.add(dept_id)
        elif dept_id is not None and scope is DataScope.DEPT_AND_CHILD:
            visible.update(
                r["id"]
                for r in uow.all(
                    "SELECT d.id FROM system_dept d, system_dept me WHERE me.id = :d"
                    " AND d.tree_path LIKE me.tree_path || '%'",
                    {"d": dept_id},
                )
            )
    return frozenset(visible)
