"""The customers capability's edge models, one module per interface (a handler imports only its own);
the value types they share."""

from __future__ import annotations

import re
from typing import Literal

from pydantic.config import JsonDict

CustType = Literal["RESIDENT", "NON_RESIDENT", "SPECIAL"]
IdType = Literal["ID_CARD", "PASSPORT", "USCC"]
AccountStatus = Literal["NORMAL", "FROZEN", "RESTRICTED", "CLOSED"]
CustStatus = Literal["NORMAL", "STOPPED"]
QueryType = Literal["base", "account", "meter", "invoice", "all"]
Caliber = Literal["DN15", "DN20", "DN25", "DN32", "DN40", "DN50", "DN80", "DN100", "DN150", "DN200"]
Relation = Literal["SELF", "FAMILY", "TENANT", "AGENT", "OTHER"]
_CONTACT: JsonDict = {"name": "张三", "mobile": "13800138000", "relation": "SELF", "isPrimary": True}
_METER: JsonDict = {
    "meterNo": "M2026000123",
    "caliber": "DN20",
    "initialReading": "0",
    "installDate": "2026-03-01",
}
_INVOICE: JsonDict = {
    "invoiceType": "ELECTRONIC",
    "titleType": "PERSONAL",
    "invoiceTitle": "张三",
    "email": "zs@example.com",
}
_BANK: JsonDict = {
    "bankCode": "ICBC",
    "bankAccount": "6222020200112233445",
    "accountName": "张三",
    "agreementNo": "XY2026001",
}
_USCC = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
