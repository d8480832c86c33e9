"""The edge models of the connection-application interfaces (handlers only)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from waterrev.fields import Model, Reply

ApplyType = Literal["NEW", "REBUILD", "ONE_METER_ONE_HOME"]
SourceChannel = Literal["COUNTER", "MINIAPP", "GOV"]
WaterUseType = Literal["RESIDENT", "NON_RESIDENT", "SPECIAL"]
AuditResult = Literal["PASS", "REJECT"]
SignStatus = Literal["SUCCESS", "FAIL", "CANCEL"]
WriteBackStatus = Literal["SUCCESS", "IGNORE_REPEAT", "FAIL"]
ArchiveType = Literal["APPLY", "ACCEPT", "CHECK", "CONTRACT", "FINISH"]
ArchiveStatus = Literal["SUCCESS", "PARTIAL", "FAIL"]
InstallStatus = Literal["SURVEYING", "SURVEYED", "SIGNING", "SIGNED", "CONSTRUCTED", "COMPLETED", "REJECTED"]
FileType = Literal["application/pdf", "image/jpeg", "image/png", "text/plain"]
SHA256 = r"^[0-9a-fA-F]{64}$"


class InstallAttachment(Model):
    """An attachment uploaded through its presigned link (POST /admin-api/installation/attachment/upload-url):
    the key it was given, and what the caller declares about the file (checked against the stored object)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fileName": "身份证.jpg",
                    "fileKey": "installation/uploads/0f1e2d3c4b5a69788796a5b4c3d2e1f0/id.jpg",
                    "fileType": "image/jpeg",
                    "fileSize": 20480,
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                }
            ]
        }
    )

    file_name: str = Field(min_length=1, max_length=200, description="文件名")
    file_key: str = Field(min_length=1, max_length=255, description="上传链接签发的对象键 (fileKey)")
    file_type: FileType = Field(description="文件类型：application/pdf、image/jpeg、image/png、text/plain")
    file_size: int = Field(gt=0, le=1 << 40, description="文件字节数")
    sha256: str = Field(pattern=SHA256, description="文件 SHA-256 摘要（十六进制）：与存储对象比对")


class InstallAttachmentFailure(Reply):
    """扩展：未能接收或归档的附件及原因。"""

    file_name: str = Field(description="文件名")
    reason: str = Field(description="原因")
