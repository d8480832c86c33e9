"""Electronic invoices (REV-005 / CS-004): the application to SYS-008 and its post-processing
(IF-REV-008), the results by query and compensation (IF-REV-009) and by the platform's writeback
(IF-EXT-007), and the customer's own invoices (IF-CS-004)."""
