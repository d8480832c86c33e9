"""History query and migration verification edge models (handlers only)."""
