"""History queries and migration verification (历史查询与迁移校验接口口径): legacy objects loaded from
CSV with their original <-> new identifiers, searched read-only, and compared with the new system
(docs/MIGRATION.md)."""
