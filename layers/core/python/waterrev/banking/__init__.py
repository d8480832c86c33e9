"""Bank withholding (代扣) and collection (托收): agreements, transfer configuration, batches sent and
returned over SFTP, reconciliation and settlement (IF-REV-011, IF-EXT-001, IF-EXT-002; docs/BANK.md)."""
