"""Given the demo data, when a clerk creates a customer and a channel user binds it, then the
channel user reads its bills, and nobody else can."""

from tests.support import admin_login, bind, call, channel_login, new_customer, unique


def test_customer_created_bound_and_history_read_only_by_its_channel_user() -> None:
    admin = admin_login()
    cust = new_customer(admin)
    owner_id = unique("o")
    owner = channel_login(owner_id)

    bound = bind(owner, owner_id, cust["id"])

    assert bound.code == 0, bound.body
    assert bound.data["bindStatus"] == "BOUND" and bound.data["defaultFlag"] is True
    history = call(
        "GET", "/app-api/customer/bill/history", token=owner, query=f"custId={cust['id']}&queryType=BILL"
    )
    assert history.code == 0 and history.data == {"list": [], "total": 0, "pageNo": 1, "pageSize": 10}
    stranger = channel_login(unique("s"))
    denied = call(
        "GET", "/app-api/customer/bill/history", token=stranger, query=f"custId={cust['id']}&queryType=BILL"
    )
    assert denied.code == 1_002_001_002
