"""The interface catalog: the seed's complete interface map, one route table for CDK and the gateway."""

from collections import Counter
from pathlib import Path

import pytest

from waterrev import catalog
from waterrev.catalog import Caller

ROOT = Path(__file__).resolve().parents[2]
SEED_INTERFACES = (
    [f"IF-UP-{n:03d}" for n in range(1, 5)]
    + [f"IF-REV-{n:03d}" for n in range(1, 14)]
    + [f"IF-CS-{n:03d}" for n in range(1, 8)]
    + [f"IF-METER-{n:03d}" for n in range(1, 5)]
    + [f"IF-INST-{n:03d}" for n in range(1, 6)]
    + [f"IF-EXT-{n:03d}" for n in range(1, 10)]
)
ROUTES = [(i, r) for i in catalog.built() for r in i.routes]


def test_every_seed_interface_is_listed_exactly_once() -> None:
    """Given the 42 interfaces of the seed's interface list
    When the catalog's ids are counted
    Then each appears exactly once and there is no other."""
    assert len(SEED_INTERFACES) == 42
    assert Counter(i.if_id for i in catalog.CATALOG) == Counter(SEED_INTERFACES)


def test_by_id_finds_each_interface_and_refuses_unknown_ids() -> None:
    """Given every seed id and one unknown id
    When looked up
    Then each id finds its interface and the unknown one raises KeyError."""
    for if_id in SEED_INTERFACES:
        assert catalog.by_id(if_id).if_id == if_id
    with pytest.raises(KeyError):
        catalog.by_id("IF-XX-001")


def test_route_keys_are_unique() -> None:
    """Given every route of the catalog
    When their route keys are counted
    Then none repeats (API Gateway would refuse the stack)."""
    keys = [r.route_key for i in catalog.CATALOG for r in i.routes]

    assert keys
    assert len(keys) == len(set(keys))


def test_functions_are_unique_and_built_means_routed() -> None:
    """Given the built interfaces
    When their functions and routes are read
    Then each function serves one interface and each built interface has at least one route."""
    built = catalog.built()
    functions = [i.function for i in built]

    assert built
    assert len(functions) == len(set(functions))
    assert all(i.routes for i in built)
    assert all(not i.routes for i in catalog.CATALOG if not i.built)


@pytest.mark.parametrize("interface", catalog.built(), ids=lambda i: i.if_id)
def test_built_interface_has_a_handler_module(interface: catalog.Interface) -> None:
    """Given a built interface
    When its function folder is looked for
    Then functions/<name>/handler.py exists."""
    assert (ROOT / "functions" / str(interface.function) / "handler.py").is_file()


ESIGN_CALLBACK = "/admin-api/installation/contract/sign/callback"  # the seed's path (IF-INST-004)


@pytest.mark.parametrize(("interface", "route"), ROUTES, ids=lambda x: getattr(x, "route_key", ""))
def test_routes_live_under_the_prefix_of_their_caller(
    interface: catalog.Interface, route: catalog.Route
) -> None:
    """Given a route
    When its caller kind is read
    Then back-office routes are under /admin-api/, customer-channel routes under /app-api/ and
    platform webhooks under /open-api/ - except the invoice routes, which keep the seed's paths: the
    back office's under /business/invoice/, the customer's under /business/invoice/customer/; and the
    e-signature callback (IF-INST-004), a webhook on its seed path under /admin-api/installation/."""
    customer_seed_path = route.path.startswith("/business/invoice/customer/")
    if route.caller is Caller.ADMIN:
        assert route.path.startswith(("/admin-api/", "/business/invoice/")) and not customer_seed_path
    if route.caller is Caller.CUSTOMER:
        assert route.path.startswith("/app-api/") or customer_seed_path
    if route.caller is Caller.WEBHOOK:
        assert route.path.startswith("/open-api/") or route.path == ESIGN_CALLBACK
    assert route.path.startswith(("/admin-api/", "/app-api/", "/open-api/", "/business/invoice/"))
    assert route.method in {"GET", "POST", "PUT", "DELETE", "PATCH"}


def test_permissions_are_only_asked_of_back_office_callers() -> None:
    """Given routes that require a back-office permission
    When their caller kind is read
    Then it is ADMIN (a customer token carries no permissions and would always be refused)."""
    assert {r.caller for _, r in ROUTES if r.permission} <= {Caller.ADMIN}


@pytest.mark.parametrize(("interface", "route"), ROUTES, ids=lambda x: getattr(x, "route_key", ""))
def test_route_for_finds_each_route(interface: catalog.Interface, route: catalog.Route) -> None:
    """Given a built route
    When route_for is asked for its route key
    Then it answers that interface and that route."""
    assert catalog.route_for(route.route_key) == (interface, route)


def test_route_for_knows_nothing_else() -> None:
    """Given route keys that are not in the catalog (wrong method, concrete path, unknown path)
    When route_for is asked
    Then it answers None."""
    assert catalog.route_for("DELETE /app-api/customer/bill/history") is None
    assert catalog.route_for("GET /admin-api/revenue/customer/42") is None
    assert catalog.route_for("GET /nowhere") is None
    assert catalog.route_for("") is None


OUTBOUND_PEERS = {
    "IF-EXT-001": "SYS-009 / 银行渠道",
    "IF-EXT-004": "SYS-009",
    "IF-EXT-006": "SYS-008",
    "IF-EXT-008": "SYS-010",
}


def test_the_outbound_interfaces_are_the_seeds_four_with_the_system_they_call() -> None:
    """Given the seed's interfaces whose 调用方向 is SYS-002 → another system
    When the catalog's outbound interfaces are read
    Then they are exactly those four, each naming the system it calls."""
    outbound = {i.if_id: i.peer for i in catalog.CATALOG if i.direction is catalog.Direction.OUTBOUND}

    assert outbound == OUTBOUND_PEERS


def test_if_ext_004_and_008_are_built_by_their_clients_and_the_others_are_not_yet() -> None:
    """Given the outbound interfaces
    When their clients are read
    Then IF-EXT-004 (聚合支付下单) is implemented by waterrev.adapters.sys009, IF-EXT-006 (发票开具协同) by
    waterrev.adapters.sys008 and IF-EXT-008 (消息触达) by waterrev.adapters.sys010, each module holding its
    client class, and IF-EXT-001 has no client yet."""
    import importlib

    for if_id, module, client in (
        ("IF-EXT-004", "waterrev.adapters.sys009", "Sys009Client"),
        ("IF-EXT-006", "waterrev.adapters.sys008", "Sys008Client"),
        ("IF-EXT-008", "waterrev.adapters.sys010", "Sys010Client"),
    ):
        found = catalog.by_id(if_id)
        assert found.client == module and found.implemented
        assert hasattr(importlib.import_module(module), client)
    assert [i.if_id for i in catalog.CATALOG if i.if_id in OUTBOUND_PEERS and not i.implemented] == []


def test_an_outbound_interface_gets_no_function_and_no_route() -> None:
    """Given the outbound interfaces
    When CDK and the gateway take the built interfaces, and someone declares an outbound one with a function
    Then none of them is among the built ones (no Lambda, no route), and the declaration is refused."""
    assert not {i.if_id for i in catalog.built()} & OUTBOUND_PEERS.keys()
    assert all(not i.built and not i.routes for i in catalog.CATALOG if i.if_id in OUTBOUND_PEERS)
    with pytest.raises(ValueError, match="no function"):
        catalog.Interface(
            "IF-EXT-004", "聚合支付下单接口", "ext_pay_order", direction=catalog.Direction.OUTBOUND
        )
    with pytest.raises(ValueError, match="only an outbound"):
        catalog.Interface(
            "IF-EXT-005", "聚合支付结果回调接口", "ext_pay_notify", client="waterrev.adapters.sys009"
        )
