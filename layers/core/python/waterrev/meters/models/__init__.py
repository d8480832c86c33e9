"""Meter assets' edge models (handlers only)."""
