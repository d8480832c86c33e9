"""IF-REV-010 统计查询接口: statistics by theme + dimension + indicator over summary tables kept in the
same transaction as the business change (docs/STATISTICS.md), and their XLSX export."""
