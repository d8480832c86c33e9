"""IF-REV-005: bills only what the caller's data scope reaches, and a household with several meters
is priced on its cumulative annual usage whichever call or chunk bills each meter."""

from __future__ import annotations

from decimal import Decimal

from tests.support import (
    TAIJIANG_DEPT,
    admin_login,
    call,
    charge_generate,
    charge_lines,
    charge_of_reading,
    expect_error,
    generate,
    metered,
    new_admin_user,
    new_book,
    new_customer,
    sql_scalar,
    submit_reading,
    task_of,
    unique,
)


def test_a_clerk_bills_only_the_readings_of_its_own_depts() -> None:
    """Given ready readings of a 鼓楼 and a 台江 customer in one period, when a 鼓楼 clerk (scope
    DEPT_AND_CHILD, allowed to generate bills) generates the period without filters, then only
    the 鼓楼 reading is billed and the 台江 one stays ready for someone who may bill it."""
    admin = admin_login()
    period = "2021-04"
    gulou_meter, gulou_book = metered(admin)
    taijiang_meter, taijiang_book = metered(admin, dept_id=TAIJIANG_DEPT)
    generate(admin, gulou_book, period)
    generate(admin, taijiang_book, period)
    gulou_reading = submit_reading(admin, gulou_meter, period, 12).data["readingId"]
    taijiang_reading = submit_reading(admin, taijiang_meter, period, 12).data["readingId"]
    clerk = login_as(new_admin_user(permissions=("revenue:charge:generate",)))

    reply = charge_generate(clerk, period)

    assert reply.code == 0, reply.body
    assert charge_of_reading(gulou_reading) is not None
    assert charge_of_reading(taijiang_reading) is None
    assert charge_generate(admin, period).data["generateCount"] == 1  # the admin (scope ALL) bills it


def test_a_household_with_two_meters_billed_in_two_calls_counts_both_in_its_annual_tiers() -> None:
    """Given a RESIDENT household (base size, annual tier 1 up to 216 m3) with two meters reading
    200 and 30 m3 in one period, when each meter is billed by a separate call, then the second bill
    puts 16 m3 in tier 1 and 14 m3 in tier 2, as if both had been billed together."""
    admin = admin_login()
    period = "2021-06"
    household = new_customer(
        admin,
        population=4,
        meterList=[{"meterNo": unique("M"), "caliber": "DN20"}, {"meterNo": unique("M"), "caliber": "DN20"}],
    )
    first, second = household["meterIds"]
    generate(admin, int(new_book(admin, [first, second])["bookId"]), period)
    big = submit_reading(admin, first, period, 200).data
    small = submit_reading(admin, second, period, 30).data

    assert charge_generate(admin, period, meterReadIds=[big["meterReadId"]]).data["generateCount"] == 1
    assert charge_generate(admin, period, meterReadIds=[small["meterReadId"]]).data["generateCount"] == 1

    charge = charge_of_reading(small["readingId"])
    assert charge is not None
    water = [
        (line["tier_no"], line["usage_amount"])
        for line in charge_lines(charge["id"])
        if line["cost_component"] == "WATER_FEE"
    ]
    assert water == [(1, Decimal("16.00")), (2, Decimal("14.00"))]


def login_as(username: str) -> str:
    reply = call("POST", "/admin-api/system/auth/login", {"username": username, "password": "Passw0rd!"})
    assert reply.code == 0, reply.body
    return str(reply.data["accessToken"])


def test_an_operator_id_other_than_the_caller_is_refused() -> None:
    """Given a ready reading, when admin generates the period naming another user as operatorId (seed:
    发起操作人), then 403 naming operatorId and nothing is billed (before, the field was ignored and the
    bills audited under the caller while the request claimed someone else); naming itself bills it."""
    admin = admin_login()
    period = "2021-08"
    meter, book = metered(admin)
    generate(admin, book, period)
    reading = submit_reading(admin, meter, period, 9).data["readingId"]
    me = int(sql_scalar("SELECT id FROM system_users WHERE username = 'admin'"))

    impostor = charge_generate(admin, period, operatorId=me + 1000, meterReadIds=[task_of(meter, period)])

    expect_error(impostor, 403, mentions="operatorId")
    assert charge_of_reading(reading) is None
    assert (
        charge_generate(admin, period, operatorId=me, meterReadIds=[task_of(meter, period)]).data[
            "generateCount"
        ]
        == 1
    )
