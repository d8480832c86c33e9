import pytest


@pytest.fixture(autouse=True)
def _database(db: str) -> None:
    """Every integration test runs on the migrated database with the demo data set."""
