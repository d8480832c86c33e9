"""IF-INST-005 edge models."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import ConfigDict, Field

from waterrev.fields import Id, Model, Reply
from waterrev.installation import commands
from waterrev.installation.models import (
    ArchiveStatus,
    ArchiveType,
    InstallAttachment,
    InstallAttachmentFailure,
    InstallStatus,
)
from waterrev.installation.models.apply import attachments


class InstallMeterInfo(Model):
    """扩展：验收（CHECK）时登记的所装水表；办结（FINISH）时据此立户装表。"""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "meterNo": "M20261205001",
                    "caliber": "DN20",
                    "initialReading": "0",
                    "installDate": "2026-12-05",
                }
            ]
        }
    )

    meter_no: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$", description="水表编号")
    caliber: str = Field(min_length=1, max_length=16, description="口径：DN15、DN20 ...")
    initial_reading: Decimal = Field(
        default=Decimal("0"), ge=0, max_digits=12, decimal_places=2, description="装表底数"
    )
    install_date: dt.date | None = Field(default=None, description="装表日期；不传为当天")


class InstallArchiveRequest(Model):
    """IF-INST-005 请求参数."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "processId": 1,
                    "archiveType": "CHECK",
                    "attachmentList": [
                        {
                            "fileName": "验收单.pdf",
                            "fileKey": "installation/uploads/0f1e2d3c4b5a69788796a5b4c3d2e1f0/check.pdf",
                            "fileType": "application/pdf",
                            "fileSize": 20480,
                            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                        }
                    ],
                    "meterInfo": {"meterNo": "M20261205001", "caliber": "DN20", "initialReading": "0"},
                }
            ]
        }
    )

    process_id: Id = Field(description="报装流程 ID (installation_process.id)")
    archive_type: ArchiveType = Field(description="归档类型：APPLY、ACCEPT、CHECK、CONTRACT、FINISH")
    attachment_list: list[InstallAttachment] = Field(min_length=1, max_length=100, description="归档附件列表")
    contract_id: Id | None = Field(default=None, description="合同 ID：CONTRACT 归档时须为该报装已签署的合同")
    evidence_id: Id | None = Field(
        default=None, description="存证记录 ID：CONTRACT 归档时须为该合同的签章存证"
    )
    operator_id: Id | None = Field(default=None, description="归档操作人；不传为当前操作员")
    meter_info: InstallMeterInfo | None = Field(default=None, description="扩展：所装水表，CHECK 归档必填")

    def command(self) -> commands.Archive:
        m = self.meter_info
        return commands.Archive(
            self.process_id,
            self.archive_type,
            attachments(self.attachment_list),
            self.contract_id,
            self.evidence_id,
            self.operator_id,
            None
            if m is None
            else commands.MeterInfo(m.meter_no, m.caliber, m.initial_reading, m.install_date),
        )


class InstallArchiveReply(Reply):
    """IF-INST-005 响应参数."""

    archive_batch_no: str = Field(description="归档批次号")
    archive_status: ArchiveStatus = Field(description="归档状态：SUCCESS、PARTIAL、FAIL")
    archive_count: int = Field(description="已归档文件数量")
    msg: str = Field(description="处理说明")
    fail_list: list[InstallAttachmentFailure] = Field(description="扩展：未能归档的文件及原因")
    process_status: InstallStatus = Field(description="扩展：归档后的流程状态")
    evidence_hash: str | None = Field(
        default=None, description="扩展：本批次归档后该报装全部文件的存证哈希（SHA-256）；重复归档应答不返回"
    )
