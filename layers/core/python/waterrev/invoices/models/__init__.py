"""IF-REV-008 / IF-REV-009 / IF-EXT-007 / IF-CS-004 edge models, one module per interface; shared value
types here."""

from __future__ import annotations

from typing import Literal

InvoiceType = Literal["ELECTRONIC", "PAPER"]
SourceChannel = Literal["COUNTER", "FINANCE_BACKOFFICE"]
QuerySource = Literal["MANUAL", "AUTO_COMPENSATE", "CALLBACK_VERIFY"]
ApplyStatus = Literal["SUBMITTED", "PENDING", "REJECTED"]
InvoiceStatus = Literal["SUBMITTED", "PENDING", "SUCCESS", "FAIL", "REJECTED", "INVALID", "RED_INK"]
SeedQueryStatus = Literal["SUBMITTED", "PENDING", "SUCCESS", "FAIL", "INVALID", "RED_INK"]
PushStatus = Literal["NONE", "PUSHED", "FAIL"]
ChargeBindStatus = Literal["UNBOUND", "BOUND"]
PushChannel = Literal["EMAIL", "SMS"]
