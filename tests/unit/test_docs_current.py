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
