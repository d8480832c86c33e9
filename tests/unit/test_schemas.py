"""Request models at the edge: identity numbers, customer creation, amounts."""

from decimal import Decimal
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from waterrev.customers.models.master import CustomerCreate
from waterrev.fields import Amount, valid_id_card

VALID_ID = "11010519491231002X"


def customer(**extra: Any) -> dict[str, Any]:
    body = {"name": "张三", "custType": "RESIDENT", "address": "鼓楼区五四路 1 号", "deptId": 2}
    return body | extra


def error_types(exc: ValidationError) -> set[str]:
    return {e["type"] for e in exc.errors()}


@pytest.mark.parametrize("value", [VALID_ID, VALID_ID.lower(), "110105194912310011"])
def test_id_card_with_a_correct_checksum_is_valid(value: str) -> None:
    """Given 17 digits and the GB 11643 checksum character (X in either case)
    When checked
    Then the number is valid."""
    assert valid_id_card(value)


@pytest.mark.parametrize(
    "value",
    [
        "110105194912310021",
        "11010519491231002Y",
        "1101051949123100",
        "11010519491231002X1",
        "A1010519491231002X",
        "",
    ],
)
def test_id_card_with_a_wrong_checksum_or_shape_is_invalid(value: str) -> None:
    """Given a wrong checksum, a wrong length or a letter among the digits
    When checked
    Then the number is invalid."""
    assert not valid_id_card(value)


def test_minimal_customer_is_accepted() -> None:
    """Given the required fields only, in camelCase
    When a CustomerCreate is validated
    Then it is accepted with the defaults."""
    created = CustomerCreate.model_validate(customer(mobile="13800138000", idType="ID_CARD", idNo=VALID_ID))

    assert (created.cust_type, created.dept_id, created.population) == ("RESIDENT", 2, 1)
    assert created.contact_list == [] and created.invoice_info is None


def test_customer_rejects_unknown_fields() -> None:
    """Given a body with a field the interface does not define
    When validated
    Then it is refused (extra="forbid"), naming the field."""
    with pytest.raises(ValidationError) as caught:
        CustomerCreate.model_validate(customer(status="STOPPED"))

    assert error_types(caught.value) == {"extra_forbidden"}
    assert caught.value.errors()[0]["loc"] == ("status",)


@pytest.mark.parametrize(
    "mobile", ["12800138000", "1380013800", "138001380001", "1380013800a", "+8613800138000"]
)
def test_customer_rejects_a_bad_mobile(mobile: str) -> None:
    """Given a mobile that is not 11 digits starting with 1[3-9]
    When validated
    Then it is refused at the mobile field."""
    with pytest.raises(ValidationError) as caught:
        CustomerCreate.model_validate(customer(mobile=mobile))

    assert [e["loc"] for e in caught.value.errors()] == [("mobile",)]


def test_customer_rejects_an_id_card_with_a_wrong_checksum() -> None:
    """Given an ID_CARD whose checksum is wrong
    When validated
    Then it is refused."""
    with pytest.raises(ValidationError, match="居民身份证"):
        CustomerCreate.model_validate(customer(idType="ID_CARD", idNo="110105194912310021"))


def test_enterprise_invoice_needs_a_tax_number() -> None:
    """Given an ENTERPRISE invoice title without taxNo, and the same with one
    When validated
    Then the first is refused naming taxNo and the second accepted."""
    invoice = {"titleType": "ENTERPRISE", "invoiceTitle": "福州某某有限公司", "email": "fp@example.cn"}

    with pytest.raises(ValidationError, match="taxNo"):
        CustomerCreate.model_validate(customer(invoiceInfo=invoice))
    created = CustomerCreate.model_validate(customer(invoiceInfo=invoice | {"taxNo": "91350100MA2XXXXX1X"}))
    assert created.invoice_info is not None and created.invoice_info.tax_no == "91350100MA2XXXXX1X"


@pytest.mark.parametrize("value", ["0", "12", "12.3", "12.30", "999999999999.99"])
def test_amount_accepts_up_to_two_places(value: str) -> None:
    """Given a non-negative amount with at most two places
    When validated as Amount
    Then it is accepted unchanged."""
    assert TypeAdapter(Amount).validate_python(value) == Decimal(value)


@pytest.mark.parametrize("value", ["12.345", "0.001", "-0.01", "1234567890123.45"])
def test_amount_rejects_three_places_negatives_and_too_many_digits(value: str) -> None:
    """Given three decimal places, a negative, or more than 14 digits
    When validated as Amount
    Then it is refused."""
    with pytest.raises(ValidationError):
        TypeAdapter(Amount).validate_python(value)
