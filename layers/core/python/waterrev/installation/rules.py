"""Connection-application rules as pure functions: the idempotency key of an application, what an
archive type requires and moves to, an archive batch's status, the evidence hash over documents, the
contract text. No I/O."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import NamedTuple

from waterrev.domain.states import InstallStatus

_SPACES = re.compile(r"\s+")


def apply_key(apply_type: str, mobile_index: str, address: str) -> str:
    """One live application per type, applicant mobile and address (spaces and case ignored). The mobile
    enters as its blind index (waterrev.crypto): a plain hash of a mobile would give the mobile back."""
    normal = _SPACES.sub("", address).upper()
    return hashlib.sha256(f"{apply_type}\n{mobile_index}\n{normal}".encode()).hexdigest()


class ArchiveStep(NamedTuple):
    allowed_from: frozenset[InstallStatus]  # the statuses the process may be in
    target: InstallStatus | None  # where a successful batch moves it (None: it stays)


_ANY = frozenset(InstallStatus)
_AFTER_SIGNING = frozenset({InstallStatus.SIGNED, InstallStatus.CONSTRUCTED, InstallStatus.COMPLETED})
ARCHIVE_STEPS: dict[str, ArchiveStep] = {
    "APPLY": ArchiveStep(_ANY, None),  # the application's own papers, at any time
    "ACCEPT": ArchiveStep(_ANY - {InstallStatus.REJECTED}, None),  # 受理 papers
    "CONTRACT": ArchiveStep(_AFTER_SIGNING, None),  # the signed contract and its evidence
    "CHECK": ArchiveStep(frozenset({InstallStatus.SIGNED}), InstallStatus.CONSTRUCTED),  # 验收
    "FINISH": ArchiveStep(frozenset({InstallStatus.CONSTRUCTED}), InstallStatus.COMPLETED),  # 竣工归档
}


def archive_status(archived: int, failed: int) -> str:
    """SUCCESS when every document was archived, FAIL when none was, PARTIAL otherwise."""
    if failed == 0:
        return "SUCCESS"
    return "FAIL" if archived == 0 else "PARTIAL"


def archive_request_key(process_id: int, archive_type: str, digests: Iterable[str]) -> str:
    """The idempotency key of an archive request: the process, the type and the set of documents."""
    joined = ",".join(sorted(d.lower() for d in digests))
    return hashlib.sha256(f"{process_id}\n{archive_type}\n{joined}".encode()).hexdigest()


class Document(NamedTuple):
    category: str
    file_name: str
    sha256: str


def evidence_hash(documents: Sequence[Document]) -> str:
    """SHA-256 over every document's category, name and digest, one line each in a fixed order: any
    document added, removed or changed gives another hash."""
    lines = sorted(f"{d.category}\t{d.file_name}\t{d.sha256.lower()}\n" for d in documents)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def contract_text(
    *,
    contract_no: str,
    process_code: str,
    applicant_name: str,
    address: str,
    apply_type: str,
    water_use_type: str,
    scheme_version: str,
    amount: Decimal,
    signer_name: str,
) -> str:
    """The connection contract as plain UTF-8 text (the document the signer signs)."""
    return (
        "供水报装工程合同\n"
        f"合同编号：{contract_no}\n"
        f"报装流程：{process_code}\n"
        f"申请人：{applicant_name}\n"
        f"用水地址：{address}\n"
        f"报装类型：{apply_type}    用水性质：{water_use_type}\n"
        f"方案版本：{scheme_version}\n"
        f"工程费用（预估）：人民币 {amount:.2f} 元\n"
        "甲方：福州市自来水有限公司（演示）\n"
        f"乙方（签署人）：{signer_name}\n"
        "乙方确认上述方案与费用，工程竣工验收合格后立户装表、按期抄表计费。\n"
    )
