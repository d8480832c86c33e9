"""The catalog's map of the tables each interface reads and writes (catalog.TABLES): complete, and
each table under `writes` or under `reads`, never both. The tests' SQL tracer (tests/sqltrace.py)
checks it against the SQL each interface really sends; docs/SCHEMA.md shows it."""

from waterrev import catalog


def test_every_built_interface_declares_the_tables_it_reads_and_writes() -> None:
    assert set(catalog.TABLES) == {i.if_id for i in catalog.built()}
    for interface in catalog.built():
        assert interface.writes or interface.reads, interface.if_id
        assert set(interface.reads).isdisjoint(interface.writes), interface.if_id
        assert list(interface.reads) == sorted(set(interface.reads)), interface.if_id
        assert list(interface.writes) == sorted(set(interface.writes)), interface.if_id


def test_an_interface_not_built_touches_no_table() -> None:
    unbuilt = [i for i in catalog.CATALOG if not i.built]

    assert unbuilt and all(i.reads == () and i.writes == () for i in unbuilt)
