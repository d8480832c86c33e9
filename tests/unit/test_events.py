"""Every sample event routes to a catalog route served by the function whose folder holds it."""

import json
from pathlib import Path

import pytest

from waterrev import catalog

EVENTS = sorted((Path(__file__).resolve().parents[2] / "events").glob("*/*.json"))


def test_every_built_function_has_sample_events() -> None:
    folders = {p.parent.name for p in EVENTS}
    assert folders == {i.function for i in catalog.built()}


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_event_matches_its_function(path: Path) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    found = catalog.route_for(event["routeKey"])
    assert found is not None, event["routeKey"]
    interface, _ = found
    assert interface.function == path.parent.name
    assert event["version"] == "2.0" and event["requestContext"]["routeKey"] == event["routeKey"]
