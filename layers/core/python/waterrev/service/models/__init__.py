"""The service desk's edge models (handlers only)."""
