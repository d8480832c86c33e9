"""`/docs` in a real browser with no network but the stack: Swagger UI is served by the local stack
itself (these machines and a utility's closed network reach no CDN), and it lists every operation."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from waterrev import catalog

pytestmark = pytest.mark.e2e
COLLECTION_CREATE = ("POST", "/admin-api/revenue/collection/create")


def chromium() -> str:
    """Debian's Chromium; `make install` installs it. Its absence fails the test: a check skipped is a
    check that did not happen."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(
            "Chromium is not installed, so /docs cannot be checked in a browser. `make install` installs"
            " it (apt-get install -y chromium, as root); or install Debian's package chromium by hand."
        )
    return found


@pytest.fixture(scope="module")
def stack() -> Iterator[str]:
    from waterrev.local.gateway import make_server

    server = make_server("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def rendered(url: str, profile: Path) -> str:
    """The DOM after Chromium has loaded `url` and run its scripts, resolving no host but 127.0.0.1."""
    done = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_swagger_ui_lists_every_operation_in_a_browser_offline(stack: str, tmp_path: Path) -> None:
    """Given the local stack, and headless Chromium that can reach no host but the stack
    When it opens /docs and runs the page's scripts
    Then Swagger UI has rendered one operation block for every catalog route (method and path), e.g.
    POST /admin-api/revenue/collection/create - not the blank page a CDN-hosted Swagger UI gives."""
    dom = rendered(f"{stack}/docs", tmp_path / "profile")

    operations = re.findall(r'class="opblock-summary-method">(\w+)</span>.*?data-path="([^"]+)"', dom, re.S)
    expected = {(r.method, r.path) for i in catalog.built() for r in i.routes}
    assert COLLECTION_CREATE in expected
    assert dom.count('class="opblock opblock-') == len(expected), dom[-3000:]
    assert set(operations) == expected


def test_the_page_names_no_address_outside_the_stack(stack: str) -> None:
    """Given the local stack
    When /docs is fetched
    Then every script, style sheet and icon it names is a path of the stack itself, and no URL with a
    scheme appears in it."""
    page = httpx.get(f"{stack}/docs", timeout=30)

    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    named = re.findall(r'(?:src|href|url)\s*[=:]\s*"([^"]+)"', page.text)
    assert named and all(url.startswith("/") and not url.startswith("//") for url in named), named
    assert "://" not in page.text


@pytest.mark.parametrize(
    ("asset", "content_type"),
    [
        ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
        ("swagger-ui.css", "text/css; charset=utf-8"),
        ("favicon-32x32.png", "image/png"),
    ],
)
def test_swagger_ui_files_are_served_with_their_content_types(
    stack: str, asset: str, content_type: str
) -> None:
    """Given the local stack
    When a file of Swagger UI that /docs loads is fetched from /docs/assets/
    Then it is there, with its content type."""
    reply = httpx.get(f"{stack}/docs/assets/{asset}", timeout=30)

    assert reply.status_code == 200 and reply.headers["content-type"] == content_type
    assert len(reply.content) > 500


@pytest.mark.parametrize("name", ["nothing.js", "..%2F..%2Fpyproject.toml", "../gateway.py", "index.j2"])
def test_anything_else_under_docs_assets_is_a_404_envelope(stack: str, name: str) -> None:
    """Given the local stack
    When a file that is not one of Swagger UI's scripts, styles or images is asked for under /docs/assets/
    Then a 404 envelope: nothing beside them is served."""
    reply = httpx.get(f"{stack}/docs/assets/{name}", timeout=30)

    assert reply.status_code == 404
    assert reply.json()["code"] == 404 and reply.json()["data"] is None
