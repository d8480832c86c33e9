"""IF-REV-010 edge models (handlers only)."""
