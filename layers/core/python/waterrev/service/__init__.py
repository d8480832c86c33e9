"""The service desk: outlets (IF-CS-005) and online business handling (IF-CS-006)."""
