"""The demo data set: depts, roles, users, dictionaries, parameters, customers with bills.

Loaded once: the whole set is one transaction guarded by an advisory lock and a marker row, so a
second run (or two starters at once) adds nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from waterrev import crypto
from waterrev.db import UnitOfWork
from waterrev.money import money
from waterrev.security import hash_password

MARKER = "demo.dataset.version"
PERMISSIONS = (
    ("客户查询", "revenue:customer:query"),
    ("客户新增", "revenue:customer:create"),
    ("客户修改", "revenue:customer:update"),
)
DICTS = {
    "biz_cust_type": (
        "客户类型",
        [("居民", "RESIDENT"), ("非居民", "NON_RESIDENT"), ("特种行业", "SPECIAL")],
    ),
    "biz_account_status": (
        "账户状态",
        [("正常", "NORMAL"), ("冻结", "FROZEN"), ("限制服务", "RESTRICTED"), ("销户", "CLOSED")],
    ),
    "biz_charge_status": ("账单状态", [("未缴", "UNPAID"), ("部分缴费", "PARTIAL"), ("已缴", "PAID")]),
    "biz_payment_channel": (
        "支付渠道",
        [
            ("现金", "CASH"),
            ("微信", "WECHAT"),
            ("支付宝", "ALIPAY"),
            ("银行", "BANK"),
            ("预存抵扣", "PREPAY"),
        ],
    ),
    "biz_bill_query_type": (
        "账单查询类型",
        [("账单", "BILL"), ("缴费", "PAYMENT"), ("用水", "USAGE"), ("欠费", "ARREARS"), ("发票", "INVOICE")],
    ),
}


def load(months: int = 12) -> bool:
    """Load the stages of the demo set not loaded yet; return True if anything was loaded now."""
    with UnitOfWork() as uow:
        uow.execute("SELECT pg_advisory_xact_lock(20021002)")
        loaded = int(
            uow.scalar(
                "SELECT config_value FROM biz_parameter_settings WHERE config_code = :c", {"c": MARKER}
            )
            or 0
        )
        stages = ((1, _foundation), (2, _metering), (3, _reminders), (4, _billing_rules), (5, _outlets))
        for number, stage in stages:
            if number > loaded:
                stage(uow, months)
        _grant_permissions(uow)
        uow.execute(
            "INSERT INTO biz_parameter_settings (config_type, config_code, config_value, visible)"
            " VALUES ('RULE', :c, :v, false) ON CONFLICT (config_code, config_version) DO UPDATE SET config_value = :v",
            {"c": MARKER, "v": str(len(stages))},
        )
        uow.commit()
    return loaded < len(stages)


def _grant_permissions(uow: UnitOfWork) -> None:
    """Every permission in the catalog exists as a button; the demo roles hold what they need."""
    from waterrev import catalog

    parent = uow.scalar("SELECT id FROM system_menu WHERE name = '营收管理' AND parent_id = 0")
    for interface in catalog.built():
        for route in interface.routes:
            exists = uow.scalar("SELECT 1 FROM system_menu WHERE permission = :p", {"p": route.permission})
            if route.permission and not exists:
                uow.execute(
                    "INSERT INTO system_menu (name, permission, type, parent_id) VALUES (:n, :p, 3, :parent)",
                    {"n": route.permission, "p": route.permission, "parent": parent},
                )
    uow.execute(
        "INSERT INTO system_role_menu SELECT r.id, m.id FROM system_role r, system_menu m"
        " WHERE r.code = 'super_admin' ON CONFLICT DO NOTHING"
    )
    uow.execute(
        "INSERT INTO system_role_menu SELECT r.id, m.id FROM system_role r, system_menu m"
        " WHERE r.code = 'counter_clerk' AND (m.permission LIKE 'revenue:customer:%'"
        " OR m.permission LIKE 'revenue:reading:%' OR m.permission = 'revenue:collection:query'"
        # a clerk may ask for a penalty waiver and see the requests; approving takes someone else
        " OR m.permission IN ('revenue:penalty:waive', 'revenue:penalty:query',"
        # likewise an adjustment (IF-REV-007): a clerk asks, a second person approves
        " 'revenue:adjust:create', 'revenue:adjust:query')"
        # the service desk: a clerk accepts and handles online applications; approving takes a supervisor
        " OR m.permission IN ('customer:process:query', 'customer:process:handle', 'customer:outlet:query'))"
        " ON CONFLICT DO NOTHING"
    )
    # a clerk may read the statistics of the office but not export them (IF-REV-010's export permission)
    uow.execute(
        "INSERT INTO system_role_menu SELECT r.id, m.id FROM system_role r, system_menu m"
        " WHERE r.code = 'counter_clerk' AND m.permission = 'revenue:statistics:query' ON CONFLICT DO NOTHING"
    )


def _foundation(uow: UnitOfWork, months: int) -> None:
    root = uow.scalar(
        "INSERT INTO system_dept (name, parent_id, tree_path) VALUES ('福建水务集团', 0, '') RETURNING id"
    )
    uow.execute("UPDATE system_dept SET tree_path = '/' || id || '/' WHERE id = :id", {"id": root})
    depts = {}
    for name in ("鼓楼营业所", "台江营业所"):
        dept = uow.scalar(
            "INSERT INTO system_dept (name, parent_id, tree_path) SELECT :n, id,"
            " tree_path FROM system_dept WHERE id = :p RETURNING id",
            {"n": name, "p": root},
        )
        uow.execute("UPDATE system_dept SET tree_path = tree_path || id || '/' WHERE id = :id", {"id": dept})
        depts[name] = dept
    menu_root = uow.scalar(
        "INSERT INTO system_menu (name, type, path) VALUES ('营收管理', 1, '/revenue') RETURNING id"
    )
    customer_menu = uow.scalar(
        "INSERT INTO system_menu (name, permission, type, parent_id, path) VALUES"
        " ('客户资料', 'revenue:customer:query', 2, :p, 'customer') RETURNING id",
        {"p": menu_root},
    )
    menu_ids = [menu_root, customer_menu] + [
        uow.scalar(
            "INSERT INTO system_menu (name, permission, type, parent_id) VALUES (:n, :perm, 3, :p)"
            " RETURNING id",
            {"n": n, "perm": perm, "p": customer_menu},
        )
        for n, perm in PERMISSIONS
    ]
    admin_role = uow.scalar(
        "INSERT INTO system_role (code, name, data_scope) VALUES"
        " ('super_admin', '超级管理员', 'ALL') RETURNING id"
    )
    clerk_role = uow.scalar(
        "INSERT INTO system_role (code, name, data_scope) VALUES"
        " ('counter_clerk', '营业所收费员', 'DEPT_AND_CHILD') RETURNING id"
    )
    for role in (admin_role, clerk_role):
        for menu in menu_ids:
            uow.execute("INSERT INTO system_role_menu VALUES (:r, :m)", {"r": role, "m": menu})
    for username, password, nickname, dept, role in (
        ("admin", "admin123", "系统管理员", root, admin_role),
        ("gulou", "gulou123", "鼓楼收费员", depts["鼓楼营业所"], clerk_role),
        ("taijiang", "taijiang123", "台江收费员", depts["台江营业所"], clerk_role),
    ):
        uid = uow.scalar(
            "INSERT INTO system_users (username, password, nickname, dept_id) VALUES"
            " (:u, :p, :n, :d) RETURNING id",
            {"u": username, "p": hash_password(password), "n": nickname, "d": dept},
        )
        uow.execute("INSERT INTO system_user_role VALUES (:u, :r)", {"u": uid, "r": role})
    for dict_type, (name, items) in DICTS.items():
        uow.execute("INSERT INTO system_dict_type (name, type) VALUES (:n, :t)", {"n": name, "t": dict_type})
        for sort, (label, value) in enumerate(items):
            uow.execute(
                "INSERT INTO system_dict_data (dict_type, label, value, sort) VALUES (:t, :l, :v, :s)",
                {"t": dict_type, "l": label, "v": value, "s": sort},
            )
    for code, value in (("revenue.charge.due-days", "15"), ("cs.verify-code.ttl-minutes", "5")):
        uow.execute(
            "INSERT INTO biz_parameter_settings (config_type, config_code, config_value)"
            " VALUES ('RULE', :c, :v)",
            {"c": code, "v": value},
        )
    _customers(uow, depts, months)


def _customers(uow: UnitOfWork, depts: dict[str, int], months: int) -> None:
    people = (
        (
            "KH0000000001",
            "张三",
            "13800138000",
            "350102199001011238",
            "鼓楼区五四路 1 号",
            "鼓楼营业所",
            "WM-0001",
        ),
        (
            "KH0000000002",
            "李四",
            "13900139000",
            "350102198505054325",
            "台江区江滨路 8 号",
            "台江营业所",
            "WM-0002",
        ),
    )
    today = dt.date.today().replace(day=1)
    keys = crypto.keys(uow.conn)  # ID numbers and mobiles sealed, as the use cases keep them
    for code, name, plain_mobile, plain_id_no, address, dept, meter_no in people:
        mobile = crypto.columns("mobile", keys.pii(crypto.MOBILE, plain_mobile))
        cust = uow.scalar(
            "INSERT INTO biz_cust (code, name, cust_type, id_type, id_no, id_no_cipher, id_no_index, mobile,"
            " mobile_cipher, mobile_index, address, dept_id, population) VALUES (:c, :n, 'RESIDENT', 'ID_CARD',"
            " :id_no, :id_no_cipher, :id_no_index, :mobile, :mobile_cipher, :mobile_index, :a, :d, 3) RETURNING id",
            {
                "c": code,
                "n": name,
                **crypto.columns("id_no", keys.pii(crypto.ID_NO, plain_id_no)),
                **mobile,
                "a": address,
                "d": depts[dept],
            },
        )
        account = uow.scalar(
            "INSERT INTO biz_account (cust_id, account_no) VALUES (:c, :no) RETURNING id",
            {"c": cust, "no": "ZH" + code},
        )
        uow.execute(
            "INSERT INTO biz_cust_contact (cust_id, name, mobile, mobile_cipher, mobile_index, is_primary)"
            " VALUES (:c, :n, :mobile, :mobile_cipher, :mobile_index, true)",
            {"c": cust, "n": name, **mobile},
        )
        meter = uow.scalar(
            "INSERT INTO biz_meter (meter_no, caliber, install_address) VALUES (:no, 'DN20', :a)"
            " RETURNING id",
            {"no": meter_no, "a": address},
        )
        uow.execute("INSERT INTO biz_cust_meter (cust_id, meter_id) VALUES (:c, :m)", {"c": cust, "m": meter})
        uow.execute(
            "INSERT INTO biz_cust_invoice (cust_id, invoice_title, mobile, mobile_cipher, mobile_index)"
            " VALUES (:c, :n, :mobile, :mobile_cipher, :mobile_index)",
            {"c": cust, "n": name, **mobile},
        )
        arrears = Decimal("0")
        for back in range(months, 0, -1):
            month = (today.month - back - 1) % 12 + 1
            year = today.year + (today.month - back - 1) // 12
            usage = Decimal(10 + (back * 7) % 9)
            total = money(usage * Decimal("3.45"))
            unpaid = back == 1
            arrears += total if unpaid else 0
            uow.execute(
                "INSERT INTO biz_charge (code, cust_id, account_id, meter_id, bill_period, usage_amount,"
                " total_amount, paid_amount, status, due_date, paid_time) VALUES (:code, :c, :a, :m, :p, :u,"
                " :t, :paid, :s, :due, :pt)",
                {
                    "code": f"ZD{code[2:]}{year}{month:02d}",
                    "c": cust,
                    "a": account,
                    "m": meter,
                    "p": f"{year}-{month:02d}",
                    "u": usage,
                    "t": total,
                    "paid": 0 if unpaid else total,
                    "s": "UNPAID" if unpaid else "PAID",
                    "due": dt.date(year, month, 28),
                    "pt": None if unpaid else dt.datetime(year, month, 20, tzinfo=dt.UTC),
                },
            )
        uow.execute(
            "UPDATE biz_account SET arrears_amount = :a WHERE id = :id", {"a": arrears, "id": account}
        )


RESIDENT_PRICE = {
    "name": "居民生活用水（年度阶梯）",
    "tierMode": "ANNUAL",
    "basePopulation": 4,
    "tiers": [
        {"tierNo": 1, "upperBound": "216", "populationStep": "54"},
        {"tierNo": 2, "upperBound": "300", "populationStep": "75"},
        {"tierNo": 3},
    ],
    "components": [
        {"code": "WATER_FEE", "name": "水费", "taxRate": "0.09", "prices": ["2.15", "3.23", "6.45"]},
        {"code": "SEWAGE_FEE", "name": "污水处理费", "taxRate": "0", "prices": ["1.00", "1.00", "1.00"]},
        {"code": "RESOURCE_FEE", "name": "水资源费", "taxRate": "0", "prices": ["0.10", "0.10", "0.10"]},
    ],
}
NON_RESIDENT_PRICE = {
    "name": "非居民用水（月度阶梯）",
    "tierMode": "MONTHLY",
    "basePopulation": 1,
    "tiers": [{"tierNo": 1, "upperBound": "500"}, {"tierNo": 2}],
    "components": [
        {"code": "WATER_FEE", "name": "水费", "taxRate": "0.09", "prices": ["3.10", "4.65"]},
        {"code": "SEWAGE_FEE", "name": "污水处理费", "taxRate": "0", "prices": ["1.40", "1.40"]},
        {"code": "RESOURCE_FEE", "name": "水资源费", "taxRate": "0", "prices": ["0.10", "0.10"]},
    ],
}


def _metering(uow: UnitOfWork, months: int) -> None:
    """Stage 2: active price templates for both customer families and a monthly meter book per dept."""
    from waterrev.pricing.config import write_template_body
    from waterrev.pricing.spec import PriceTemplateSpec

    for code, document in (("RESIDENT", RESIDENT_PRICE), ("NON_RESIDENT", NON_RESIDENT_PRICE)):
        spec = PriceTemplateSpec.model_validate(document)
        template = uow.scalar(
            "INSERT INTO biz_price_template (code, name, version, tier_mode, base_population, status,"
            " effective_date) VALUES (:c, :n, 1, :m, :b, 'ACTIVE', '2020-01-01') RETURNING id",
            {"c": code, "n": spec.name, "m": spec.tier_mode, "b": spec.base_population},
        )
        write_template_body(uow, template, spec)
    uow.execute(
        "INSERT INTO biz_parameter_settings (config_type, config_code, config_value)"
        " VALUES ('RULE', 'revenue.reading.warn-ratio', '3') ON CONFLICT DO NOTHING"
    )
    for dept in uow.all("SELECT id, name FROM system_dept WHERE parent_id <> 0 ORDER BY id"):
        book = uow.scalar(
            "INSERT INTO biz_meter_book (code, name, area_code, dept_id, read_cycle)"
            " VALUES (:c, :n, :a, :d, 'MONTHLY') RETURNING id",
            {
                "c": f"BK-{dept['id']:03d}-01",
                "n": f"{dept['name']}一册",
                "a": f"AREA-{dept['id']:03d}",
                "d": dept["id"],
            },
        )
        uow.execute(
            "UPDATE biz_meter m SET book_id = :b FROM biz_cust_meter cm JOIN biz_cust c ON c.id = cm.cust_id"
            " WHERE cm.meter_id = m.id AND cm.status = 'ACTIVE' AND c.dept_id = :d",
            {"b": book, "d": dept["id"]},
        )


def _reminders(uow: UnitOfWork, months: int) -> None:
    """Stage 3: the reminder parameters (IF-REV-012 RULE revenue.reminder.*) at their defaults, GLOBAL,
    so the back office sees and changes them like any other rule."""
    from waterrev.notifications.rules import PARAMETERS, ReminderParams

    defaults = ReminderParams()
    for code, name in PARAMETERS.items():
        if name == "quiet_hours":
            value = f"{defaults.quiet_start:%H:%M}-{defaults.quiet_end:%H:%M}"
        else:
            value = str(getattr(defaults, name))
        uow.execute(
            "INSERT INTO biz_parameter_settings (config_type, config_code, config_value)"
            " VALUES ('RULE', :c, :v) ON CONFLICT DO NOTHING",
            {"c": code, "v": value},
        )


def _billing_rules(uow: UnitOfWork, months: int) -> None:
    """Stage 4: the prepaid deduction's parameters (GLOBAL; an office may set its own through IF-REV-012
    with deptId): deduction on when bills are generated, a low-balance notice below 20.00."""
    for code, value in (
        ("revenue.billing.prepay-deduct", "true"),
        ("revenue.billing.prepay-low-balance", "20.00"),
    ):
        uow.execute(
            "INSERT INTO biz_parameter_settings (config_type, config_code, config_value) VALUES ('RULE', :c, :v)"
            " ON CONFLICT DO NOTHING",
            {"c": code, "v": value},
        )


OUTLETS = (
    # code, name, district, address, phone, longitude, latitude, weekday hours, saturday hours, types
    (
        "WD-GL-01",
        "鼓楼营业厅",
        "鼓楼区",
        "鼓楼区五四路 158 号",
        "0591-87000001",
        119.303712,
        26.086251,
        ("08:30", "17:30"),
        ("09:00", "12:00"),
        (
            "RENAME",
            "TRANSFER",
            "CONTACT_CHANGE",
            "INVOICE_CHANGE",
            "POPULATION",
            "SELF_READING",
            "METER_CHANGE",
            "LOW_INCOME",
        ),
    ),
    (
        "WD-TJ-01",
        "台江营业厅",
        "台江区",
        "台江区工业路 6 号",
        "0591-87000002",
        119.308529,
        26.062310,
        ("08:30", "17:00"),
        None,
        ("RENAME", "TRANSFER", "METER_CHANGE", "LOW_INCOME"),
    ),
    (
        "WD-CS-01",
        "仓山便民服务点",
        "仓山区",
        "仓山区金山大道 88 号",
        "0591-87000003",
        119.273201,
        26.041527,
        ("09:00", "18:00"),
        ("09:00", "18:00"),
        ("CONTACT_CHANGE", "INVOICE_CHANGE", "SELF_READING"),
    ),
)


def _outlets(uow: UnitOfWork, months: int) -> None:
    """The outlets of IF-CS-005: three offices with their hours, coordinates and business types."""
    import json

    for code, name, district, address, phone, lon, lat, weekdays, saturday, types in OUTLETS:
        hours = [{"weekdays": [1, 2, 3, 4, 5], "open": weekdays[0], "close": weekdays[1]}]
        if saturday:
            hours.append({"weekdays": [6], "open": saturday[0], "close": saturday[1]})
        outlet_id = uow.scalar(
            "INSERT INTO biz_outlets (code, name, district, address, phone, longitude, latitude, opening_hours,"
            " appointment_url) VALUES (:c, :n, :d, :a, :p, :lon, :lat, CAST(:h AS jsonb), :u)"
            " ON CONFLICT (code) DO UPDATE SET name = :n RETURNING id",
            {
                "c": code,
                "n": name,
                "d": district,
                "a": address,
                "p": phone,
                "lon": lon,
                "lat": lat,
                "h": json.dumps(hours),
                "u": f"https://service.example.com/appointment/{code}",
            },
        )
        uow.execute(
            "INSERT INTO biz_outlet_business (outlet_id, business_type_code) SELECT :o, unnest(CAST(:t AS varchar[]))"
            " ON CONFLICT DO NOTHING",
            {"o": outlet_id, "t": list(types)},
        )
