"""Meter assets: the archive (IF-METER-001), work orders (IF-METER-002) and stock (IF-METER-003)."""
