"""The platform capability's edge models (IF-UP-*), one module per interface; a handler imports only its own."""

from __future__ import annotations
