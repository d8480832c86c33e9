"""SYS-002 revenue business system: the shared core shipped as a Lambda layer."""
