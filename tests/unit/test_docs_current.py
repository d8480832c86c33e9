"""The generated docs match the catalog and the error table."""

from pathlib import Path

from waterrev.local import docs_gen

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_interface_map_is_current() -> None:
    """Given the catalog, the committed docs/INTERFACES.md is what the generator writes."""
    assert (DOCS / "INTERFACES.md").read_text(encoding="utf-8") == docs_gen.interfaces_md(), (
        "run: .venv/bin/python -m waterrev.local.docs_gen"
    )


def test_error_table_is_current() -> None:
    """Given errors.py, the committed docs/ERRORS.md is what the generator writes."""
    assert (DOCS / "ERRORS.md").read_text(encoding="utf-8") == docs_gen.errors_md()


def test_the_seed_documents_the_docs_name_are_in_the_repository() -> None:
    """Given the README, the docs and the tests
    When they name a seed document (a .txt under a seed folder)
    Then it is a file of this repository, not one beside a developer's clone (../shared/seeds/...)."""
    import re

    root = DOCS.parent
    texts = [root / "README.md", *DOCS.glob("*.md"), *(root / "tests").rglob("*.py")]
    named = {
        (text.relative_to(root), path)
        for text in texts
        for path in re.findall(r"[\w./-]*seeds?/[\w.-]+\.txt", text.read_text(encoding="utf-8"))
    }

    assert named
    outside = [(t, p) for t, p in named if p.startswith(("/", "..")) or not (root / p).is_file()]
    assert outside == []


def test_the_interface_map_shows_the_outbound_interfaces_with_direction_client_and_status() -> None:
    """Given the catalog
    When the interface map is generated
    Then its outbound rows give each one's direction, client module and status: IF-EXT-004 is built by the
    SYS-009 client, IF-EXT-006 by the SYS-008 client, IF-EXT-008 by the SYS-010 client, IF-EXT-001 by the
    bank SFTP client; none of them is in the table of routes."""
    text = docs_gen.interfaces_md()
    lines = text.splitlines()

    assert (
        "| IF-EXT-004 | 聚合支付下单接口 | built | SYS-002 → SYS-009 | `waterrev.adapters.sys009` |" in lines
    )
    assert (
        "| IF-EXT-001 | 银行代扣批次下发接口 | built | SYS-002 → SYS-009 / 银行渠道 | `waterrev.adapters.bank_sftp` |"
        in lines
    )
    assert (
        "| IF-EXT-006 | 发票开具协同接口 | built | SYS-002 → SYS-008 | `waterrev.adapters.sys008` |" in lines
    )
    assert "| IF-EXT-008 | 消息触达接口 | built | SYS-002 → SYS-010 | `waterrev.adapters.sys010` |" in lines
    assert [line for line in lines if line.startswith("| IF-EXT-004 ")] == [
        "| IF-EXT-004 | 聚合支付下单接口 | built | SYS-002 → SYS-009 | `waterrev.adapters.sys009` |"
    ]
