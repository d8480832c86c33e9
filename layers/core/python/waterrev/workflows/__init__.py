"""Step Functions workflows: definitions (ASL, shared by CDK and the local runner) and starters."""
