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
