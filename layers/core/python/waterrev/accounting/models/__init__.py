"""The accounting capability's edge models, one module per interface (a handler imports only its own)."""
