"""IF-EXT-003 bank real-time charging requests."""

from __future__ import annotations

from pydantic import Field

from waterrev.fields import Amount, Model


class BankQuery(Model):
    bank_code: str = Field(pattern=r"^[A-Z0-9]{2,16}$")
    cust_code: str = Field(min_length=1, max_length=32)


class BankPay(Model):
    bank_code: str = Field(pattern=r"^[A-Z0-9]{2,16}$")
    bank_serial_no: str = Field(pattern=r"^[A-Za-z0-9_\-]{6,64}$")
    cust_code: str = Field(min_length=1, max_length=32)
    charge_ids: list[int] | None = Field(default=None, max_length=200)
    amount: Amount
