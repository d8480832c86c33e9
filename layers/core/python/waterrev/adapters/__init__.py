"""Clients of outside systems (SYS-009 payment platform) and the signing rules they share."""
